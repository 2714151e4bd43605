// The log storage contract: what a storage adapter (memory, file WAL, IndexedDB, Durable Object) must do.
//
// The core keeps the log tail it needs in memory, so adapters only do bulk, batched I/O: one `save` per Raft
// Ready. Durability rule (the persistence contract, see src/raft/ready.ts): a promise resolves only when what
// it wrote is durable (fsync'd, IndexedDB transaction complete, Durable Object storage committed). The host
// sends votes and append acknowledgements only after that, so nothing a node vouched for can be lost.
//
// Crash model: after a crash, a `save` that had not resolved may have survived entirely, not at all, or as a
// prefix of its entries (a torn tail) — never with holes, never with a hard state whose commit index exceeds
// the last durable entry.

import { type ByteReader, readRest } from './mvcc/byte-reader.ts';
import type { ValueSpill } from './mvcc/value-store.ts';
import type { Entry, HardState, Snapshot, SnapshotMetadata } from './raft/types.ts';

/** One Ready's worth of state to make durable, applied in this order: snapshot, entries, hard state. */
export interface PersistBatch {
  /** A snapshot received from the leader: it replaces the whole stored log (all stored entries go). */
  readonly snapshot?: Snapshot;
  /**
   * Entries to append, contiguous and ascending. The first may start at or below the last stored index: stored
   * entries from `entries[0].index` on are discarded first (a conflicting suffix being overwritten).
   */
  readonly entries: readonly Entry[];
  readonly hardState?: HardState;
  /**
   * Only the hard state's commit index changed (etcd-io/raft's MustSync is false: no entries, no snapshot, the
   * same term and vote). The commit index is not needed for safety after a crash (the leader tells it again), so
   * an adapter may resolve such a batch once written, before it is durable, as etcd writes it without fsync. A
   * later durable batch must still leave no holes: it makes what was written before it durable too, or the
   * adapter recovers a torn tail.
   */
  readonly commitOnly?: boolean;
}

/** What a node recovers on start. */
export interface LoadedState {
  readonly hardState: HardState;
  /** The newest durable snapshot, if any (its data empty when `snapshotReader` hands it out). */
  readonly snapshot?: Snapshot;
  /**
   * The snapshot's data read piece by piece, when `load` was asked for it (LoadOptions) and the storage can: it is
   * then never one buffer in memory. Checked as it is read (the last read throws if it is damaged). The caller
   * reads it before any write, and closes it.
   */
  readonly snapshotReader?: SnapshotReader;
  /** Stored entries after the snapshot's index (or from index 1 without a snapshot), contiguous. */
  readonly entries: readonly Entry[];
}

/** A stored snapshot's data read piece by piece (LoadedState.snapshotReader). */
export interface SnapshotReader extends ByteReader {
  /** Lets go of the file (also when not read to the end). */
  close(): void;
}

export interface LoadOptions {
  /** The snapshot's data as a reader (LoadedState.snapshotReader) where the storage can read it piece by piece. */
  readonly snapshotReader?: boolean;
}

/** A snapshot whose data is produced piece by piece (LogStorage.saveSnapshotStream). */
export interface SnapshotSource {
  readonly metadata: SnapshotMetadata;
  /** Bytes of data in all. */
  readonly size: number;
  /**
   * Writes the next bytes of data into `out` from its start and returns how many: at least 1 while any are left
   * (`out` not empty), at most `out.length`, a bounded amount of work per call; 0 once all `size` were given.
   */
  fill(out: Uint8Array): number;
}

export interface LogStorage {
  /** Reads back everything durable. Called once, before any write. */
  load(options?: LoadOptions): Promise<LoadedState>;
  /** Makes one batch durable; resolves when it is. Calls are not overlapped by the host. */
  save(batch: PersistBatch): Promise<void>;
  /**
   * Makes a snapshot that the local state machine produced durable. Unlike `PersistBatch.snapshot` it keeps the
   * stored entries after its index. Older snapshots may be dropped once it is durable.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void>;
  /**
   * As saveSnapshot, the data produced piece by piece while it is written: a large state machine is then never one
   * buffer in memory (a million keys are hundreds of MB). Optional; the host falls back to saveSnapshot.
   */
  saveSnapshotStream?(source: SnapshotSource): Promise<void>;
  /**
   * A scratch file for the keyspace's values beyond those kept in memory (ValueSpill, src/mvcc/value-store.ts): a
   * fresh, empty one on each call; nothing in it needs to survive the process. Optional: without it every value
   * stays in memory.
   */
  valueSpill?(): ValueSpill;
  /** Discards stored entries with index ≤ `index`. Only called for an index covered by a durable snapshot. */
  compact(index: number): Promise<void>;
  /**
   * True when `saveSnapshot` (and the `compact` after it) may run while saves do, the storage ordering itself what
   * must be ordered: then writing a large keyspace's snapshot does not hold up the log (and with it commits and
   * heartbeats). Otherwise the host never overlaps any two calls.
   */
  readonly snapshotsBesideSaves?: boolean;
  close(): Promise<void>;
}

/** The whole snapshot from `source`, read `piece` bytes at a time (storages that keep a snapshot as one value). */
export function drainSnapshotSource(source: SnapshotSource, piece = 64 * 1024): Snapshot {
  const data = new Uint8Array(source.size);
  const buffer = new Uint8Array(Math.max(1, piece));
  for (let at = 0; at < data.length; ) {
    const n = takePiece(source, buffer, data.length - at);
    data.set(buffer.subarray(0, n), at);
    at += n;
  }
  takePiece(source, buffer, 0);
  return { metadata: source.metadata, data };
}

/**
 * The next piece of `source` into `buffer`, its length checked against the `left` bytes it still owes: at least 1
 * and at most `left` while any are left, none after.
 */
export function takePiece(source: SnapshotSource, buffer: Uint8Array, left: number): number {
  const n = source.fill(buffer);
  if (left === 0 ? n !== 0 : n <= 0 || n > left) {
    throw new Error(`snapshot source gave ${n} bytes with ${left} of its ${source.size} to come`);
  }
  return n;
}

/** The loaded snapshot's data, whole: read from its reader when the storage gave one (tests, tools). */
export function loadedSnapshotData(loaded: LoadedState): Uint8Array | undefined {
  const reader = loaded.snapshotReader;
  if (reader === undefined) return loaded.snapshot?.data;
  try {
    return readRest(reader, reader.size);
  } finally {
    reader.close();
  }
}

/**
 * After a restore from `reader` failed part way: the reader's own error when the rest of it proves damaged (a
 * damaged file is reported as such, not as whatever the decoder met first), otherwise `error`.
 */
export function damageOr(reader: ByteReader, error: unknown): unknown {
  const scratch = new Uint8Array(1024 * 1024);
  try {
    while (reader.read(scratch) > 0);
  } catch (damage) {
    return damage;
  }
  return error;
}
