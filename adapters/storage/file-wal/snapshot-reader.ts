// A snapshot file read as it is restored (LoadedState.snapshotReader): the header and the metadata from its first
// bytes, then the data through the restorer's buffer, the CRC summed as it goes and compared at the last byte. A
// million keys are a file of ~300 MB: read into one buffer, its fresh pages alone took ~0.6 s of a restart here,
// read through a reused one ~0.2 s.

import { crc32 } from 'node:zlib';
import type { SnapshotMetadata } from '../../../src/raft/types.ts';
import type { SnapshotReader } from '../../../src/storage.ts';
import { decodeSnapshotHead } from './codec.ts';
import type { SequentialFile } from './fs.ts';
import {
  corrupt,
  decodeOr,
  HEADER_SIZE,
  PAYLOAD_CRC_MISMATCH,
  RECORD_SNAPSHOT,
  readHeader,
} from './record.ts';

/** What is read first: the record's header and the snapshot's metadata (a few hundred bytes) fit many times. */
const HEAD_BYTES = 64 * 1024;

/**
 * The snapshot in `file` (at `path`), its data left to read; undefined when its metadata does not fit its first
 * bytes (the caller reads it whole). Throws `corrupt` for a header or metadata that is wrong. Closes `file` when
 * it throws, otherwise the reader does (close()).
 */
export function openSnapshotReader(
  file: SequentialFile,
  path: string,
): { metadata: SnapshotMetadata; reader: SnapshotReader } | undefined {
  try {
    return open(file, path);
  } catch (e) {
    file.close();
    throw e;
  }
}

function open(
  file: SequentialFile,
  path: string,
): { metadata: SnapshotMetadata; reader: SnapshotReader } | undefined {
  const size = file.size;
  const head = new Uint8Array(Math.min(HEAD_BYTES, size));
  readFully(file, head, path);
  const header = readHeader(head, 0, size);
  if (!header.ok) throw corrupt(path, 0, header.reason);
  if (header.type !== RECORD_SNAPSHOT || HEADER_SIZE + header.length !== size) {
    throw corrupt(path, 0, 'not a single snapshot record');
  }
  const payloadHead = head.subarray(HEADER_SIZE);
  const parsed = decodeOr(path, HEADER_SIZE, () => decodeSnapshotHead(payloadHead));
  if (parsed === undefined) {
    file.close();
    return undefined;
  }
  if (parsed.dataOffset + parsed.dataLength !== header.length) {
    throw corrupt(path, HEADER_SIZE, 'snapshot data length does not match its record');
  }
  let crc = crc32(payloadHead);
  // Data bytes already read with the head, handed out first.
  let pending = payloadHead.subarray(parsed.dataOffset);
  let unread = header.length - payloadHead.length;
  let closed = false;
  const check = () => {
    if (unread === 0 && crc !== header.payloadCrc) throw corrupt(path, 0, PAYLOAD_CRC_MISMATCH);
  };
  check();
  const reader: SnapshotReader = {
    size: parsed.dataLength,
    read(out) {
      if (pending.length > 0) {
        const n = Math.min(out.length, pending.length);
        out.set(pending.subarray(0, n), 0);
        pending = pending.subarray(n);
        return n;
      }
      if (unread === 0 || out.length === 0) return 0;
      const into = out.subarray(0, Math.min(out.length, unread));
      const n = file.read(into);
      if (n <= 0) throw corrupt(path, size - unread, 'file shorter than when it was opened');
      crc = crc32(into.subarray(0, n), crc);
      unread -= n;
      check();
      return n;
    },
    close() {
      if (closed) return;
      closed = true;
      file.close();
    },
  };
  return { metadata: parsed.metadata, reader };
}

function readFully(file: SequentialFile, into: Uint8Array, path: string): void {
  for (let at = 0; at < into.length; ) {
    const n = file.read(into.subarray(at));
    if (n <= 0) throw corrupt(path, at, 'file shorter than its size');
    at += n;
  }
}
