// Record framing shared by WAL segments and snapshot files (the format is described in index.ts).
//
// The header has its own CRC so that a reader can tell, at any byte offset, whether a real record starts there
// without trusting a length field that may be garbage: recovery uses that to prove that nothing valid follows a
// bad record before it calls the record a torn tail.

import { crc32 } from 'node:zlib';

export const HEADER_SIZE = 16;
/** No single record may be larger than this (a sanity bound for a corrupt length field). */
export const MAX_PAYLOAD = 0x7fff_ffff;

export const RECORD_SEGMENT_HEADER = 1;
export const RECORD_BATCH = 2;
export const RECORD_SNAPSHOT = 3;

export type RecordType = typeof RECORD_SEGMENT_HEADER | typeof RECORD_BATCH | typeof RECORD_SNAPSHOT;

function isRecordType(type: number): type is RecordType {
  return type === RECORD_SEGMENT_HEADER || type === RECORD_BATCH || type === RECORD_SNAPSHOT;
}

/** Frames records into one reusable buffer, so a save costs one copy of the payload and no allocation. */
export class RecordWriter {
  private buffer = new Uint8Array(64 * 1024);

  /** The framed record; valid until the next call. */
  frame(type: RecordType, payload: Uint8Array): Uint8Array {
    const size = HEADER_SIZE + payload.length;
    if (payload.length > MAX_PAYLOAD) throw new Error(`record too large: ${payload.length} bytes`);
    if (this.buffer.length < size) this.buffer = new Uint8Array(Math.max(size, this.buffer.length * 2));
    const out = this.buffer;
    const view = new DataView(out.buffer, out.byteOffset, HEADER_SIZE);
    view.setUint32(0, payload.length, true);
    view.setUint32(4, type, true); // type in byte 4, bytes 5..7 zero
    view.setUint32(8, crc32(payload), true);
    view.setUint32(12, crc32(out.subarray(0, 12)), true);
    out.set(payload, HEADER_SIZE);
    return out.subarray(0, size);
  }
}

/** The header of a record whose payload is `parts` in order (written after it without being joined). */
export function recordHeader(type: RecordType, parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  let crc = 0;
  for (const part of parts) {
    length += part.length;
    crc = crc32(part, crc);
  }
  return headerFor(type, length, crc);
}

/** The header of a record of `length` payload bytes whose CRC is `crc` (computed as the payload was written). */
export function headerFor(type: RecordType, length: number, crc: number): Uint8Array {
  if (length > MAX_PAYLOAD) throw new Error(`record too large: ${length} bytes`);
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setUint32(0, length, true);
  view.setUint32(4, type, true);
  view.setUint32(8, crc, true);
  view.setUint32(12, crc32(out.subarray(0, 12)), true);
  return out;
}

/** A fresh framed record (for one-off writes such as snapshot files). */
export function frameRecord(type: RecordType, payload: Uint8Array): Uint8Array {
  return new Uint8Array(new RecordWriter().frame(type, payload));
}

export type ReadResult =
  | { readonly ok: true; readonly type: RecordType; readonly payload: Uint8Array; readonly next: number }
  | { readonly ok: false; readonly reason: string };

/** A record's header read and checked (its payload not yet), or why it is not one. */
export type HeaderResult =
  | { readonly ok: true; readonly type: RecordType; readonly length: number; readonly payloadCrc: number }
  | { readonly ok: false; readonly reason: string };

/** Reads the header at `offset` of a record with `left` bytes from its start on (payload included). */
export function readHeader(bytes: Uint8Array, offset: number, left: number): HeaderResult {
  if (left < HEADER_SIZE || bytes.length - offset < HEADER_SIZE) {
    return {
      ok: false,
      reason: `incomplete header (${Math.min(left, bytes.length - offset)} of ${HEADER_SIZE} bytes)`,
    };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, HEADER_SIZE);
  if (view.getUint32(12, true) !== crc32(bytes.subarray(offset, offset + 12))) {
    return { ok: false, reason: 'header CRC mismatch' };
  }
  const length = view.getUint32(0, true);
  const type = view.getUint32(4, true);
  if (!isRecordType(type)) return { ok: false, reason: `unknown record type ${type}` };
  if (length > left - HEADER_SIZE) {
    return { ok: false, reason: `incomplete payload (${left - HEADER_SIZE} of ${length} bytes)` };
  }
  return { ok: true, type, length, payloadCrc: view.getUint32(8, true) };
}

/** Reads the record at `offset`, or says why there is no valid one there. */
export function readRecord(bytes: Uint8Array, offset: number): ReadResult {
  const header = readHeader(bytes, offset, bytes.length - offset);
  if (!header.ok) return header;
  const payload = bytes.subarray(offset + HEADER_SIZE, offset + HEADER_SIZE + header.length);
  if (header.payloadCrc !== crc32(payload)) return { ok: false, reason: PAYLOAD_CRC_MISMATCH };
  return { ok: true, type: header.type, payload, next: offset + HEADER_SIZE + header.length };
}

export const PAYLOAD_CRC_MISMATCH = 'payload CRC mismatch';

/**
 * The offset of the first valid record starting after `from`, or -1. Every byte offset is tried; the header
 * CRC makes a false match in garbage about a 1 in 2^32 event, and cheap checks skip most offsets before it.
 */
export function findValidRecord(bytes: Uint8Array, from: number): number {
  for (let offset = from + 1; offset + HEADER_SIZE <= bytes.length; offset++) {
    if (!isRecordType(bytes[offset + 4]) || bytes[offset + 5] | bytes[offset + 6] | bytes[offset + 7])
      continue;
    if (readRecord(bytes, offset).ok) return offset;
  }
  return -1;
}

/** The error that refuses to load a damaged file, naming it and the byte offset. */
export function corrupt(file: string, offset: number, what: string): Error {
  return new Error(`file WAL corrupt: ${file} at byte offset ${offset}: ${what}; refusing to load`);
}

/** Runs a payload decoder; what it throws becomes corruption at `path`, `offset`. */
export function decodeOr<T>(path: string, offset: number, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw corrupt(path, offset, error instanceof Error ? error.message : String(error));
  }
}
