// DurableObjectStorage inside workerd (run by vitest.workerd.config.ts: `npm run test:workerd`). The shared
// storage conformance suite drives the adapter through a real SQLite-backed Durable Object: each LogStorage call
// runs inside StorageTestObject (test/workerd/worker.ts), on an adapter over the object's own `ctx.storage`.
// Every reopen after a `close()` first aborts the object, so the next `open` is a new instance of the class on
// the same durable data (same object ID): a restart, not just a new adapter.
//
// *.spec.ts: the files vitest.workerd.config.ts runs inside workerd (its *.test.ts files run in Node).

import { abortAllDurableObjects, runInDurableObject } from 'cloudflare:test';
import { type DurableObjectNamespace, type DurableObjectStub, env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CHUNK_BYTES,
  type DurableObjectStorage,
  type DurableObjectStorageOptions,
} from '../../adapters/storage/durable-object/index.ts';
import type { Entry, Snapshot } from '../../src/raft/types.ts';
import type { LogStorage } from '../../src/storage.ts';
import { entry, runStorageConformance, type StorageHarness, snapshot } from '../conformance/storage.ts';
import type { StorageTestObject } from './worker.ts';

const namespace = env.STORAGE_TEST as DurableObjectNamespace<StorageTestObject>;
type Stub = DurableObjectStub<StorageTestObject>;

function stubFor(name: string): Stub {
  return namespace.get(namespace.idFromName(name));
}

/**
 * A LogStorage whose every call runs inside the Durable Object behind `stub`, on the adapter opened there.
 * (`runInDurableObject`, not RPC on the stub: the pool reports every rejected stub RPC as an unhandled
 * rejection even when the test handles it — cloudflare/workers-sdk#14736 — and this also hands the adapter the
 * caller's arrays as they are, so the copy tests check the adapter, not RPC serialization.)
 */
function inObject(stub: Stub): LogStorage {
  const run = <R>(call: (storage: DurableObjectStorage) => Promise<R>) =>
    runInDurableObject(stub, (instance: StorageTestObject) => call(instance.adapter()));
  return {
    load: () => run((s) => s.load()),
    save: (batch) => run((s) => s.save(batch)),
    saveSnapshot: (snap) => run((s) => s.saveSnapshot(snap)),
    compact: (index) => run((s) => s.compact(index)),
    close: () => run((s) => s.close()),
  };
}

/** Opens the adapter in the object `name`; returns it and the ID of the instance it runs in. */
async function openIn(name: string, options?: DurableObjectStorageOptions) {
  const stub = stubFor(name);
  const instanceId = await runInDurableObject(stub, (instance: StorageTestObject) => instance.open(options));
  return { stub, instanceId, storage: inObject(stub) };
}

/** Runs a query on the object's SQLite database. */
function query(stub: Stub, sql: string): Promise<Record<string, unknown>[]> {
  return runInDurableObject(stub, (_instance, state) => state.storage.sql.exec(sql).toArray());
}

/** Every reopen must land in a new instance of the class. */
const reopenedInSameInstance: string[] = [];
let reopens = 0;

function harness(options?: DurableObjectStorageOptions): () => Promise<StorageHarness> {
  return async () => {
    const name = crypto.randomUUID();
    let lastInstance: string | undefined;
    return {
      async open() {
        if (lastInstance !== undefined) {
          await abortAllDurableObjects();
          reopens++;
        }
        const { instanceId, storage } = await openIn(name, options);
        if (instanceId === lastInstance) reopenedInSameInstance.push(name);
        lastInstance = instanceId;
        return storage;
      },
      cleanup: async () => {},
    };
  };
}

runStorageConformance('durable-object (workerd, SQLite)', harness());
// The same scenarios with small chunks: 1 MiB entries span 11 rows, the last one partial.
runStorageConformance('durable-object (workerd, SQLite, 100 kB chunks)', harness({ chunkBytes: 100_000 }));

describe('durable-object storage in workerd', () => {
  it('runs in the Workers runtime', () => {
    const { navigator } = globalThis as { navigator?: { userAgent?: string } };
    expect(navigator?.userAgent).toBe('Cloudflare-Workers');
  });

  it('reopened every conformance restart in a new instance of the class', () => {
    expect(reopens).toBeGreaterThan(30);
    expect(reopenedInSameInstance).toEqual([]);
  });

  function pattern(length: number, seed: number): Uint8Array {
    const data = new Uint8Array(length);
    for (let i = 0; i < length; i++) data[i] = (i * 131 + seed * 17 + (i >>> 11)) & 0xff;
    return data;
  }

  function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  /** Largest BLOB stored in any of the adapter's tables (default prefix). */
  async function largestRow(stub: Stub): Promise<number> {
    const [row] = await query(
      stub,
      'SELECT MAX(n) AS n FROM (SELECT MAX(length(data)) AS n FROM raft_entries UNION ALL ' +
        'SELECT MAX(length(data)) FROM raft_entry_parts UNION ALL SELECT MAX(length(data)) FROM raft_snapshot_chunks)',
    );
    return Number(row.n ?? 0);
  }

  it('refuses a row over the limit itself, so the adapter chunks (local workerd: SQLITE_TOOBIG)', async () => {
    const stub = stubFor(crypto.randomUUID());
    const error = await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec('CREATE TABLE big (k INTEGER PRIMARY KEY, v BLOB)');
      try {
        state.storage.sql.exec('INSERT INTO big VALUES (1, ?)', new ArrayBuffer(3_000_000));
        return 'stored';
      } catch (e) {
        return String(e);
      }
    });
    expect(error).toMatch(/SQLITE_TOOBIG|too big/);
  });

  it('stores values at and around the row limit byte-exact, no row above the chunk size', async () => {
    const name = crypto.randomUUID();
    const sizes = [
      DEFAULT_CHUNK_BYTES, // exactly one chunk: one row
      DEFAULT_CHUNK_BYTES + 1, // one byte over: a second row with one byte
      1_999_000, // just under the platform's 2 MB row
      2_000_000, // the platform's row limit itself
      5 * 1024 * 1024, // far over it
    ];
    const written: Entry[] = sizes.map((size, i) => entry(i + 1, 1, pattern(size, i)));
    const first = await openIn(name);
    await first.storage.load();
    for (const e of written) await first.storage.save({ entries: [e] });
    await first.storage.close();
    await abortAllDurableObjects();

    const second = await openIn(name);
    expect(second.instanceId).not.toBe(first.instanceId);
    const loaded = await second.storage.load();
    expect(loaded.entries.map((e) => e.data.length)).toEqual(sizes);
    expect(loaded.entries.map((e, i) => sameBytes(e.data, written[i].data))).toEqual(sizes.map(() => true));
    const rows = await query(second.stub, 'SELECT idx, parts FROM raft_entries ORDER BY idx');
    expect(rows.map((r) => r.parts)).toEqual([0, 1, 1, 1, 3]);
    expect(await largestRow(second.stub)).toBe(DEFAULT_CHUNK_BYTES);

    // Overwriting the suffix from entry 3 drops the chunk rows of the entries it replaces.
    await second.storage.save({ entries: [entry(3, 2, 'small')] });
    const [{ n }] = await query(second.stub, 'SELECT COUNT(*) AS n FROM raft_entry_parts WHERE idx >= 3');
    expect(n).toBe(0);
    await second.storage.close();
  });

  it('stores a 5 MB snapshot in chunk rows, and a smaller one replaces all of them', async () => {
    const name = crypto.randomUUID();
    const big: Snapshot = { metadata: snapshot(100, 4).metadata, data: pattern(5_000_000, 9) };
    const first = await openIn(name);
    await first.storage.load();
    await first.storage.save({
      snapshot: big,
      entries: [entry(101, 4, 'after')],
      hardState: { term: 4, vote: 3n, commit: 100 },
    });
    expect(await largestRow(first.stub)).toBe(DEFAULT_CHUNK_BYTES);
    const [{ chunks }] = await query(first.stub, 'SELECT COUNT(*) AS chunks FROM raft_snapshot_chunks');
    expect(chunks).toBe(Math.ceil(5_000_000 / DEFAULT_CHUNK_BYTES));
    await first.storage.close();
    await abortAllDurableObjects();

    const second = await openIn(name);
    const loaded = await second.storage.load();
    expect(loaded.snapshot?.metadata).toEqual(big.metadata);
    expect(loaded.snapshot && sameBytes(loaded.snapshot.data, big.data)).toBe(true);
    expect(loaded.entries.map((e) => e.index)).toEqual([101]);
    expect(loaded.hardState).toEqual({ term: 4, vote: 3n, commit: 100 });

    await second.storage.saveSnapshot(snapshot(101, 4, 'small'));
    const [{ left }] = await query(second.stub, 'SELECT COUNT(*) AS left FROM raft_snapshot_chunks');
    expect(left).toBe(1);
    await second.storage.close();
    await abortAllDurableObjects();
    const third = await openIn(name);
    const last = await third.storage.load();
    expect(new TextDecoder().decode(last.snapshot?.data)).toBe('small');
    expect(last.entries).toEqual([]);
    await third.storage.close();
  });

  it('keeps its state when the object is evicted and a new instance starts', async () => {
    const name = crypto.randomUUID();
    const first = await openIn(name);
    await first.storage.load();
    await first.storage.save({
      entries: [entry(1, 1), entry(2, 1), entry(3, 2)],
      hardState: { term: 2, vote: 0xffff_ffff_ffff_ffffn, commit: 2 },
    });
    await first.storage.saveSnapshot(snapshot(2, 1));
    // No close: the instance just goes away, as an idle or crashed object does.
    await abortAllDurableObjects();
    const second = await openIn(name);
    expect(second.instanceId).not.toBe(first.instanceId);
    const loaded = await second.storage.load();
    expect(loaded.hardState).toEqual({ term: 2, vote: 0xffff_ffff_ffff_ffffn, commit: 2 });
    expect(loaded.snapshot?.metadata).toEqual(snapshot(2, 1).metadata);
    expect(loaded.entries.map((e) => [e.index, e.term])).toEqual([[3, 2]]);
    await second.storage.close();
  });

  it('rolls a refused batch back entirely: no snapshot, entries or hard state from it', async () => {
    const name = crypto.randomUUID();
    const { storage } = await openIn(name);
    await storage.load();
    await storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 1n, commit: 1 } });
    // The snapshot is written first, then the entries are found to leave a gap: everything must roll back.
    await expect(
      storage.save({
        snapshot: snapshot(5, 2),
        entries: [entry(7, 2)],
        hardState: { term: 2, vote: 2n, commit: 5 },
      }),
    ).rejects.toThrow(/gap/);
    await expect(storage.save({ entries: [entry(3, 1), entry(5, 1)] })).rejects.toThrow(/contiguous/);
    await storage.close();
    await abortAllDurableObjects();
    const reopened = await openIn(name);
    const loaded = await reopened.storage.load();
    expect(loaded.snapshot).toBeUndefined();
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(loaded.hardState).toEqual({ term: 1, vote: 1n, commit: 1 });
    await reopened.storage.close();
  });

  it('keeps logs with different table prefixes apart in one object', async () => {
    const name = crypto.randomUUID();
    const a = await openIn(name, { tablePrefix: 'group_a_' });
    await a.storage.load();
    await a.storage.save({ entries: [entry(1, 1, 'a')] });
    await a.storage.close();
    const b = await openIn(name, { tablePrefix: 'group_b_' });
    expect((await b.storage.load()).entries).toEqual([]);
    await b.storage.close();
    const again = await openIn(name, { tablePrefix: 'group_a_' });
    const loaded = await again.storage.load();
    expect(loaded.entries.map((e) => new TextDecoder().decode(e.data))).toEqual(['a']);
    await again.storage.close();
  });

  it('refuses to open tables written in another schema version, and use after close', async () => {
    const name = crypto.randomUUID();
    const first = await openIn(name);
    await first.storage.close();
    await expect(first.storage.load()).rejects.toThrow(/closed|no storage/);
    await query(first.stub, "UPDATE raft_meta SET v = '2' WHERE k = 'schema'");
    await expect(openIn(name)).rejects.toThrow(/schema 2/);
  });
});
