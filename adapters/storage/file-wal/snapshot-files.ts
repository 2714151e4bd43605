// The snapshot files, <dir>/snap/<term>-<index>.snap (format in index.ts): writing one durably, keeping the
// newest few, and reading the newest back on load (it must be intact).

import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Snapshot, SnapshotMetadata } from '../../../src/raft/types.ts';
import { type SnapshotReader, type SnapshotSource, takePiece } from '../../../src/storage.ts';
import { decodeSnapshot, encodeSnapshotPrefix, type SnapshotMarker } from './codec.ts';
import type { WalFile, WalFs } from './fs.ts';
import {
  corrupt,
  decodeOr,
  HEADER_SIZE,
  headerFor,
  RECORD_SNAPSHOT,
  readRecord,
  recordHeader,
} from './record.ts';
import { hex16 } from './segments.ts';
import { openSnapshotReader } from './snapshot-reader.ts';

/**
 * Bytes of a streamed snapshot written at a time: ~1,000 records of 256-byte values, ~0.3 ms to encode once the
 * code is optimized; a member's first snapshot runs it unoptimized, ~10 ms per piece (a 1 MiB piece took 36–50).
 */
const STREAM_PIECE = 256 * 1024;

const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export interface SnapshotFile {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

export class SnapshotFiles {
  readonly dir: string;
  /** Oldest first. */
  list: SnapshotFile[] = [];
  private readonly fs: WalFs;
  /** Files kept (the newest ones), at least 1. */
  private readonly keep: number;

  constructor(fs: WalFs, dir: string, keep: number) {
    this.fs = fs;
    this.dir = dir;
    this.keep = keep;
  }

  /** Snapshot files being written, one after the other (a local one may be written while the log is). */
  private writing: Promise<void> = Promise.resolve();

  /** Written as `.tmp`, fsync'd, renamed, directory fsync'd; after any write already under way. */
  write(snapshot: Snapshot): Promise<void> {
    return this.queue(snapshot.metadata, async (file) => {
      // One record, written in two pieces so that the (possibly very large) data is not copied.
      const prefix = encodeSnapshotPrefix(snapshot);
      const head = new Uint8Array(HEADER_SIZE + prefix.length);
      head.set(recordHeader(RECORD_SNAPSHOT, [prefix, snapshot.data]), 0);
      head.set(prefix, HEADER_SIZE);
      await file.write(head, 0);
      await file.write(snapshot.data, head.length);
    });
  }

  /** As write, the data taken from `source` piece by piece as it is written (the same file). */
  writeStream(source: SnapshotSource): Promise<void> {
    return this.queue(source.metadata, (file) => writePieces(file, source));
  }

  /** Resolves once no snapshot file is being written. */
  idle(): Promise<void> {
    return this.writing;
  }

  private queue(metadata: SnapshotMetadata, fill: (file: WalFile) => Promise<void>): Promise<void> {
    const written = this.writing.then(() => this.writeNow(metadata, fill));
    this.writing = written.catch(() => {});
    return written;
  }

  private async writeNow(metadata: SnapshotMetadata, fill: (file: WalFile) => Promise<void>): Promise<void> {
    const { index, term } = metadata;
    const name = `${hex16(term)}-${hex16(index)}.snap`;
    const tmp = join(this.dir, `${name}.tmp`);
    const file = await this.fs.open(tmp, 'w');
    try {
      await fill(file);
      await file.sync();
    } finally {
      await file.close();
    }
    await this.fs.rename(tmp, join(this.dir, name));
    await this.fs.fsyncDir(this.dir);
    this.list = this.list.filter((s) => s.name !== name);
    this.list.push({ name, index, term });
    this.list.sort(compareSnapshots);
  }

  /**
   * Drops snapshot files beyond the newest few. After a received snapshot (`received`), files newer than it go
   * too: it replaced the log they described.
   */
  async prune(received: SnapshotMarker | undefined): Promise<void> {
    const newer = received ? this.list.filter((s) => s.index > received.index) : [];
    const rest = this.list.filter((s) => !newer.includes(s));
    const old = rest.slice(0, Math.max(0, rest.length - this.keep));
    for (const s of [...newer, ...old]) await this.fs.unlink(join(this.dir, s.name));
    this.list = rest.slice(old.length);
    // Only a newer file coming back would matter; older ones are harmless if a crash revives them.
    if (newer.length > 0) await this.fs.fsyncDir(this.dir);
  }

  /**
   * Lists snapshot files (removing leftovers of unfinished writes) and reads the newest, which must be intact:
   * with `asReader` (and a file system that reads in order), its data is left to read piece by piece (`reader`),
   * checked as it is read.
   */
  async load(asReader = false): Promise<{ snapshot: Snapshot; reader?: SnapshotReader } | undefined> {
    const files: SnapshotFile[] = [];
    for (const name of await this.fs.readdir(this.dir)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match) {
        files.push({ name, term: Number.parseInt(match[1], 16), index: Number.parseInt(match[2], 16) });
      } else if (name.endsWith('.snap.tmp')) {
        await this.fs.unlink(join(this.dir, name));
      }
    }
    files.sort(compareSnapshots);
    this.list = files;
    const newest = files.at(-1);
    if (!newest) return undefined;
    const path = join(this.dir, newest.name);
    const opened =
      asReader && this.fs.openSequential ? openSnapshotReader(this.fs.openSequential(path), path) : undefined;
    const loaded = opened
      ? { snapshot: { metadata: opened.metadata, data: NO_DATA }, reader: opened.reader }
      : { snapshot: await readWhole(this.fs, path) };
    const { index, term } = loaded.snapshot.metadata;
    if (index !== newest.index || term !== newest.term) {
      loaded.reader?.close();
      throw corrupt(path, 0, `snapshot at ${index}/${term} under another name`);
    }
    return loaded;
  }
}

const NO_DATA = new Uint8Array(0);

async function readWhole(fs: WalFs, path: string): Promise<Snapshot> {
  const bytes = await fs.readFile(path);
  const record = readRecord(bytes, 0);
  if (!record.ok) throw corrupt(path, 0, record.reason);
  if (record.type !== RECORD_SNAPSHOT || record.next !== bytes.length) {
    throw corrupt(path, record.next, 'not a single snapshot record');
  }
  return decodeOr(path, 0, () => decodeSnapshot(record.payload));
}

/**
 * The snapshot record from `source`: its data through two reused buffers (one filled while the other is written),
 * the CRC summed as they go, the header (which carries it) written last at the file's start.
 */
async function writePieces(file: WalFile, source: SnapshotSource): Promise<void> {
  const prefix = encodeSnapshotPrefix(source);
  let crc = crc32(prefix);
  let at = HEADER_SIZE + prefix.length;
  await file.write(prefix, HEADER_SIZE);
  const buffers = [new Uint8Array(STREAM_PIECE), new Uint8Array(STREAM_PIECE)];
  let writing: Promise<void> = Promise.resolve();
  try {
    for (let left = source.size, i = 0; left > 0; i++) {
      const buffer = buffers[i & 1];
      const n = takePiece(source, buffer, left);
      const piece = buffer.subarray(0, n);
      crc = crc32(piece, crc);
      await writing; // the other buffer's write, before this one goes
      writing = file.write(piece, at);
      at += n;
      left -= n;
    }
    await writing;
  } finally {
    await writing.catch(() => {}); // never leave a write running when a fill failed
  }
  takePiece(source, buffers[0], 0);
  await file.write(headerFor(RECORD_SNAPSHOT, prefix.length + source.size, crc), 0);
}

function compareSnapshots(a: SnapshotFile, b: SnapshotFile): number {
  return a.index - b.index || a.term - b.term;
}
