// File WAL LogStorage for Node: an append-only write-ahead log plus snapshot files in one data directory.
//
// On-disk format (version 1; all integers little-endian):
//
//   <dir>/LOCK                     the owner's PID and a newline (see lock.ts)
//   <dir>/wal/<seq>-<first>.wal    segments; seq and the first index they may hold as 16 hex digits. Created as
//                                  `.tmp`, header written and fsync'd, renamed, directory fsync'd: a segment
//                                  file always starts with a valid header. A new one is cut once the current
//                                  one reaches `segmentSize` (default 64 MiB). The one written to is extended
//                                  with zeros 4 MiB ahead of its records (as etcd preallocates its segments: a
//                                  write that does not grow the file syncs faster); cut to its records when
//                                  the next one is made.
//   <dir>/snap/<term>-<index>.snap one snapshot each (16 hex digits each), written as `.tmp`, fsync'd, renamed,
//                                  directory fsync'd. The newest `snapshotsToKeep` (default 3) are kept.
// Every file is a sequence of records:
//
//   offset 0  u32  payload length
//          4  u8   type: 1 segment header, 2 batch, 3 snapshot; bytes 5..7 are zero
//          8  u32  CRC-32 (zlib's, IEEE polynomial) of the payload
//         12  u32  CRC-32 of bytes 0..11 (the header has its own CRC: see recovery)
//         16  payload: msgpack (useBigInt64)
//
//   segment header  [version=1, seq, prevIndex, [term, vote, commit], [markerIndex, markerTerm] | null]
//                   The state when the segment was cut (last log index, hard state, last snapshot marker), so
//                   deleting older segments loses nothing that is still needed. First record of each segment.
//   batch           [op, ...]; op = [[snapIndex, snapTerm] | null, firstIndex, [term, type, data, ...],
//                   [term, vote, commit] | null], type 0 normal, 1 confChange. An op is one `save`, applied as
//                   snapshot marker (a received snapshot: the log before it is discarded), entries (stored
//                   entries from firstIndex on are discarded first), hard state. One `save` is one record
//                   (concurrent saves may share one), written with one write and one fdatasync, so a torn
//                   write can only ever damage the last record and the hard state never outlives its entries.
//   snapshot        [index, term, voters, learners, data]: the only record of a .snap file (a streamed one's
//                   header, which carries the CRC, is written last).
//
// Here: the storage and its saves (group commit). Beside it: options.ts, segments.ts and snapshot-files.ts (the
// files; snapshot-reader.ts reads the newest as it is restored), record.ts and codec.ts (framing and payloads),
// write-queue.ts (one job at a time), recovery.ts (load, and its rules), lock.ts, fs.ts (the file layer),
// crashable-fs.ts (one that loses power, for tests), and value-spill.ts (a scratch file of keyspace values,
// values-*.spill, unlinked as soon as it is open).

import { join } from 'node:path';
import { type Logger, silentLogger } from '../../../src/env.ts';
import type { ValueSpill } from '../../../src/mvcc/value-store.ts';
import { EMPTY_HARD_STATE, type HardState, type Snapshot } from '../../../src/raft/types.ts';
import type {
  LoadedState,
  LoadOptions,
  LogStorage,
  PersistBatch,
  SnapshotSource,
} from '../../../src/storage.ts';
import { type BatchOp, checkAppend, encodeBatch, type SnapshotMarker } from './codec.ts';
import { nodeFs, type WalFs } from './fs.ts';
import {
  abstractSocketLock,
  acquireLock,
  isProcessAlive,
  type KernelLock,
  type KernelLockFactory,
  releaseLock,
} from './lock.ts';
import { DEFAULT_SEGMENT_SIZE, type FileWalOptions } from './options.ts';
import { RECORD_BATCH, RecordWriter } from './record.ts';
import { recover } from './recovery.ts';
import { SegmentFiles } from './segments.ts';
import { SnapshotFiles } from './snapshot-files.ts';
import { openValueSpill } from './value-spill.ts';
import { failedEarlier, type SaveJob, WriteQueue } from './write-queue.ts';

export { CrashableFs, type PowerCutOptions } from './crashable-fs.ts';
export { nodeFs, type OpenMode, type WalFile, type WalFs } from './fs.ts';
export type { FileWalOptions } from './options.ts';

export class FileWalStorage implements LogStorage {
  private readonly fs: WalFs;
  private readonly logger: Logger;
  private readonly segmentSize: number;
  private readonly lockPath: string;
  private heldLock: KernelLock | undefined;
  private readonly writer = new RecordWriter();
  private readonly segments: SegmentFiles;
  private readonly snapshots: SnapshotFiles;
  private readonly queue: WriteQueue;

  private state: 'new' | 'loading' | 'open' | 'closing' | 'closed' = 'new';
  /** Set by a failed write or sync: the file's state is unknown (fsync errors cannot be retried), stop. */
  private failed: Error | undefined;

  /** The last log index as the WAL replays it (a snapshot marker sets it to the snapshot index). */
  private logLast = 0;
  private hardState: HardState = EMPTY_HARD_STATE;
  private marker: SnapshotMarker | undefined;
  /**
   * The newest commit-index-only hard state not written yet. As etcd's WAL keeps an unsynced Save in its buffered
   * encoder, it costs no I/O now and goes out in front of the next written record (or at close).
   */
  private unwritten: HardState | undefined;

  readonly dir: string;
  readonly snapshotsBesideSaves = true; // a snapshot file is written beside the segments (saveSnapshot)
  readonly valueSpill?: () => ValueSpill; // see FileWalOptions.valueSpill

  private constructor(dir: string, options: FileWalOptions) {
    this.dir = dir;
    this.fs = options.fs ?? nodeFs;
    this.logger = options.logger ?? silentLogger;
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.segments = new SegmentFiles(this.fs, join(dir, 'wal'), this.logger, this.writer, this.segmentSize);
    this.snapshots = new SnapshotFiles(this.fs, join(dir, 'snap'), Math.max(1, options.snapshotsToKeep ?? 3));
    this.lockPath = join(dir, 'LOCK');
    if (options.valueSpill ?? options.fs === undefined) this.valueSpill = () => openValueSpill(dir);
    this.queue = new WriteQueue({
      refusal: () => this.refusal(),
      failure: () => this.failed,
      fail: (error) => this.fail(error),
      writeGroup: (jobs) => this.writeGroup(jobs),
    });
  }

  /** Opens (creating if needed) the data directory and takes its lock. Call `load` next. */
  static async open(dir: string, options: FileWalOptions = {}): Promise<FileWalStorage> {
    const storage = new FileWalStorage(dir, options);
    await storage.fs.mkdir(dir);
    const kernelLock = options.kernelLock ?? (options.fs === undefined ? abstractSocketLock : false);
    storage.heldLock = await acquireLock(storage.fs, storage.lockPath, {
      pid: options.pid ?? process.pid,
      isProcessAlive: options.isProcessAlive ?? isProcessAlive,
      logger: storage.logger,
      dir,
      kernelLock: kernelLock === false ? undefined : kernelLock,
    });
    return storage;
  }

  load(options: LoadOptions = {}): Promise<LoadedState> {
    if (this.state !== 'new') return Promise.reject(new Error('FileWalStorage.load may be called only once'));
    this.state = 'loading';
    const { fs, logger, dir, segments, snapshots, writer } = this;
    return recover({
      fs,
      logger,
      dir,
      segments,
      snapshots,
      writer,
      snapshotReader: options.snapshotReader,
    }).then(
      (recovered) => {
        ({ logLast: this.logLast, hardState: this.hardState, marker: this.marker } = recovered);
        this.state = 'open';
        return recovered.loaded;
      },
      (error: unknown) => {
        this.failed = error instanceof Error ? error : new Error(String(error));
        this.state = 'open';
        throw error;
      },
    );
  }

  save(batch: PersistBatch): Promise<void> {
    return this.queue.save(batch);
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.saveLocal(snapshot.metadata.index, () => this.snapshots.write(snapshot));
  }

  saveSnapshotStream(source: SnapshotSource): Promise<void> {
    return this.saveLocal(source.metadata.index, () => this.snapshots.writeStream(source));
  }

  /** Written beside the log (saves go on meanwhile); the files kept are then pruned in order with the saves. */
  private async saveLocal(index: number, write: () => Promise<void>): Promise<void> {
    const refused = this.refusal();
    if (refused) throw refused;
    const newest = this.snapshots.list.at(-1);
    if (newest && newest.index > index) return; // an older snapshot adds nothing
    await write().catch((error: unknown) => {
      this.fail(error);
      throw error;
    });
    await this.queue.task(() => this.snapshots.prune(undefined));
  }

  compact(index: number): Promise<void> {
    return this.queue.task(() => this.segments.compact(index));
  }

  close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return Promise.resolve();
    this.state = 'closing';
    return this.queue
      .last(async () => {
        await this.snapshots.idle();
        await this.flushUnwritten();
        await this.segments.close();
        await releaseLock(this.fs, this.lockPath, this.heldLock);
      })
      .finally(() => {
        this.state = 'closed';
      });
  }

  private refusal(): Error | undefined {
    if (this.state === 'closing' || this.state === 'closed') return new Error('FileWalStorage is closed');
    if (this.state !== 'open') return new Error('FileWalStorage: call load() before writing');
    if (this.failed) return failedEarlier(this.failed);
    return undefined;
  }

  private fail(error: unknown): void {
    this.failed ??= error instanceof Error ? error : new Error(String(error));
    // etcd's WAL panics here; the member stops (ReplicaIO.fatal). After a failed fsync the kernel may have dropped
    // the dirty pages, so a later fsync that "succeeds" proves nothing: no write is taken again (fsyncgate).
    const segment = this.segments.list.at(-1)?.name;
    this.logger.error('file WAL write failed; storage refuses further writes', {
      error: String(error),
      ...(segment ? { file: join(this.segments.dir, segment) } : { dir: this.dir }),
    });
  }

  /** Consecutive saves as one record, one write and one fdatasync (group commit). */
  private async writeGroup(jobs: SaveJob[]): Promise<void> {
    const accepted: SaveJob[] = [];
    const ops: BatchOp[] = [];
    let last = this.logLast;
    for (const job of jobs) {
      if (this.failed) {
        job.reject(failedEarlier(this.failed));
        continue;
      }
      const { snapshot, entries, hardState } = job.batch;
      const base = snapshot ? snapshot.metadata.index : last;
      const problem = checkAppend(entries, base);
      if (problem) {
        job.reject(new Error(problem));
        continue;
      }
      accepted.push(job);
      ops.push({ marker: snapshot && { ...snapshot.metadata }, entries, hardState });
      last = entries.length > 0 ? entries[entries.length - 1].index : base;
    }
    if (accepted.length === 0) return;
    if (accepted.every((job) => job.batch.commitOnly)) {
      // Commit-index-only (etcd-io/raft's MustSync false): nothing to write until the next record.
      for (const op of ops) if (op.hardState) this.unwritten = this.hardState = { ...op.hardState };
      for (const job of accepted) job.resolve();
      return;
    }
    if (this.unwritten) {
      ops.unshift({ marker: undefined, entries: [], hardState: this.unwritten });
      this.unwritten = undefined;
    }
    const segments = this.segments;
    try {
      // A received snapshot's file goes first: a WAL marker must never point at a missing snapshot.
      for (const job of accepted) if (job.batch.snapshot) await this.snapshots.write(job.batch.snapshot);
      if (segments.full(this.segmentSize))
        await segments.cut({ prevIndex: this.logLast, hardState: this.hardState, marker: this.marker });
      // Encoding copies the callers' bytes: they may reuse their arrays once we resolve.
      const record = this.writer.frame(RECORD_BATCH, encodeBatch(ops));
      await segments.append(record);
      const segment = segments.list[segments.list.length - 1];
      for (const op of ops) this.apply(op, segment);
      for (const op of ops) if (op.marker) await this.snapshots.prune(op.marker);
    } catch (error) {
      this.fail(error);
      for (const job of accepted) job.reject(error);
      return;
    }
    for (const job of accepted) job.resolve();
  }

  /** At close: the commit index not written yet goes out, durably, as etcd's WAL syncs its tail on Close. */
  private async flushUnwritten(): Promise<void> {
    const hardState = this.unwritten;
    if (!hardState || this.failed || !this.segments.active) return;
    this.unwritten = undefined;
    const ops: BatchOp[] = [{ marker: undefined, entries: [], hardState }];
    await this.segments.append(this.writer.frame(RECORD_BATCH, encodeBatch(ops)));
  }

  private apply(op: BatchOp, segment: { maxIndex: number }): void {
    if (op.marker) {
      this.marker = op.marker;
      this.logLast = op.marker.index;
    }
    if (op.entries.length > 0) this.logLast = op.entries[op.entries.length - 1].index;
    if (op.hardState) this.hardState = { ...op.hardState };
    segment.maxIndex = Math.max(segment.maxIndex, this.logLast);
  }
}
