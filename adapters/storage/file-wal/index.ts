// File WAL LogStorage for Node: an append-only write-ahead log plus snapshot files in one data directory.
//
// On-disk format (version 1; all integers little-endian):
//
//   <dir>/LOCK                     the owner's PID and a newline (see lock.ts)
//   <dir>/wal/<seq>-<first>.wal    segments; seq and the first index they may hold as 16 hex digits. Created as
//                                  `.tmp`, header written and fsync'd, renamed, directory fsync'd: a segment
//                                  file always starts with a valid header. A new one is cut once the current
//                                  one reaches `segmentSize` (default 64 MiB).
//   <dir>/snap/<term>-<index>.snap one snapshot each (16 hex digits each), written as `.tmp`, fsync'd, renamed,
//                                  directory fsync'd. The newest `snapshotsToKeep` (default 3) are kept.
//
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
//   snapshot        [index, term, voters, learners, data]: the only record of a .snap file.
//
// Recovery: segments replay in sequence order (a missing sequence number is refused). A bad record (incomplete,
// CRC mismatch) at the end of the last segment, with no valid record anywhere after it, is a torn tail: the
// file is truncated to the last good record and the fact logged. Any other bad record, a malformed payload, or
// a gap in indexes is refused with the file and byte offset. A received snapshot is written as a snapshot file
// before its WAL marker; if the file survived a crash and the marker did not, load completes the reset. The
// returned entries must continue the newest snapshot without a hole, or load refuses; a hard state commit
// beyond the last durable entry is clamped (and logged). `compact` deletes whole segments, oldest first, whose
// entries are all at or below its index; entries at or below the snapshot index are skipped on load.

import { dirname, join } from 'node:path';
import type { Logger } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Entry, HardState, Snapshot } from '../../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../../src/raft/types.ts';
import type { LoadedState, LogStorage, PersistBatch } from '../../../src/storage.ts';
import {
  type BatchOp,
  decodeBatch,
  decodeSegmentHeader,
  decodeSnapshot,
  encodeBatch,
  encodeSegmentHeader,
  encodeSnapshot,
  type SegmentHeader,
  type SnapshotMarker,
} from './codec.ts';
import { errorCode, nodeFs, type WalFile, type WalFs } from './fs.ts';
import {
  abstractSocketLock,
  acquireLock,
  isProcessAlive,
  type KernelLock,
  type KernelLockFactory,
  releaseLock,
} from './lock.ts';
import {
  findValidRecord,
  frameRecord,
  RECORD_BATCH,
  RECORD_SEGMENT_HEADER,
  RECORD_SNAPSHOT,
  RecordWriter,
  readRecord,
} from './record.ts';

export { CrashableFs, type PowerCutOptions } from './crashable-fs.ts';
export { nodeFs, type OpenMode, type WalFile, type WalFs } from './fs.ts';

export interface FileWalOptions {
  /** The file layer; the real file system by default. */
  readonly fs?: WalFs;
  readonly logger?: Logger;
  /** A new segment is cut once the current one reaches this many bytes. Default 64 MiB. */
  readonly segmentSize?: number;
  /** Snapshot files kept (the newest ones). Default 3, at least 1. */
  readonly snapshotsToKeep?: number;
  /** Written to the lock file. Default: this process. */
  readonly pid?: number;
  /** Whether a lock file's owner still runs (used without a kernel lock). Default: `process.kill(pid, 0)`. */
  readonly isProcessAlive?: (pid: number) => boolean;
  /**
   * The kernel-released lock (lock.ts). Default: Linux's abstract-namespace socket when `fs` is the real file
   * system; none (the LOCK file alone) with another file layer.
   */
  readonly kernelLock?: KernelLockFactory | false;
}

const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;
/** etcd's warnSyncDuration: an fdatasync slower than this is logged as `slow fdatasync`. */
const WARN_SYNC_MS = 1000;
const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

interface Segment {
  readonly seq: number;
  readonly name: string;
  /** The highest index this segment says anything about (entries, marker, its header's prevIndex). */
  maxIndex: number;
}

interface SnapshotFile {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

type Job =
  | {
      readonly kind: 'save';
      readonly batch: PersistBatch;
      readonly resolve: () => void;
      readonly reject: (error: unknown) => void;
    }
  | {
      readonly kind: 'task';
      readonly run: () => Promise<void>;
      /** Runs even after a failure (closing releases the lock whatever happened). */
      readonly always?: boolean;
      readonly resolve: () => void;
      readonly reject: (error: unknown) => void;
    };

function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

function corrupt(file: string, offset: number, what: string): Error {
  return new Error(`file WAL corrupt: ${file} at byte offset ${offset}: ${what}; refusing to load`);
}

function copyEntry(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: new Uint8Array(e.data) };
}

export class FileWalStorage implements LogStorage {
  private readonly fs: WalFs;
  private readonly logger: Logger;
  private readonly segmentSize: number;
  private readonly snapshotsToKeep: number;
  private readonly walDir: string;
  private readonly snapDir: string;
  private readonly lockPath: string;
  private heldLock: KernelLock | undefined;
  private readonly writer = new RecordWriter();

  private state: 'new' | 'loading' | 'open' | 'closing' | 'closed' = 'new';
  /** Set by a failed write or sync: the file's state is unknown (fsync errors cannot be retried), stop. */
  private failed: Error | undefined;
  private jobs: Job[] = [];
  private draining = false;

  private segments: Segment[] = [];
  private active: WalFile | undefined;
  private activeSize = 0;
  /** The size of the active segment's header: a segment holding nothing else is not cut. */
  private activeHeaderSize = 0;
  /** The last log index as the WAL replays it (a snapshot marker sets it to the snapshot index). */
  private logLast = 0;
  private hardState: HardState = EMPTY_HARD_STATE;
  private marker: SnapshotMarker | undefined;
  private snapshots: SnapshotFile[] = [];

  readonly dir: string;

  private constructor(dir: string, options: FileWalOptions) {
    this.dir = dir;
    this.fs = options.fs ?? nodeFs;
    this.logger = options.logger ?? silentLogger;
    this.segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    this.snapshotsToKeep = Math.max(1, options.snapshotsToKeep ?? 3);
    this.walDir = join(dir, 'wal');
    this.snapDir = join(dir, 'snap');
    this.lockPath = join(dir, 'LOCK');
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

  load(): Promise<LoadedState> {
    if (this.state !== 'new') return Promise.reject(new Error('FileWalStorage.load may be called only once'));
    this.state = 'loading';
    return this.recover().then(
      (loaded) => {
        this.state = 'open';
        return loaded;
      },
      (error: unknown) => {
        this.failed = error instanceof Error ? error : new Error(String(error));
        this.state = 'open';
        throw error;
      },
    );
  }

  save(batch: PersistBatch): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'save', batch, resolve, reject }));
  }

  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.task(async () => {
      const newest = this.snapshots.at(-1);
      // An older snapshot than the one stored adds nothing.
      if (newest && newest.index > snapshot.metadata.index) return;
      await this.writeSnapshotFile(snapshot);
      await this.pruneSnapshots(undefined);
    });
  }

  compact(index: number): Promise<void> {
    return this.task(async () => {
      // Whole segments only, oldest first, never the one being written. A prefix must go: replay starts from
      // the oldest remaining segment's header.
      let n = 0;
      while (n < this.segments.length - 1 && this.segments[n].maxIndex <= index) n++;
      if (n === 0) return;
      for (const segment of this.segments.slice(0, n)) await this.fs.unlink(join(this.walDir, segment.name));
      // Durable deletions, all or none: a later crash must not bring back a non-prefix of them.
      await this.fs.fsyncDir(this.walDir);
      this.segments = this.segments.slice(n);
      this.logger.debug('file WAL compacted', { index, segmentsDeleted: n });
    });
  }

  close(): Promise<void> {
    if (this.state === 'closing' || this.state === 'closed') return Promise.resolve();
    const closing = new Promise<void>((resolve, reject) =>
      this.jobs.push({
        kind: 'task',
        always: true,
        run: async () => {
          const active = this.active;
          this.active = undefined;
          await active?.close();
          await releaseLock(this.fs, this.lockPath, this.heldLock);
        },
        resolve,
        reject,
      }),
    );
    this.state = 'closing';
    if (!this.draining) void this.drain();
    return closing.finally(() => {
      this.state = 'closed';
    });
  }

  // --- the write queue: one job at a time; consecutive saves share one record, one write and one sync ---

  private task(run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'task', run, resolve, reject }));
  }

  private enqueue(job: Job): void {
    const refused = this.refusal();
    if (refused) {
      job.reject(refused);
      return;
    }
    this.jobs.push(job);
    if (!this.draining) void this.drain();
  }

  private refusal(): Error | undefined {
    if (this.state === 'closing' || this.state === 'closed') return new Error('FileWalStorage is closed');
    if (this.state !== 'open') return new Error('FileWalStorage: call load() before writing');
    if (this.failed)
      return new Error(`FileWalStorage failed earlier and refuses writes: ${this.failed.message}`);
    return undefined;
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.jobs.length > 0) {
        const first = this.jobs[0];
        if (first.kind === 'save') {
          let n = 1;
          while (n < this.jobs.length && this.jobs[n].kind === 'save') n++;
          await this.writeGroup(this.jobs.splice(0, n) as Extract<Job, { kind: 'save' }>[]);
          continue;
        }
        this.jobs.shift();
        if (this.failed && !first.always) {
          first.reject(new Error(`FileWalStorage failed earlier and refuses writes: ${this.failed.message}`));
          continue;
        }
        try {
          await first.run();
          first.resolve();
        } catch (error) {
          if (!first.always) this.fail(error);
          first.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private fail(error: unknown): void {
    this.failed ??= error instanceof Error ? error : new Error(String(error));
    // etcd's WAL panics here; the member stops (ReplicaIO.fatal). After a failed fsync the kernel may have dropped
    // the dirty pages, so a later fsync that "succeeds" proves nothing: no write is taken again (fsyncgate).
    const segment = this.segments.at(-1)?.name;
    this.logger.error('file WAL write failed; storage refuses further writes', {
      error: String(error),
      ...(segment ? { file: join(this.walDir, segment) } : { dir: this.dir }),
    });
  }

  private async writeGroup(jobs: Extract<Job, { kind: 'save' }>[]): Promise<void> {
    const accepted: Extract<Job, { kind: 'save' }>[] = [];
    const ops: BatchOp[] = [];
    let last = this.logLast;
    for (const job of jobs) {
      if (this.failed) {
        job.reject(new Error(`FileWalStorage failed earlier and refuses writes: ${this.failed.message}`));
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
    try {
      // A received snapshot's file goes first: a WAL marker must never point at a missing snapshot.
      for (const job of accepted) if (job.batch.snapshot) await this.writeSnapshotFile(job.batch.snapshot);
      if (this.activeSize >= this.segmentSize && this.activeSize > this.activeHeaderSize)
        await this.cutSegment();
      // Encoding copies the callers' bytes: they may reuse their arrays once we resolve.
      const record = this.writer.frame(RECORD_BATCH, encodeBatch(ops));
      const active = this.active!;
      await active.write(record, this.activeSize);
      // Commit-index-only batches are written without a sync (PersistBatch.commitOnly); the next synced write
      // makes them durable with it, and recovery drops a torn tail.
      if (accepted.some((job) => !job.batch.commitOnly)) await this.datasync(active);
      this.activeSize += record.length;
      const segment = this.segments[this.segments.length - 1];
      for (const op of ops) this.apply(op, segment);
      for (const op of ops) if (op.marker) await this.pruneSnapshots(op.marker);
    } catch (error) {
      this.fail(error);
      for (const job of accepted) job.reject(error);
      return;
    }
    for (const job of accepted) job.resolve();
  }

  /** fdatasync, warning as etcd's WAL does (wal.go sync) when it takes longer than a second. */
  private async datasync(file: WalFile): Promise<void> {
    const start = performance.now();
    await file.datasync();
    const took = performance.now() - start;
    if (took > WARN_SYNC_MS) {
      this.logger.warn('slow fdatasync', {
        took: `${(took / 1000).toFixed(3)}s`,
        'expected-duration': `${WARN_SYNC_MS / 1000}s`,
      });
    }
  }

  private apply(op: BatchOp, segment: Segment): void {
    if (op.marker) {
      this.marker = op.marker;
      this.logLast = op.marker.index;
    }
    if (op.entries.length > 0) this.logLast = op.entries[op.entries.length - 1].index;
    if (op.hardState) this.hardState = { ...op.hardState };
    segment.maxIndex = Math.max(segment.maxIndex, this.logLast);
  }

  // --- segments and snapshot files ---

  /** Creates segment `seq` holding the current state in its header, and makes it the one written to. */
  private async cutSegment(): Promise<void> {
    const seq = (this.segments.at(-1)?.seq ?? 0) + 1;
    const name = `${hex16(seq)}-${hex16(this.logLast + 1)}.wal`;
    const header: SegmentHeader = {
      seq,
      prevIndex: this.logLast,
      hardState: this.hardState,
      marker: this.marker,
    };
    const record = this.writer.frame(RECORD_SEGMENT_HEADER, encodeSegmentHeader(header));
    const tmp = join(this.walDir, `${name}.tmp`);
    const file = await this.fs.open(tmp, 'w');
    try {
      await file.write(record, 0);
      await file.sync();
      await this.fs.rename(tmp, join(this.walDir, name));
      await this.fs.fsyncDir(this.walDir);
    } catch (error) {
      await file.close().catch(() => {});
      throw error;
    }
    const previous = this.active;
    this.active = file;
    this.activeSize = record.length;
    this.activeHeaderSize = record.length;
    this.segments.push({ seq, name, maxIndex: this.logLast });
    await previous?.close();
    this.logger.debug('file WAL segment created', { file: join(this.walDir, name) });
  }

  private async writeSnapshotFile(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.metadata;
    const name = `${hex16(term)}-${hex16(index)}.snap`;
    const tmp = join(this.snapDir, `${name}.tmp`);
    const file = await this.fs.open(tmp, 'w');
    try {
      await file.write(frameRecord(RECORD_SNAPSHOT, encodeSnapshot(snapshot)), 0);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.fs.rename(tmp, join(this.snapDir, name));
    await this.fs.fsyncDir(this.snapDir);
    this.snapshots = this.snapshots.filter((s) => s.name !== name);
    this.snapshots.push({ name, index, term });
    this.snapshots.sort(compareSnapshots);
  }

  /**
   * Drops snapshot files beyond the newest few. After a received snapshot (`received`), files newer than it go
   * too: it replaced the log they described.
   */
  private async pruneSnapshots(received: SnapshotMarker | undefined): Promise<void> {
    const newer = received ? this.snapshots.filter((s) => s.index > received.index) : [];
    const rest = this.snapshots.filter((s) => !newer.includes(s));
    const old = rest.slice(0, Math.max(0, rest.length - this.snapshotsToKeep));
    for (const s of [...newer, ...old]) await this.fs.unlink(join(this.snapDir, s.name));
    this.snapshots = rest.slice(old.length);
    // Only a newer file coming back would matter; older ones are harmless if a crash revives them.
    if (newer.length > 0) await this.fs.fsyncDir(this.snapDir);
  }

  // --- recovery ---

  private async recover(): Promise<LoadedState> {
    const fresh = !(await this.exists(this.walDir));
    if (fresh) {
      await this.fs.mkdir(this.walDir);
      await this.fs.mkdir(this.snapDir);
      await this.fs.fsyncDir(this.dir);
      await this.fs.fsyncDir(dirname(this.dir));
    } else if (!(await this.exists(this.snapDir))) {
      await this.fs.mkdir(this.snapDir);
      await this.fs.fsyncDir(this.dir);
    }
    const snapshot = await this.loadSnapshots();
    const names = await this.segmentNames();
    if (names.length === 0) {
      if (snapshot) throw new Error(`file WAL: ${this.walDir} has no segments but snapshot files exist`);
      await this.cutSegment();
      return { hardState: EMPTY_HARD_STATE, snapshot: undefined, entries: [] };
    }

    // Replay. `log` holds entries logFirst..last (a marker or an overwrite below logFirst restarts it).
    let log: Entry[] = [];
    let logFirst = 1;
    let last = 0;
    let hardState = EMPTY_HARD_STATE;
    let marker: SnapshotMarker | undefined;
    let tornAt: { path: string; offset: number; size: number; reason: string } | undefined;
    for (let i = 0; i < names.length; i++) {
      const { name, seq, firstIndex } = names[i];
      const path = join(this.walDir, name);
      const bytes = await this.fs.readFile(path);
      const first = readRecord(bytes, 0);
      if (!first.ok || first.type !== RECORD_SEGMENT_HEADER) {
        throw corrupt(
          path,
          0,
          first.ok ? `record type ${first.type} where the segment header belongs` : first.reason,
        );
      }
      const header = decodeOr(path, 0, () => decodeSegmentHeader(first.payload));
      if (header.seq !== seq || header.prevIndex + 1 !== firstIndex) {
        throw corrupt(
          path,
          0,
          `segment header (seq ${header.seq}, prevIndex ${header.prevIndex}) does not match the file name`,
        );
      }
      if (i === 0) {
        last = header.prevIndex;
        logFirst = last + 1;
        hardState = header.hardState;
        marker = header.marker;
      } else if (header.prevIndex !== last) {
        throw corrupt(
          path,
          0,
          `segment starts after index ${header.prevIndex} but the log before it ends at ${last}`,
        );
      }
      const segment: Segment = { seq, name, maxIndex: header.prevIndex };
      this.activeHeaderSize = first.next;
      this.segments.push(segment);
      let offset = first.next;
      while (offset < bytes.length) {
        const record = readRecord(bytes, offset);
        if (!record.ok) {
          const following = findValidRecord(bytes, offset);
          if (i === names.length - 1 && following < 0) {
            tornAt = { path, offset, size: bytes.length, reason: record.reason };
            break;
          }
          throw corrupt(
            path,
            offset,
            `${record.reason}, ${following >= 0 ? `and a valid record follows at offset ${following}` : 'and it is not the last segment'}`,
          );
        }
        if (record.type !== RECORD_BATCH)
          throw corrupt(path, offset, `unexpected record type ${record.type}`);
        const ops = decodeOr(path, offset, () => decodeBatch(record.payload));
        for (const op of ops) {
          if (op.marker) {
            marker = op.marker;
            last = op.marker.index;
            log = [];
            logFirst = last + 1;
          }
          if (op.entries.length > 0) {
            const from = op.entries[0].index;
            if (from > last + 1) throw corrupt(path, offset, `gap in the log: index ${last} then ${from}`);
            if (from < logFirst) {
              log = [];
              logFirst = from;
            } else {
              log.length = from - logFirst;
            }
            for (const e of op.entries) log.push(e);
            last = op.entries[op.entries.length - 1].index;
          }
          if (op.hardState) hardState = op.hardState;
          segment.maxIndex = Math.max(segment.maxIndex, last);
        }
        offset = record.next;
      }
    }

    const tail = names[names.length - 1];
    const tailPath = join(this.walDir, tail.name);
    this.active = await this.fs.open(tailPath, 'r+');
    if (tornAt) {
      await this.active.truncate(tornAt.offset);
      await this.active.sync();
      this.logger.warn('file WAL: truncated a torn tail (a write cut short by a crash)', {
        file: tornAt.path,
        offset: tornAt.offset,
        droppedBytes: tornAt.size - tornAt.offset,
        reason: tornAt.reason,
      });
    }
    this.activeSize = await this.active.size();

    // Reconcile with the newest snapshot file.
    const base = snapshot?.metadata.index ?? 0;
    if (marker && base < marker.index) {
      throw new Error(
        `file WAL: the log was reset by a snapshot at index ${marker.index}, but the newest snapshot file in ` +
          `${this.snapDir} is ${snapshot ? `at index ${base}` : 'missing'}; refusing to load`,
      );
    }
    let reset = false;
    if (snapshot) {
      const at = base >= logFirst && base <= last ? log[base - logFirst] : undefined;
      if ((at && at.term !== snapshot.metadata.term) || last < base) {
        // A received snapshot whose WAL marker did not survive: finish replacing the log with it.
        this.logger.warn('file WAL: completing an interrupted snapshot install; entries after it discarded', {
          snapshotIndex: base,
          snapshotTerm: snapshot.metadata.term,
          lastIndex: last,
        });
        reset = true;
        log = [];
        last = base;
        logFirst = base + 1;
        marker = { index: base, term: snapshot.metadata.term };
      }
    }
    if (last > base && logFirst > base + 1) {
      throw new Error(
        `file WAL: entries ${base + 1} to ${logFirst - 1} are missing (the oldest segment, ${names[0].name}, ` +
          `starts after index ${logFirst - 1}, the newest snapshot is at ${base}); refusing to load`,
      );
    }
    const durable = Math.max(last, base);
    if (hardState.commit > durable) {
      this.logger.warn('file WAL: hard state commit beyond the last durable entry; clamped', {
        commit: hardState.commit,
        lastIndex: durable,
      });
      hardState = { ...hardState, commit: durable };
    }
    this.logLast = last;
    this.hardState = hardState;
    this.marker = marker;
    if (reset) {
      const record = this.writer.frame(
        RECORD_BATCH,
        encodeBatch([{ marker: marker, entries: [], hardState: undefined }]),
      );
      await this.active.write(record, this.activeSize);
      await this.active.datasync();
      this.activeSize += record.length;
      this.segments[this.segments.length - 1].maxIndex = Math.max(this.segments.at(-1)!.maxIndex, last);
    }
    const from = Math.max(0, base + 1 - logFirst);
    return { hardState: { ...hardState }, snapshot, entries: log.slice(from).map(copyEntry) };
  }

  private async exists(path: string): Promise<boolean> {
    try {
      await this.fs.readdir(path);
      return true;
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
  }

  /** Segment files in sequence order, leftovers of unfinished creations removed; refuses a missing seq. */
  private async segmentNames(): Promise<{ name: string; seq: number; firstIndex: number }[]> {
    const found: { name: string; seq: number; firstIndex: number }[] = [];
    for (const name of await this.fs.readdir(this.walDir)) {
      const match = SEGMENT_NAME.exec(name);
      if (match)
        found.push({ name, seq: Number.parseInt(match[1], 16), firstIndex: Number.parseInt(match[2], 16) });
      else if (name.endsWith('.wal.tmp')) await this.fs.unlink(join(this.walDir, name));
    }
    found.sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < found.length; i++) {
      if (found[i].seq !== found[i - 1].seq + 1) {
        throw new Error(
          `file WAL: segment(s) missing between ${found[i - 1].name} and ${found[i].name} in ${this.walDir}; refusing to load`,
        );
      }
    }
    return found;
  }

  /** Lists snapshot files and reads the newest, which must be intact. */
  private async loadSnapshots(): Promise<Snapshot | undefined> {
    const files: SnapshotFile[] = [];
    for (const name of await this.fs.readdir(this.snapDir)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match) {
        files.push({ name, term: Number.parseInt(match[1], 16), index: Number.parseInt(match[2], 16) });
      } else if (name.endsWith('.snap.tmp')) {
        await this.fs.unlink(join(this.snapDir, name));
      }
    }
    files.sort(compareSnapshots);
    this.snapshots = files;
    const newest = files.at(-1);
    if (!newest) return undefined;
    const path = join(this.snapDir, newest.name);
    const bytes = await this.fs.readFile(path);
    const record = readRecord(bytes, 0);
    if (!record.ok) throw corrupt(path, 0, record.reason);
    if (record.type !== RECORD_SNAPSHOT || record.next !== bytes.length) {
      throw corrupt(path, record.ok ? record.next : 0, 'not a single snapshot record');
    }
    const snapshot = decodeOr(path, 0, () => decodeSnapshot(record.payload));
    if (snapshot.metadata.index !== newest.index || snapshot.metadata.term !== newest.term) {
      throw corrupt(
        path,
        0,
        `snapshot at ${snapshot.metadata.index}/${snapshot.metadata.term} under another name`,
      );
    }
    return snapshot;
  }
}

function compareSnapshots(a: SnapshotFile, b: SnapshotFile): number {
  return a.index - b.index || a.term - b.term;
}

/** Why `entries` cannot be appended after index `last`, or undefined. */
function checkAppend(entries: readonly Entry[], last: number): string | undefined {
  if (entries.length === 0) return undefined;
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].index !== entries[i - 1].index + 1) {
      return `entries not contiguous at index ${entries[i - 1].index}`;
    }
  }
  const first = entries[0].index;
  if (first < 1) return `entry index ${first} is below 1`;
  if (first > last + 1) return `gap in log: last stored index ${last}, batch starts at ${first}`;
  return undefined;
}

function decodeOr<T>(path: string, offset: number, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw corrupt(path, offset, error instanceof Error ? error.message : String(error));
  }
}
