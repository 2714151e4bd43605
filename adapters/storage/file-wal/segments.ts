// The WAL's segment files, <dir>/wal/<seq>-<first>.wal (format in index.ts): cutting a new one that carries the
// state so far in its header, the one open for appends, deleting old ones whole, listing them for replay.

import { join } from 'node:path';
import type { Logger } from '../../../src/env.ts';
import { encodeSegmentHeader, type SegmentHeader } from './codec.ts';
import type { WalFile, WalFs } from './fs.ts';
import { RECORD_SEGMENT_HEADER, type RecordWriter } from './record.ts';

/** etcd's warnSyncDuration: an fdatasync slower than this is logged as `slow fdatasync`. */
const WARN_SYNC_MS = 1000;

const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

/** How far ahead of its records the active segment is extended with zeros (see append), at most a segment. */
const ALLOCATE_STEP = 4 * 1024 * 1024;

export interface Segment {
  readonly seq: number;
  readonly name: string;
  /** The highest index this segment says anything about (entries, marker, its header's prevIndex). */
  maxIndex: number;
}

/** A segment file found on disk, by its name. */
export interface SegmentName {
  readonly name: string;
  readonly seq: number;
  readonly firstIndex: number;
}

/** 16 hex digits, as segment and snapshot file names spell numbers. */
export function hex16(n: number): string {
  return n.toString(16).padStart(16, '0');
}

export class SegmentFiles {
  readonly dir: string;
  /** Oldest first; the last is the one written to. */
  list: Segment[] = [];
  /** The newest segment, open for appending. */
  active: WalFile | undefined;
  /** Bytes written to the active segment (records; what follows up to `allocated` is zeros). */
  size = 0;
  /** The active segment's file size: records, then zeros allocated ahead of them (see append). */
  allocated = 0;
  /** The size of the active segment's header: a segment holding nothing else is not cut. */
  headerSize = 0;
  private readonly fs: WalFs;
  private readonly logger: Logger;
  private readonly writer: RecordWriter;

  private readonly allocateStep: number;

  /** `segmentSize`: where a segment is cut (the WAL's); the file is extended ahead of its records by less. */
  constructor(fs: WalFs, dir: string, logger: Logger, writer: RecordWriter, segmentSize: number) {
    this.fs = fs;
    this.dir = dir;
    this.logger = logger;
    this.writer = writer;
    this.allocateStep = Math.max(1, Math.min(ALLOCATE_STEP, segmentSize));
  }

  /**
   * Appends a framed record to the active segment, durably: one write to a file opened O_DSYNC ('r+d'), which
   * is the write and its fdatasync in one system call. As etcd preallocates its segments, the file is extended
   * ahead of the records (`allocateStep` bytes of zeros at a time): a write inside the file's size need not
   * make a new size durable, which made each append's sync about a quarter slower on ext4 here. Recovery reads
   * zeros after the last record as the end of the log.
   */
  async append(record: Uint8Array): Promise<void> {
    const active = this.active;
    if (!active) throw new Error('file WAL: no active segment');
    const end = this.size + record.length;
    if (end > this.allocated) {
      await active.truncate(end + this.allocateStep);
      this.allocated = end + this.allocateStep;
    }
    const start = performance.now();
    await active.write(record, this.size);
    this.warnIfSlow(performance.now() - start);
    this.size = end;
  }

  /**
   * Opens the segment named `name` for durable appends ('r+d'); it becomes the active one. The previous one is
   * cut to its records first (as etcd truncates its tail segment when it cuts), durably.
   */
  async activate(name: string): Promise<WalFile> {
    const previous = this.active;
    if (previous && this.allocated > this.size) {
      await previous.truncate(this.size);
      await previous.sync();
    }
    const file = await this.fs.open(join(this.dir, name), 'r+d');
    this.active = file;
    await previous?.close();
    this.allocated = await file.size();
    return file;
  }

  /** As etcd's WAL (wal.go sync): a sync slower than a second is logged. */
  private warnIfSlow(took: number): void {
    if (took > WARN_SYNC_MS) {
      this.logger.warn('slow fdatasync', {
        took: `${(took / 1000).toFixed(3)}s`,
        'expected-duration': `${WARN_SYNC_MS / 1000}s`,
      });
    }
  }

  /** Whether the active segment reached `limit` bytes and holds more than its header. */
  full(limit: number): boolean {
    return this.size >= limit && this.size > this.headerSize;
  }

  /**
   * Creates the next segment with `header` (the state when it is cut) and makes it the one written to. Created
   * as `.tmp`, header written and fsync'd, renamed, directory fsync'd: a segment always starts with a valid header.
   */
  async cut(header: Omit<SegmentHeader, 'seq'>): Promise<void> {
    const seq = (this.list.at(-1)?.seq ?? 0) + 1;
    const name = `${hex16(seq)}-${hex16(header.prevIndex + 1)}.wal`;
    const record = this.writer.frame(RECORD_SEGMENT_HEADER, encodeSegmentHeader({ seq, ...header }));
    const tmp = join(this.dir, `${name}.tmp`);
    const file = await this.fs.open(tmp, 'w');
    try {
      await file.write(record, 0);
      await file.sync();
      await this.fs.rename(tmp, join(this.dir, name));
      await this.fs.fsyncDir(this.dir);
    } finally {
      await file.close().catch(() => {});
    }
    await this.activate(name);
    this.size = record.length;
    this.headerSize = record.length;
    this.list.push({ seq, name, maxIndex: header.prevIndex });
    this.logger.debug('file WAL segment created', { file: join(this.dir, name) });
  }

  /** Deletes whole segments, oldest first and never the active one, whose entries are all at or below `index`. */
  async compact(index: number): Promise<void> {
    // A prefix must go: replay starts from the oldest remaining segment's header.
    let n = 0;
    while (n < this.list.length - 1 && this.list[n].maxIndex <= index) n++;
    if (n === 0) return;
    for (const segment of this.list.slice(0, n)) await this.fs.unlink(join(this.dir, segment.name));
    // Durable deletions, all or none: a later crash must not bring back a non-prefix of them.
    await this.fs.fsyncDir(this.dir);
    this.list = this.list.slice(n);
    this.logger.debug('file WAL compacted', { index, segmentsDeleted: n });
  }

  /** Segment files in sequence order, leftovers of unfinished creations removed; refuses a missing seq. */
  async names(): Promise<SegmentName[]> {
    const found: SegmentName[] = [];
    for (const name of await this.fs.readdir(this.dir)) {
      const match = SEGMENT_NAME.exec(name);
      if (match)
        found.push({ name, seq: Number.parseInt(match[1], 16), firstIndex: Number.parseInt(match[2], 16) });
      else if (name.endsWith('.wal.tmp')) await this.fs.unlink(join(this.dir, name));
    }
    found.sort((a, b) => a.seq - b.seq);
    for (let i = 1; i < found.length; i++) {
      if (found[i].seq !== found[i - 1].seq + 1) {
        throw new Error(
          `file WAL: segment(s) missing between ${found[i - 1].name} and ${found[i].name} in ${this.dir}; refusing to load`,
        );
      }
    }
    return found;
  }

  /** Closes the active segment (the storage is closing). */
  async close(): Promise<void> {
    const active = this.active;
    this.active = undefined;
    await active?.close();
  }
}
