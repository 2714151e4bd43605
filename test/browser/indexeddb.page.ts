/// <reference lib="dom" />
// The page that test/browser/indexeddb.browser.test.ts loads in Chromium: the shared storage conformance suite
// (with 'vitest' aliased to ./vitest-shim.ts) against IndexedDbStorage on the page's real IndexedDB, plus the
// write and read halves of the reload and restart tests. The Node side calls what it finds on `window.edgecd`.

import { IndexedDbStorage } from '../../adapters/storage/indexeddb/index.ts';
import type { Entry, HardState } from '../../src/raft/types.ts';
import { entries, runStorageConformance, snapshot } from '../conformance/storage.ts';
import { registeredTests, runTest, type TestResult } from './vitest-shim.ts';

let harnesses = 0;

runStorageConformance('indexeddb (Chromium)', async () => {
  const name = `edgecd-conformance-${++harnesses}-${Date.now()}`;
  return {
    open: async () => IndexedDbStorage.open(name),
    cleanup: async () => IndexedDbStorage.destroy(name),
  };
});

/** What the reload test writes and then expects back, in a form that crosses `page.evaluate` (no bigint). */
export interface Persisted {
  readonly hardState: { term: number; vote: string; commit: number };
  readonly snapshot: { index: number; term: number; voters: string[]; data: number[] } | undefined;
  readonly entries: { index: number; term: number; type: string; data: number[] }[];
}

async function writeFixture(dbName: string): Promise<void> {
  const storage = await IndexedDbStorage.open(dbName);
  await storage.load();
  const hardState: HardState = { term: 3, vote: 0xffff_ffff_ffff_fffdn, commit: 6 };
  await storage.save({ entries: entries(1, 8, 2), hardState });
  await storage.saveSnapshot(snapshot(4, 2));
  await storage.compact(4);
  // A conflicting suffix from a newer term.
  await storage.save({ entries: entries(7, 9, 3) });
  // Not closed: the page goes away with the connection open, as a reloaded or killed tab would.
}

async function readFixture(dbName: string): Promise<Persisted> {
  const storage = await IndexedDbStorage.open(dbName);
  try {
    const { hardState, snapshot: snap, entries: list } = await storage.load();
    const entry = (e: Entry) => ({ index: e.index, term: e.term, type: e.type, data: Array.from(e.data) });
    return {
      hardState: { term: hardState.term, vote: hardState.vote.toString(), commit: hardState.commit },
      snapshot: snap && {
        index: snap.metadata.index,
        term: snap.metadata.term,
        voters: snap.metadata.confState.voters.map(String),
        data: Array.from(snap.data),
      },
      entries: list.map(entry),
    };
  } finally {
    await storage.close();
  }
}

/** The durability that Chromium reports for each transaction a save, saveSnapshot and compact open. */
async function writeDurabilities(dbName: string): Promise<string[]> {
  const seen: string[] = [];
  const original = IDBDatabase.prototype.transaction;
  IDBDatabase.prototype.transaction = function (this: IDBDatabase, ...args: Parameters<typeof original>) {
    const tx = original.apply(this, args);
    seen.push(`${tx.mode}:${tx.durability}`);
    return tx;
  };
  try {
    const storage = await IndexedDbStorage.open(dbName);
    await storage.load();
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1n, commit: 1 } });
    await storage.saveSnapshot(snapshot(2, 1));
    await storage.compact(2);
    await storage.close();
  } finally {
    IDBDatabase.prototype.transaction = original;
    await IndexedDbStorage.destroy(dbName);
  }
  return seen;
}

/** Writes a snapshot of `size` bytes (several chunks), reopens, and compares what `load` returns byte by byte. */
async function largeSnapshotRoundTrip(dbName: string, size: number): Promise<string> {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 131 + (i >> 16)) & 0xff;
  try {
    const storage = await IndexedDbStorage.open(dbName);
    await storage.load();
    await storage.save({
      snapshot: { metadata: snapshot(9, 2).metadata, data },
      entries: entries(10, 10, 2),
    });
    await storage.close();
    const reopened = await IndexedDbStorage.open(dbName);
    const loaded = await reopened.load();
    await reopened.close();
    const got = loaded.snapshot?.data;
    if (!got || got.length !== size) return `length ${got?.length} instead of ${size}`;
    for (let i = 0; i < size; i++) if (got[i] !== data[i]) return `byte ${i} differs`;
    return 'ok';
  } finally {
    await IndexedDbStorage.destroy(dbName);
  }
}

const api = {
  names: (): string[] => registeredTests().map((t) => t.name),
  run: (name: string, timeoutMs: number): Promise<TestResult> => runTest(name, timeoutMs),
  writeFixture,
  readFixture,
  writeDurabilities,
  largeSnapshotRoundTrip,
  destroy: (dbName: string): Promise<void> => IndexedDbStorage.destroy(dbName),
};

export type PageApi = typeof api;

(globalThis as unknown as { edgecd: PageApi }).edgecd = api;
