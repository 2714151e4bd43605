/// <reference lib="dom" />
// IndexedDB LogStorage for browsers (src/storage.ts has the contract). A thin layer over `idb`: every write is
// one IndexedDB transaction, opened with `durability: 'strict'` (Chromium defaults to 'relaxed', which may lose
// a committed transaction on power loss), and resolves on the transaction's `complete` event. IndexedDB
// transactions are atomic, so a crash leaves a `save` entirely applied or not at all: never a torn tail.
//
// Object stores:
//   entries         key: entry index (number)   value: the Entry as is (Uint8Array data, structured clone)
//   meta            key: 'hardState'            value: HardState (the vote is a bigint: structured clone keeps it)
//                   key: 'snapshot'             value: { metadata, size, chunks }
//   snapshotChunks  key: chunk number 0..n-1    value: Uint8Array of up to SNAPSHOT_CHUNK_BYTES
//
// Snapshot data is split into 1 MiB records. IndexedDB sets no value size limit of its own, but browsers do:
// Chromium moves values above ~64 KiB into blob files and older versions refused single values over ~128 MiB
// (its IPC message cap); Safari has been unreliable with very large values. Small records stay in every
// browser's well-trodden path, and reading them back costs one copy into the whole array, as one record would.

import { type DBSchema, type IDBPDatabase, type IDBPTransaction, wrap } from 'idb';
import type { Entry, HardState, Snapshot, SnapshotMetadata } from '../../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../../src/raft/types.ts';
import type { LoadedState, LogStorage, PersistBatch } from '../../../src/storage.ts';

/** Schema version: bump it (and migrate in `upgrade`) when the stores change. */
const VERSION = 1;

export const SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

interface SnapshotRecord {
  readonly metadata: SnapshotMetadata;
  /** Total length of the snapshot data. */
  readonly size: number;
  /** Number of records in `snapshotChunks`. */
  readonly chunks: number;
}

interface StorageSchema extends DBSchema {
  entries: { key: number; value: Entry };
  meta: { key: 'hardState' | 'snapshot'; value: HardState | SnapshotRecord };
  snapshotChunks: { key: number; value: Uint8Array };
}

type StoreName = 'entries' | 'meta' | 'snapshotChunks';
type WriteTransaction = IDBPTransaction<StorageSchema, StoreName[], 'readwrite'>;

const ALL_STORES: StoreName[] = ['entries', 'meta', 'snapshotChunks'];

export interface IndexedDbStorageOptions {
  /** The IndexedDB factory to use; defaults to the global `indexedDB` (tests inject fake-indexeddb's). */
  readonly indexedDB?: IDBFactory;
}

export class IndexedDbStorage implements LogStorage {
  readonly name: string;
  private readonly factory: IDBFactory;
  private db: Promise<IDBPDatabase<StorageSchema>> | undefined;
  private closed = false;

  /** Opens lazily: the database is created or opened on the first call (normally `load`). */
  constructor(name: string, options: IndexedDbStorageOptions = {}) {
    this.name = name;
    this.factory = options.indexedDB ?? globalThis.indexedDB;
  }

  /** A storage whose database is already open (so that opening errors surface here, not in `load`). */
  static async open(name: string, options: IndexedDbStorageOptions = {}): Promise<IndexedDbStorage> {
    const storage = new IndexedDbStorage(name, options);
    await storage.database();
    return storage;
  }

  /** Deletes the database. Open connections to it close themselves (see `versionchange` below). */
  static async destroy(name: string, options: IndexedDbStorageOptions = {}): Promise<void> {
    const factory = options.indexedDB ?? globalThis.indexedDB;
    await wrap(factory.deleteDatabase(name));
  }

  async load(): Promise<LoadedState> {
    const db = await this.database();
    const tx = db.transaction(ALL_STORES, 'readonly');
    const [hardState, snapshotRecord] = await Promise.all([
      tx.objectStore('meta').get('hardState') as Promise<HardState | undefined>,
      tx.objectStore('meta').get('snapshot') as Promise<SnapshotRecord | undefined>,
    ]);
    const after = snapshotRecord?.metadata.index ?? 0;
    const [chunks, entries] = await Promise.all([
      tx.objectStore('snapshotChunks').getAll(),
      tx.objectStore('entries').getAll(IDBKeyRange.lowerBound(after, true)),
      tx.done,
    ]);
    // Every save keeps the log contiguous from the snapshot on; anything else is corruption, not a state to
    // start a Raft node from.
    entries.forEach((e, i) => {
      const expected = after + 1 + i;
      if (e.index !== expected) {
        throw new Error(
          `IndexedDbStorage(${this.name}): gap in the stored log: expected entry ${expected}, found ${e.index}`,
        );
      }
    });
    // Values read from IndexedDB are fresh structured clones: the caller may keep and modify them.
    return {
      hardState: hardState ?? { ...EMPTY_HARD_STATE },
      snapshot: snapshotRecord && {
        metadata: snapshotRecord.metadata,
        data: this.joinChunks(snapshotRecord, chunks),
      },
      entries,
    };
  }

  async save(batch: PersistBatch): Promise<void> {
    const { snapshot, entries, hardState } = batch;
    for (let i = 1; i < entries.length; i++) {
      if (entries[i].index !== entries[i - 1].index + 1) {
        throw new Error(`entries not contiguous at index ${entries[i - 1].index}`);
      }
    }
    const db = await this.database();
    // A commit-index-only batch need not be durable before it resolves (PersistBatch.commitOnly).
    await write(db, batch.commitOnly ? 'relaxed' : 'strict', async (tx) => {
      const writes: Promise<unknown>[] = [];
      // A received snapshot replaces the whole log.
      if (snapshot) writes.push(tx.objectStore('entries').clear(), ...putSnapshot(tx, snapshot));
      if (entries.length > 0) {
        const last = snapshot ? snapshot.metadata.index : await lastIndex(tx);
        const first = entries[0].index;
        if (first > last + 1)
          throw new Error(`gap in log: last stored index ${last}, batch starts at ${first}`);
        const store = tx.objectStore('entries');
        // The conflicting suffix goes (a no-op for a plain append).
        writes.push(store.delete(IDBKeyRange.lowerBound(first)));
        for (const e of entries) writes.push(store.put(entryRecord(e), e.index));
      }
      if (hardState) {
        const { term, vote, commit } = hardState;
        writes.push(tx.objectStore('meta').put({ term, vote, commit }, 'hardState'));
      }
      return writes;
    });
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    const db = await this.database();
    await write(db, 'strict', async (tx) => {
      const current = (await tx.objectStore('meta').get('snapshot')) as SnapshotRecord | undefined;
      // A snapshot older than the one stored adds nothing; keep the newer one.
      if (current && current.metadata.index > snapshot.metadata.index) return [];
      return putSnapshot(tx, snapshot);
    });
  }

  async compact(index: number): Promise<void> {
    const db = await this.database();
    await write(db, 'strict', async (tx) => [
      tx.objectStore('entries').delete(IDBKeyRange.upperBound(index)),
    ]);
  }

  async close(): Promise<void> {
    const db = this.db;
    this.closed = true;
    if (db) (await db).close();
  }

  private database(): Promise<IDBPDatabase<StorageSchema>> {
    if (this.closed) return Promise.reject(new Error(`IndexedDbStorage(${this.name}) is closed`));
    this.db ??= this.openDatabase();
    return this.db;
  }

  private async openDatabase(): Promise<IDBPDatabase<StorageSchema>> {
    const request = this.factory.open(this.name, VERSION);
    request.addEventListener('upgradeneeded', (event) => {
      const db = request.result;
      if (event.oldVersion < 1) {
        db.createObjectStore('entries');
        db.createObjectStore('meta');
        db.createObjectStore('snapshotChunks');
      }
    });
    const db = (await wrap(request)) as unknown as IDBPDatabase<StorageSchema>;
    // Another connection wants to delete or upgrade the database: step aside rather than block it. Later calls
    // fail with "is closed".
    db.addEventListener('versionchange', () => {
      this.closed = true;
      db.close();
    });
    return db;
  }

  private joinChunks(record: SnapshotRecord, chunks: Uint8Array[]): Uint8Array {
    const size = chunks.reduce((n, c) => n + c.length, 0);
    if (chunks.length !== record.chunks || size !== record.size) {
      throw new Error(
        `IndexedDbStorage(${this.name}): snapshot ${record.metadata.index} data is incomplete: ` +
          `${chunks.length}/${record.chunks} chunks, ${size}/${record.size} bytes`,
      );
    }
    if (chunks.length === 1) return chunks[0];
    const data = new Uint8Array(size);
    let offset = 0;
    for (const c of chunks) {
      data.set(c, offset);
      offset += c.length;
    }
    return data;
  }
}

/**
 * Runs `body` in one read-write transaction over all stores (strict durability unless told otherwise) and
 * resolves once the transaction has completed. `body` returns the write requests it made; if it throws, the transaction is
 * aborted so that nothing of it is written.
 */
async function write(
  db: IDBPDatabase<StorageSchema>,
  durability: 'strict' | 'relaxed',
  body: (tx: WriteTransaction) => Promise<Promise<unknown>[]>,
): Promise<void> {
  const tx = db.transaction(ALL_STORES, 'readwrite', { durability });
  let writes: Promise<unknown>[];
  try {
    writes = await body(tx);
  } catch (err) {
    try {
      tx.abort();
    } catch {
      // Already finished or aborted.
    }
    await tx.done.catch(() => {});
    throw err;
  }
  // Waiting on every request as well as on `done` leaves no rejection unhandled if the transaction fails.
  await Promise.all([...writes, tx.done]);
}

/** The highest stored index: the last entry, or the snapshot's index when no entries are stored. */
async function lastIndex(tx: WriteTransaction): Promise<number> {
  const cursor = await tx.objectStore('entries').openKeyCursor(null, 'prev');
  if (cursor) return cursor.key;
  const snapshot = (await tx.objectStore('meta').get('snapshot')) as SnapshotRecord | undefined;
  return snapshot?.metadata.index ?? 0;
}

/** Replaces the stored snapshot (metadata and chunks) with `snapshot`. */
function putSnapshot(tx: WriteTransaction, snapshot: Snapshot): Promise<unknown>[] {
  const { index, term, confState } = snapshot.metadata;
  const { data } = snapshot;
  const chunks = Math.max(1, Math.ceil(data.length / SNAPSHOT_CHUNK_BYTES));
  const record: SnapshotRecord = {
    metadata: {
      index,
      term,
      confState: { voters: [...confState.voters], learners: [...confState.learners] },
    },
    size: data.length,
    chunks,
  };
  const store = tx.objectStore('snapshotChunks');
  const writes: Promise<unknown>[] = [tx.objectStore('meta').put(record, 'snapshot'), store.clear()];
  for (let i = 0; i < chunks; i++) {
    const chunk =
      chunks === 1 ? ownBytes(data) : data.slice(i * SNAPSHOT_CHUNK_BYTES, (i + 1) * SNAPSHOT_CHUNK_BYTES);
    writes.push(store.put(chunk, i));
  }
  return writes;
}

function entryRecord(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: ownBytes(e.data) };
}

/**
 * The bytes as a plain Uint8Array over exactly its own buffer. Structured clone copies the whole underlying
 * ArrayBuffer of a view, so a small subarray (or a Node Buffer from the shared pool) would store far more than
 * its bytes, and a subclass would not round-trip as a Uint8Array everywhere.
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  const whole =
    bytes.constructor === Uint8Array &&
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength;
  return whole ? bytes : new Uint8Array(bytes);
}
