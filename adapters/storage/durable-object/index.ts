// Durable Object LogStorage: the Raft log, hard state and snapshot in a SQLite-backed Durable Object's storage
// (`ctx.storage`), following the storage contract in src/storage.ts.
//
// SQL API, not the key-value API. The KV API of a SQLite-backed object is stored in SQLite anyway (a hidden
// `__cf_kv` table), but caps a value at 128 KiB, so a 1 MiB entry would need nine keys and a 5 MB snapshot
// forty; "delete every entry from index i on" (a conflicting suffix) or "up to i" (compaction) would be a
// `list` plus batched `delete`s of at most 128 keys each. With SQL a row holds up to 2 MB, the log is one table
// keyed by its index (`INTEGER PRIMARY KEY`, so range scans and range deletes are single statements), and
// `transactionSync` makes one Raft Ready one atomic transaction.
////
// Durability. `sql.exec` and `transactionSync` are synchronous: when `save` returns, the transaction is
// committed to the object's local SQLite database but may still be on its way to durable (replicated) storage.
// The promise nevertheless resolves right away, which meets the contract's rule ("resolves only when durable")
// for everything that matters, because of the Durable Object output gate: while a write is not yet durable,
// every outgoing message of the object — responses, RPC results, subrequests, WebSocket messages — is held
// back, and if the write fails the object is reset and the held messages are discarded. The host sends votes and
// append acknowledgements after `save` resolves, so none of them can leave the object before what it vouches
// for is durable; nothing outside can observe the difference, and the next Ready does not have to wait a
// replication round-trip. (A host that needs to wait explicitly can await `ctx.storage.sync()`.)
//
// Crash model: a transaction is atomic, so after a crash a `save` has survived entirely or not at all (never a
// torn tail). `load` still checks that the entries continue the snapshot without a hole.
//
// The tables and their rows are in tables.ts; the part of `ctx.storage` used, in sql.ts.

import type { Snapshot } from '../../../src/raft/types.ts';
import type { LoadedState, LogStorage, PersistBatch } from '../../../src/storage.ts';
import type { DurableObjectStorageApi } from './sql.ts';
import { RaftTables } from './tables.ts';

export type { DurableObjectStorageApi, SqlCursor, SqlStorageApi, SqlValue } from './sql.ts';

export interface DurableObjectStorageOptions {
  /** Prefix of the adapter's table names: letters, digits and `_`. Default `raft_`. */
  readonly tablePrefix?: string;
  /**
   * Largest piece of entry or snapshot data stored in one row. Default 1.5 MiB, below the platform's 2 MB per
   * row; a smaller value only makes more rows (tests use it to exercise chunking cheaply).
   */
  readonly chunkBytes?: number;
}

/** The platform's limit on one row of a SQLite-backed Durable Object. */
export const MAX_ROW_BYTES = 2_000_000;
export const DEFAULT_CHUNK_BYTES = 1.5 * 1024 * 1024;

export class DurableObjectStorage implements LogStorage {
  private readonly storage: DurableObjectStorageApi;
  private readonly tables: RaftTables;
  private closed = false;

  /** Creates the adapter's tables if they do not exist yet (synchronously, like every call on `storage`). */
  constructor(storage: DurableObjectStorageApi, options: DurableObjectStorageOptions = {}) {
    const prefix = options.tablePrefix ?? 'raft_';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(prefix))
      throw new Error(`invalid table prefix ${JSON.stringify(prefix)}`);
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_ROW_BYTES - 1024) {
      throw new Error(`chunkBytes must be an integer from 1 to ${MAX_ROW_BYTES - 1024}, got ${chunkBytes}`);
    }
    this.storage = storage;
    this.tables = new RaftTables(storage, prefix, chunkBytes);
    this.storage.transactionSync(() => this.tables.createSchema());
  }

  async load(): Promise<LoadedState> {
    this.checkOpen();
    const hardState = this.tables.readHardState();
    const snapshot = this.tables.readSnapshot();
    const entries = this.tables.readEntries(snapshot?.metadata.index ?? 0);
    return snapshot ? { hardState, snapshot, entries } : { hardState, entries };
  }

  async save(batch: PersistBatch): Promise<void> {
    this.checkOpen();
    const incoming = batch.entries;
    for (let i = 1; i < incoming.length; i++) {
      if (incoming[i].index !== incoming[i - 1].index + 1) {
        throw new Error(`entries not contiguous at index ${incoming[i - 1].index}`);
      }
    }
    // One transaction per Ready: a refused batch (the throw rolls it back) leaves the stored state untouched.
    this.storage.transactionSync(() => {
      if (batch.snapshot) {
        this.tables.writeSnapshot(batch.snapshot);
        this.tables.deleteAllEntries();
      }
      if (incoming.length > 0) {
        const first = incoming[0].index;
        const last = this.tables.lastIndex();
        if (first > last + 1)
          throw new Error(`gap in log: last stored index ${last}, batch starts at ${first}`);
        this.tables.deleteEntriesFrom(first);
        for (const entry of incoming) this.tables.writeEntry(entry);
      }
      if (batch.hardState) this.tables.writeHardState(batch.hardState);
    });
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    this.checkOpen();
    this.storage.transactionSync(() => {
      const current = this.tables.readSnapshotMeta();
      // A snapshot older than the one stored adds nothing; keep the newer one.
      if (current && current.index > snapshot.metadata.index) return;
      this.tables.writeSnapshot(snapshot);
    });
  }

  async compact(index: number): Promise<void> {
    this.checkOpen();
    this.storage.transactionSync(() => {
      this.tables.deleteEntriesUpTo(index);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw new Error('DurableObjectStorage is closed');
  }
}
