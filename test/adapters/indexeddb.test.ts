/// <reference lib="dom" />
// The IndexedDB adapter under fake-indexeddb in Node: the shared conformance suite, plus what is particular to
// IndexedDB (strict durability, one transaction per save, chunked snapshots, corruption found on load).
// test/browser/indexeddb.browser.test.ts runs the same suite in real Chromium.

import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { type IDBPDatabase, wrap } from 'idb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexedDbStorage, SNAPSHOT_CHUNK_BYTES } from '../../adapters/storage/indexeddb/index.ts';
import { entries, runStorageConformance, snapshot } from '../conformance/storage.ts';

runStorageConformance('indexeddb (fake-indexeddb)', async () => {
  // A fresh factory per test: no state leaks between tests.
  const indexedDB = new IDBFactory();
  const name = 'edgecd-conformance';
  return {
    open: async () => IndexedDbStorage.open(name, { indexedDB }),
    cleanup: async () => IndexedDbStorage.destroy(name, { indexedDB }),
  };
});

describe('IndexedDbStorage', () => {
  const name = 'edgecd-idb';
  let indexedDB: IDBFactory;
  const opened: IndexedDbStorage[] = [];

  async function start(): Promise<IndexedDbStorage> {
    const storage = await IndexedDbStorage.open(name, { indexedDB });
    opened.push(storage);
    await storage.load();
    return storage;
  }

  afterEach(async () => {
    vi.restoreAllMocks();
    for (const s of opened.splice(0)) await s.close().catch(() => {});
    await IndexedDbStorage.destroy(name, { indexedDB });
  });

  it('writes each batch in one strict-durability transaction', async () => {
    indexedDB = new IDBFactory();
    const storage = await start();
    const transaction = vi.spyOn(IDBDatabase.prototype, 'transaction');
    await storage.save({
      snapshot: snapshot(5, 1),
      entries: entries(6, 8, 1),
      hardState: { term: 1, vote: 1n, commit: 6 },
    });
    await storage.saveSnapshot(snapshot(7, 1));
    await storage.compact(7);
    expect(transaction).toHaveBeenCalledTimes(3);
    for (const [, mode, options] of transaction.mock.calls) {
      expect(mode).toBe('readwrite');
      expect(options).toEqual({ durability: 'strict' });
    }
  });

  it('splits large snapshots into chunks and drops the old chunks on replace', async () => {
    indexedDB = new IDBFactory();
    const data = new Uint8Array(2.5 * SNAPSHOT_CHUNK_BYTES).map((_, i) => (i * 13) & 0xff);
    const storage = await start();
    await storage.save({ snapshot: { metadata: snapshot(4, 1).metadata, data }, entries: [] });
    expect(await countRecords('snapshotChunks')).toBe(3);
    await storage.close();
    const reopened = await IndexedDbStorage.open(name, { indexedDB });
    opened.push(reopened);
    const loaded = await reopened.load();
    // Compared as bytes: toEqual walks 2.5 M elements slowly.
    expect(Buffer.from(loaded.snapshot?.data ?? []).equals(Buffer.from(data))).toBe(true);
    await reopened.saveSnapshot(snapshot(6, 1, 'small'));
    expect(await countRecords('snapshotChunks')).toBe(1);
  });

  it('stores only the bytes of a view, not its whole buffer', async () => {
    indexedDB = new IDBFactory();
    const storage = await start();
    const buffer = new Uint8Array(4096).fill(1);
    await storage.save({ entries: [{ index: 1, term: 1, type: 'normal', data: buffer.subarray(10, 13) }] });
    await storage.saveSnapshot({ metadata: snapshot(1, 1).metadata, data: buffer.subarray(0, 2) });
    const db = await raw();
    const stored = await db.get('entries', 1);
    const chunk = await db.get('snapshotChunks', 0);
    db.close();
    expect(stored.data.buffer.byteLength).toBe(3);
    expect(chunk.buffer.byteLength).toBe(2);
  });

  it('refuses to load a log with a hole in it', async () => {
    indexedDB = new IDBFactory();
    const storage = await start();
    await storage.save({ entries: entries(1, 5, 1) });
    await storage.close();
    const db = await raw();
    await db.delete('entries', 3);
    db.close();
    await expect((await IndexedDbStorage.open(name, { indexedDB })).load()).rejects.toThrow(
      /gap in the stored log: expected entry 3, found 4/,
    );
  });

  it('refuses to load a snapshot with missing chunks', async () => {
    indexedDB = new IDBFactory();
    const storage = await start();
    const data = new Uint8Array(SNAPSHOT_CHUNK_BYTES + 1);
    await storage.save({ snapshot: { metadata: snapshot(3, 1).metadata, data }, entries: [] });
    await storage.close();
    const db = await raw();
    await db.delete('snapshotChunks', 1);
    db.close();
    await expect((await IndexedDbStorage.open(name, { indexedDB })).load()).rejects.toThrow(
      /snapshot 3 data is incomplete: 1\/2 chunks/,
    );
  });

  it('fails clearly after close, and steps aside when the database is deleted', async () => {
    indexedDB = new IDBFactory();
    const storage = await start();
    await storage.close();
    await expect(storage.save({ entries: entries(1, 1, 1) })).rejects.toThrow(/is closed/);
    const other = await start();
    await IndexedDbStorage.destroy(name, { indexedDB });
    await expect(other.load()).rejects.toThrow(/is closed/);
  });

  /** A plain `idb` connection to the same database, to look at (or damage) what the adapter stored. */
  async function raw(): Promise<IDBPDatabase> {
    return (await wrap(indexedDB.open(name))) as unknown as IDBPDatabase;
  }

  async function countRecords(store: 'snapshotChunks' | 'entries'): Promise<number> {
    const db = await raw();
    try {
      return await db.count(store);
    } finally {
      db.close();
    }
  }
});
