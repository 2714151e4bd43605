// The storage conformance suite: every LogStorage adapter runs it (memory, file WAL, IndexedDB, Durable
// Objects). Each test writes through one opened storage, closes it, reopens the same durable data and checks
// what `load` recovers, so a passing adapter is durable across restarts, not only consistent in memory.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry, HardState, Snapshot } from '../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import {
  type LoadedState,
  type LoadOptions,
  type LogStorage,
  loadedSnapshotData,
} from '../../src/storage.ts';

export interface StorageHarness {
  /** Opens the storage; after a `close()`, opens the same durable data again. */
  open(): Promise<LogStorage>;
  cleanup(): Promise<void>;
}

const MiB = 1024 * 1024;

export function entry(index: number, term: number, data: Uint8Array | string = `e${index}`): Entry {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return { index, term, type: 'normal', data: bytes };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function snapshot(index: number, term: number, data = `snap@${index}`): Snapshot {
  return {
    metadata: { index, term, confState: { voters: [1n, 2n, 0xffff_ffff_ffff_fffen], learners: [7n] } },
    data: new TextEncoder().encode(data),
  };
}

/** Plain Uint8Arrays throughout, so a Buffer (or any subclass) from an adapter compares by content only. */
function plainEntries(list: readonly Entry[]): Entry[] {
  return list.map((e) => ({ term: e.term, index: e.index, type: e.type, data: new Uint8Array(e.data) }));
}

function plainSnapshot(s: Snapshot | undefined): Snapshot | undefined {
  if (!s) return undefined;
  const { index, term, confState } = s.metadata;
  return {
    metadata: {
      index,
      term,
      confState: { voters: [...confState.voters], learners: [...confState.learners] },
    },
    data: new Uint8Array(s.data),
  };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function indexes(list: readonly Entry[]): number[] {
  return list.map((e) => e.index);
}

export function runStorageConformance(name: string, makeHarness: () => Promise<StorageHarness>): void {
  describe(`storage conformance: ${name}`, () => {
    let harness: StorageHarness;
    let open: LogStorage[];

    beforeEach(async () => {
      harness = await makeHarness();
      open = [];
    });

    afterEach(async () => {
      for (const s of open) await s.close().catch(() => {});
      await harness.cleanup();
    });

    /** Opens the storage and does the one `load` the contract requires before writing. */
    async function start(options?: LoadOptions): Promise<{ storage: LogStorage; loaded: LoadedState }> {
      const storage = await harness.open();
      open.push(storage);
      const loaded = await storage.load(options);
      return { storage, loaded };
    }

    /** Closes `storage`, reopens the durable data and returns what it recovers. */
    async function restart(
      storage: LogStorage,
      options?: LoadOptions,
    ): Promise<{ storage: LogStorage; loaded: LoadedState }> {
      await storage.close();
      open.splice(open.indexOf(storage), 1);
      return start(options);
    }

    it('loads an empty state from fresh storage, before and after a restart', async () => {
      const { storage, loaded } = await start();
      expect(loaded.hardState).toEqual(EMPTY_HARD_STATE);
      expect(loaded.snapshot).toBeUndefined();
      expect(loaded.entries).toEqual([]);
      const again = await restart(storage);
      expect(again.loaded.hardState).toEqual(EMPTY_HARD_STATE);
      expect(again.loaded.snapshot).toBeUndefined();
      expect(again.loaded.entries).toEqual([]);
    });

    it('recovers appended entries after a restart', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 3, 1) });
      await storage.save({ entries: entries(4, 6, 2) });
      const { loaded } = await restart(storage);
      expect(plainEntries(loaded.entries)).toEqual([...entries(1, 3, 1), ...entries(4, 6, 2)]);
      expect(loaded.snapshot).toBeUndefined();
    });

    it('round-trips the hard state, including a uint64 vote', async () => {
      const hardState: HardState = { term: 42, vote: 0xffff_ffff_ffff_fffdn, commit: 3 };
      const { storage } = await start();
      await storage.save({ entries: entries(1, 3, 42), hardState });
      let { storage: reopened, loaded } = await restart(storage);
      expect(loaded.hardState).toEqual(hardState);
      expect(typeof loaded.hardState.vote).toBe('bigint');
      const next: HardState = { term: 43, vote: 2n, commit: 3 };
      await reopened.save({ entries: [], hardState: next });
      ({ loaded } = await restart(reopened));
      expect(loaded.hardState).toEqual(next);
    });

    it('overwrites a conflicting suffix', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 5, 1) });
      await storage.save({ entries: [entry(3, 2, 'new3'), entry(4, 2, 'new4')] });
      const { storage: reopened, loaded } = await restart(storage);
      expect(plainEntries(loaded.entries)).toEqual([
        ...entries(1, 2, 1),
        entry(3, 2, 'new3'),
        entry(4, 2, 'new4'),
      ]);
      // Overwriting from the very first index replaces everything.
      await reopened.save({ entries: [entry(1, 3, 'only')] });
      const last = await restart(reopened);
      expect(plainEntries(last.loaded.entries)).toEqual([entry(1, 3, 'only')]);
    });

    it('refuses an append that would leave a gap, keeping what was stored', async () => {
      const { storage } = await start();
      await expect(storage.save({ entries: [entry(2, 1)] })).rejects.toThrow();
      await storage.save({ entries: entries(1, 3, 1) });
      await expect(storage.save({ entries: entries(5, 6, 1) })).rejects.toThrow();
      const { storage: reopened, loaded } = await restart(storage);
      expect(plainEntries(loaded.entries)).toEqual(entries(1, 3, 1));
      // After a received snapshot at 10, the next entry must be 11.
      await reopened.save({ snapshot: snapshot(10, 2), entries: [] });
      await expect(reopened.save({ entries: [entry(12, 2)] })).rejects.toThrow();
      await reopened.save({ entries: [entry(11, 2)] });
      const last = await restart(reopened);
      expect(indexes(last.loaded.entries)).toEqual([11]);
    });

    it('lets a received snapshot replace the whole log', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 8, 1) });
      // The snapshot is below the last stored index: the entries after it must still go.
      await storage.save({ snapshot: snapshot(5, 2), entries: [entry(6, 2, 'after-snap')] });
      const { storage: reopened, loaded } = await restart(storage);
      expect(plainSnapshot(loaded.snapshot)).toEqual(snapshot(5, 2));
      expect(plainEntries(loaded.entries)).toEqual([entry(6, 2, 'after-snap')]);
      await reopened.save({
        snapshot: snapshot(20, 3),
        entries: [],
        hardState: { term: 3, vote: 1n, commit: 20 },
      });
      const last = await restart(reopened);
      expect(plainSnapshot(last.loaded.snapshot)).toEqual(snapshot(20, 3));
      expect(last.loaded.entries).toEqual([]);
      expect(last.loaded.hardState).toEqual({ term: 3, vote: 1n, commit: 20 });
    });

    it('keeps the entries after a locally made snapshot', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 10, 1) });
      await storage.saveSnapshot(snapshot(5, 1));
      const { storage: reopened, loaded } = await restart(storage);
      expect(plainSnapshot(loaded.snapshot)).toEqual(snapshot(5, 1));
      expect(plainEntries(loaded.entries)).toEqual(entries(6, 10, 1));
      await reopened.save({ entries: [entry(11, 1)] });
      const last = await restart(reopened);
      expect(indexes(last.loaded.entries)).toEqual([6, 7, 8, 9, 10, 11]);
    });

    it('compacts entries covered by a snapshot and keeps appending after', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 10, 1) });
      await storage.saveSnapshot(snapshot(5, 1));
      await storage.compact(3);
      await storage.compact(5);
      const { storage: reopened, loaded } = await restart(storage);
      expect(plainEntries(loaded.entries)).toEqual(entries(6, 10, 1));
      // The first kept entry can still be overwritten, and the log grows on.
      await reopened.save({ entries: [entry(6, 2, 'x'), entry(7, 2, 'y')] });
      await reopened.saveSnapshot(snapshot(7, 2));
      await reopened.compact(7);
      await reopened.save({ entries: [entry(8, 2)] });
      const last = await restart(reopened);
      expect(plainSnapshot(last.loaded.snapshot)).toEqual(snapshot(7, 2));
      expect(plainEntries(last.loaded.entries)).toEqual([entry(8, 2)]);
    });

    it('recovers the newest snapshot', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 12, 1) });
      await storage.saveSnapshot(snapshot(3, 1, 'old'));
      await storage.saveSnapshot(snapshot(8, 1, 'new'));
      const { storage: reopened, loaded } = await restart(storage);
      expect(plainSnapshot(loaded.snapshot)).toEqual(snapshot(8, 1, 'new'));
      expect(indexes(loaded.entries)).toEqual([9, 10, 11, 12]);
      await reopened.save({ snapshot: snapshot(30, 2, 'received'), entries: [] });
      await reopened.saveSnapshot(snapshot(30, 2, 'received'));
      const last = await restart(reopened);
      expect(plainSnapshot(last.loaded.snapshot)).toEqual(snapshot(30, 2, 'received'));
    });

    it('hands the newest snapshot out piece by piece when asked, or whole (load({ snapshotReader }))', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 12, 1) });
      const data = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 37) & 0xff);
      await storage.saveSnapshot({ metadata: snapshot(8, 1).metadata, data });
      const { storage: reopened, loaded } = await restart(storage, { snapshotReader: true });
      const metadata = plainSnapshot({
        metadata: loaded.snapshot!.metadata,
        data: new Uint8Array(0),
      })!.metadata;
      expect(metadata).toEqual(snapshot(8, 1).metadata);
      expect(bytesEqual(loadedSnapshotData(loaded)!, data)).toBe(true);
      expect(indexes(loaded.entries)).toEqual([9, 10, 11, 12]);
      await reopened.save({ entries: [entry(13, 1)] });
      const last = await restart(reopened);
      expect(bytesEqual(last.loaded.snapshot!.data, data)).toBe(true);
      expect(indexes(last.loaded.entries)).toEqual([9, 10, 11, 12, 13]);
    });

    it('keeps a snapshot saved piece by piece (saveSnapshotStream, where the storage has it)', async () => {
      const { storage } = await start();
      if (!storage.saveSnapshotStream) return; // optional in the contract
      await storage.save({ entries: entries(1, 10, 1) });
      const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) & 0xff);
      let at = 0;
      await storage.saveSnapshotStream({
        metadata: snapshot(6, 1).metadata,
        size: data.length,
        fill(out) {
          const n = Math.min(out.length, 997, data.length - at); // pieces unlike any buffer size
          out.set(data.subarray(at, at + n), 0);
          at += n;
          return n;
        },
      });
      await storage.compact(6);
      const { loaded } = await restart(storage);
      expect(plainSnapshot(loaded.snapshot)).toEqual({ metadata: snapshot(6, 1).metadata, data });
      expect(indexes(loaded.entries)).toEqual([7, 8, 9, 10]);
    });

    it('stores large entries (1 MiB each) byte-exact', async () => {
      const big = [1, 2, 3].map((index) => {
        const data = new Uint8Array(MiB);
        for (let i = 0; i < data.length; i++) data[i] = (i * 31 + index * 7) & 0xff;
        return entry(index, 1, data);
      });
      const { storage } = await start();
      await storage.save({ entries: big, hardState: { term: 1, vote: 1n, commit: 3 } });
      const { loaded } = await restart(storage);
      expect(indexes(loaded.entries)).toEqual([1, 2, 3]);
      loaded.entries.forEach((e, i) => {
        expect(e.data.length).toBe(MiB);
        expect(bytesEqual(e.data, big[i].data)).toBe(true);
      });
    });

    it('stores many entries (10k) in one batch', async () => {
      const many = entries(1, 10_000, 7);
      const { storage } = await start();
      await storage.save({ entries: many });
      const { loaded } = await restart(storage);
      expect(loaded.entries.length).toBe(10_000);
      expect(plainEntries(loaded.entries)).toEqual(many);
    });

    it('keeps entry and snapshot bytes exact, including empty data', async () => {
      const all = new Uint8Array(256).map((_, i) => i);
      const written: Entry[] = [
        entry(1, 1, all),
        entry(2, 1, new Uint8Array(0)),
        { index: 3, term: 1, type: 'confChange', data: Uint8Array.of(0, 255, 0) },
        entry(4, 1, new Uint8Array(0)),
      ];
      const { storage } = await start();
      await storage.save({ entries: written });
      const { storage: reopened, loaded } = await restart(storage);
      expect(loaded.entries.map((e) => e.type)).toEqual(['normal', 'normal', 'confChange', 'normal']);
      for (const e of loaded.entries) expect(e.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(loaded.entries[0].data)).toEqual(Array.from({ length: 256 }, (_, i) => i));
      expect(loaded.entries[1].data.length).toBe(0);
      expect(Array.from(loaded.entries[2].data)).toEqual([0, 255, 0]);
      expect(loaded.entries[3].data.length).toBe(0);
      await reopened.saveSnapshot({ metadata: snapshot(2, 1).metadata, data: Uint8Array.of(9, 0, 9) });
      const last = await restart(reopened);
      expect(last.loaded.snapshot?.data).toBeInstanceOf(Uint8Array);
      expect(Array.from(last.loaded.snapshot?.data ?? [])).toEqual([9, 0, 9]);
      expect(plainEntries(last.loaded.entries)).toEqual(plainEntries(written.slice(2)));
    });

    it('stores copies: the caller may reuse its arrays after a save resolves', async () => {
      const data = Uint8Array.of(1, 2, 3);
      const snapData = Uint8Array.of(4, 5, 6);
      const batch: Entry[] = [entry(1, 1, data), entry(2, 1, data)];
      const { storage } = await start();
      await storage.save({ entries: batch });
      await storage.saveSnapshot({ metadata: snapshot(1, 1).metadata, data: snapData });
      batch.length = 0;
      batch.push(entry(9, 9));
      data.fill(0);
      snapData.fill(0);
      const { loaded } = await restart(storage);
      expect(plainEntries(loaded.entries)).toEqual([entry(2, 1, Uint8Array.of(1, 2, 3))]);
      expect(Array.from(loaded.snapshot?.data ?? [])).toEqual([4, 5, 6]);
    });

    it('saves a batch with only a hard state, leaving the log alone', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 4, 1), hardState: { term: 1, vote: 2n, commit: 1 } });
      await storage.save({ entries: [], hardState: { term: 5, vote: 0n, commit: 4 } });
      const { loaded } = await restart(storage);
      expect(loaded.hardState).toEqual({ term: 5, vote: 0n, commit: 4 });
      expect(plainEntries(loaded.entries)).toEqual(entries(1, 4, 1));
    });

    it('does not let the caller corrupt storage through what load returned', async () => {
      const { storage } = await start();
      await storage.save({ entries: entries(1, 2, 1) });
      const first = await restart(storage);
      first.loaded.entries[0].data.fill(0);
      const { loaded } = await restart(first.storage);
      expect(plainEntries(loaded.entries)).toEqual(entries(1, 2, 1));
    });
  });
}
