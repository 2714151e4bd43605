// The records of one WAL segment as recovery replays them: read through one reused window (WalFs.openSequential),
// not as a buffer of the whole file. A segment is allocated 64 MB ahead of its records, and fresh memory costs
// ~2.6 ms per MB here: reading a full segment whole took ~200 ms of a restart, through a 4 MiB window ~25 ms.
// The window serves only the common case, valid records up to zeros (or the end of the file); at anything else —
// a bad or cut record, non-zero bytes after zeros — the file is read whole from there, and recovery judges it
// exactly as before (torn tail or corruption: ./recovery.ts). A record's payload is valid only until the next read.

import { crc32 } from 'node:zlib';
import type { SequentialFile, WalFs } from './fs.ts';
import { HEADER_SIZE, type ReadResult, readHeader, readRecord } from './record.ts';

/** The first window; a record larger than it gets a larger one. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** `at` returns this after the last record: zeros (space allocated ahead) or nothing follow it. */
export const END_OF_DATA = 'end';

export class SegmentRecords {
  /** The whole file, once the window gave up (or without openSequential). */
  private whole: Uint8Array | undefined;
  /** Where the whole file's data ends: the offset after its last byte that is not zero. */
  private dataEnd = 0;
  private file: SequentialFile | undefined;
  private readonly size: number;
  private buf: Uint8Array;
  /** The window holds the file's bytes [pos, pos + (end - start)) at buf[start, end). */
  private start = 0;
  private end = 0;
  private pos = 0;

  private readonly fs: WalFs;
  private readonly path: string;

  private constructor(fs: WalFs, path: string, file: SequentialFile | undefined, window: Uint8Array) {
    this.fs = fs;
    this.path = path;
    this.file = file;
    this.size = file?.size ?? 0;
    this.buf = window;
  }

  /** `window`: a buffer to reuse (what the previous segment's `window` returned), or undefined. */
  static async open(fs: WalFs, path: string, window?: Uint8Array): Promise<SegmentRecords> {
    const file = fs.openSequential?.(path);
    const records = new SegmentRecords(fs, path, file, window ?? new Uint8Array(file ? WINDOW_BYTES : 0));
    if (!file) await records.readWhole();
    return records;
  }

  /** The buffer the next segment may reuse. */
  get window(): Uint8Array {
    return this.buf;
  }

  /** The whole file (read whole once anything was irregular): what a torn tail or corruption is judged on. */
  get bytes(): Uint8Array | undefined {
    return this.whole;
  }

  /**
   * The record at `offset`, the offset after the previous one (0 first): END_OF_DATA after the last; a failed
   * result only once the file was read whole; undefined where the window gives up (then `reread(offset)`).
   */
  at(offset: number): ReadResult | typeof END_OF_DATA | undefined {
    if (this.whole) return offset >= this.dataEnd ? END_OF_DATA : readRecord(this.whole, offset);
    if (offset !== this.pos) return undefined;
    const have = this.fill(HEADER_SIZE);
    if (have === 0) return END_OF_DATA;
    if (have < HEADER_SIZE) return undefined;
    if (this.zeroHeader()) return this.zerosToEnd() ? END_OF_DATA : undefined;
    const header = readHeader(this.buf, this.start, this.size - this.pos);
    if (!header.ok) return undefined;
    const n = HEADER_SIZE + header.length;
    if (this.fill(n) < n) return undefined;
    const payload = this.buf.subarray(this.start + HEADER_SIZE, this.start + n);
    if (header.payloadCrc !== crc32(payload)) return undefined;
    this.start += n;
    this.pos += n;
    return { ok: true, type: header.type, payload, next: this.pos };
  }

  /** Reads the file whole (`at` answers from it from now on), and returns the record at `offset` from it. */
  async reread(offset: number): Promise<ReadResult | typeof END_OF_DATA> {
    this.close();
    await this.readWhole();
    return this.at(offset) as ReadResult | typeof END_OF_DATA;
  }

  close(): void {
    this.file?.close();
    this.file = undefined;
  }

  private async readWhole(): Promise<void> {
    this.whole = await this.fs.readFile(this.path);
    this.dataEnd = endOfData(this.whole);
  }

  /** Makes `n` bytes available at buf[start] (fewer at the end of the file); returns how many are. */
  private fill(n: number): number {
    if (this.end - this.start >= n) return n;
    const held = this.end - this.start;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
      bigger.set(this.buf.subarray(this.start, this.end));
      this.buf = bigger;
    } else if (this.start > 0) {
      this.buf.copyWithin(0, this.start, this.end);
    }
    this.start = 0;
    this.end = held;
    const file = this.file as SequentialFile;
    while (this.end < n) {
      const got = file.read(this.buf.subarray(this.end));
      if (got === 0) break;
      this.end += got;
    }
    return Math.min(n, this.end);
  }

  private zeroHeader(): boolean {
    for (let i = this.start; i < this.start + HEADER_SIZE; i++) if (this.buf[i] !== 0) return false;
    return true;
  }

  /** Whether everything from the window's start to the end of the file is zero (read through the window). */
  private zerosToEnd(): boolean {
    const file = this.file as SequentialFile;
    for (;;) {
      for (let i = this.start; i < this.end; i++) if (this.buf[i] !== 0) return false;
      this.start = 0;
      this.end = file.read(this.buf);
      if (this.end === 0) return true;
    }
  }
}

/** The offset after the last byte that is not zero (the zeros after it were allocated ahead, not written). */
export function endOfData(bytes: Uint8Array): number {
  let n = bytes.length;
  while (n > 0 && bytes[n - 1] === 0) n--;
  return n;
}
