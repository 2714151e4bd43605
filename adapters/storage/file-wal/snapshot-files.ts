// The snapshot files, <dir>/snap/<term>-<index>.snap (format in index.ts): writing one durably, keeping the
// newest few, and reading the newest back on load (it must be intact).

import { join } from 'node:path';
import type { Snapshot } from '../../../src/raft/types.ts';
import { decodeSnapshot, encodeSnapshotPrefix, type SnapshotMarker } from './codec.ts';
import type { WalFs } from './fs.ts';
import {
  corrupt,
  decodeOr,
  HEADER_SIZE,
  PayloadCrc,
  RECORD_SNAPSHOT,
  readRecord,
  recordHeader,
} from './record.ts';
import { hex16 } from './segments.ts';

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
    const written = this.writing.then(() => this.writeNow(snapshot));
    this.writing = written.catch(() => {});
    return written;
  }

  /** Resolves once no snapshot file is being written. */
  idle(): Promise<void> {
    return this.writing;
  }

  private async writeNow(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.metadata;
    const name = `${hex16(term)}-${hex16(index)}.snap`;
    const tmp = join(this.dir, `${name}.tmp`);
    const file = await this.fs.open(tmp, 'w');
    try {
      // One record, written in two pieces so that the (possibly very large) data is not copied.
      const prefix = encodeSnapshotPrefix(snapshot);
      const head = new Uint8Array(HEADER_SIZE + prefix.length);
      head.set(recordHeader(RECORD_SNAPSHOT, [prefix, snapshot.data]), 0);
      head.set(prefix, HEADER_SIZE);
      await file.write(head, 0);
      await file.write(snapshot.data, head.length);
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

  /** Lists snapshot files (removing leftovers of unfinished writes) and reads the newest, which must be intact. */
  async load(): Promise<Snapshot | undefined> {
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
    // The CRC is computed as the file is read, where the file system can read in pieces.
    const crc = new PayloadCrc();
    const bytes = this.fs.readFileChunks
      ? await this.fs.readFileChunks(path, (chunk, offset) => crc.add(chunk, offset))
      : await this.fs.readFile(path);
    const record = readRecord(bytes, 0, crc.value);
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
