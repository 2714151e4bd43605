// The keyspace snapshot's binary layout (format 2): one buffer sized in a first pass and filled in a second, so
// that a million keys encode as a few hundred MB of copies instead of a million msgpack arrays (format 1 took
// tens of seconds of one event loop at that size; see snapshot.ts, which still reads format 1).
//
//   "EKV2"  currentRev f64  compactRev f64  count f64
//   count × record:
//     main f64  sub u32  flags u8 (1 = tombstone)  keyLength u32  key
//     unless a tombstone: valueLength u32  value  createRevision f64  version f64  lease i64
//
// Little-endian. Every length and count is checked against what is left, so bytes from a peer or a damaged
// file give a `corrupt` error, never a huge allocation or a read past the end.

import type { KeyValue } from '../etcd/kv.ts';
import type { ByteWindow } from './byte-reader.ts';
import { EMPTY_BYTES, writeMapKey } from './bytes.ts';
import { NO_LEASE } from './lease-keys.ts';
import { KvRecord } from './record.ts';
import type { SnapshotRecord } from './snapshot.ts';

export const MAGIC = [0x45, 0x4b, 0x56, 0x32]; // "EKV2"
const RECORD_FIXED = 8 + 4 + 1 + 4;
const VALUE_FIXED = 4 + 8 + 8 + 8;
/** The smallest record (a tombstone of an empty key): bounds the count a buffer can claim. */
const MIN_RECORD = RECORD_FIXED;

/** Bytes the snapshot holds besides its records. */
export const SNAPSHOT_HEADER_BYTES = 4 + 8 * 3;

/** Bytes one record takes in the snapshot (History keeps their sum, so the size is known without encoding). */
export function recordSize(kv: KeyValue, tombstone: boolean): number {
  const stored = kv instanceof KvRecord;
  const keyLength = stored ? kv.mapKey.length : kv.key.length;
  return (
    RECORD_FIXED + keyLength + (tombstone ? 0 : VALUE_FIXED + (stored ? kv.valueLength : kv.value.length))
  );
}

/** A record's value for encoding: a stored record's is read for a scan (copied at once, not kept in memory). */
function storedValue(kv: KeyValue): Uint8Array {
  return kv instanceof KvRecord ? kv.peekValue() : kv.value;
}

export function encodeBinary(
  currentRev: number,
  compactRev: number,
  records: readonly SnapshotRecord[],
): Uint8Array {
  let size = SNAPSHOT_HEADER_BYTES;
  for (const record of records) size += recordSize(record.kv, record.tombstone);
  const out = new Uint8Array(size);
  const writer = new SnapshotWriter(
    { currentRev, compactRev, count: records.length, size },
    records.values(),
    out,
    0,
  );
  writer.step(Number.POSITIVE_INFINITY);
  return out;
}

/** What a snapshot will hold, known before writing it (History keeps the count and the byte size). */
export interface SnapshotShape {
  readonly currentRev: number;
  readonly compactRev: number;
  readonly count: number;
  /** The whole encoding's length, header included. */
  readonly size: number;
}

/**
 * Writes a snapshot into `out` at `offset` (exactly `shape.size` bytes) from records that no longer change, a
 * bounded number of records per step: a host can spread a large keyspace's snapshot over several turns of its
 * event loop, with the store taking writes in between (the records were captured at one revision).
 */
export class SnapshotWriter {
  private readonly shape: SnapshotShape;
  private readonly records: Iterator<SnapshotRecord>;
  private readonly out: Uint8Array;
  private readonly offset: number;
  private readonly view: DataView;
  private at: number;
  private written = 0;

  constructor(shape: SnapshotShape, records: Iterator<SnapshotRecord>, out: Uint8Array, offset: number) {
    this.shape = shape;
    this.records = records;
    this.out = out;
    this.offset = offset;
    this.view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    writeHeader(out, this.view, offset, shape);
    this.at = offset + SNAPSHOT_HEADER_BYTES;
  }

  /** Writes up to `budget` more records; true once every record is written. */
  step(budget: number): boolean {
    const { out, view } = this;
    let at = this.at;
    for (let n = 0; n < budget; n++) {
      const next = this.records.next();
      if (next.done) {
        this.at = at;
        if (this.written !== this.shape.count || at !== this.offset + this.shape.size) throw changed();
        return true;
      }
      if (++this.written > this.shape.count) throw changed();
      at = writeRecord(out, view, at, next.value);
    }
    this.at = at;
    return false;
  }
}

function writeHeader(out: Uint8Array, view: DataView, at: number, shape: SnapshotShape): void {
  out.set(MAGIC, at);
  view.setFloat64(at + 4, shape.currentRev, true);
  view.setFloat64(at + 12, shape.compactRev, true);
  view.setFloat64(at + 20, shape.count, true);
}

/** Encodes one record at `at` (recordSize bytes); returns where the next one goes. */
function writeRecord(out: Uint8Array, view: DataView, at: number, record: SnapshotRecord): number {
  const { main, sub, kv, tombstone } = record;
  view.setFloat64(at, main, true);
  view.setUint32(at + 8, sub, true);
  out[at + 12] = tombstone ? 1 : 0;
  at = writeKey(out, view, at, kv);
  if (tombstone) return at;
  const value = storedValue(kv);
  view.setUint32(at, value.length, true);
  out.set(value, at + 4);
  at += 4 + value.length;
  view.setFloat64(at, kv.createRevision, true);
  view.setFloat64(at + 8, kv.version, true);
  view.setBigInt64(at + 16, kv.lease, true);
  return at + 24;
}

/** A record's key length and bytes; a stored record's are written from its string (one char per byte). */
function writeKey(out: Uint8Array, view: DataView, at: number, kv: KeyValue): number {
  if (kv instanceof KvRecord) {
    const n = kv.mapKey.length;
    view.setUint32(at + 13, n, true);
    writeMapKey(kv.mapKey, out, at + RECORD_FIXED);
    return at + RECORD_FIXED + n;
  }
  view.setUint32(at + 13, kv.key.length, true);
  out.set(kv.key, at + RECORD_FIXED);
  return at + RECORD_FIXED + kv.key.length;
}

/**
 * The bytes SnapshotWriter writes, produced into successive buffers of any length instead of one of the whole
 * size: a storage writes a large keyspace's snapshot through one reused buffer (LogStorage.saveSnapshotStream).
 * Whole records go into each buffer while they fit; one larger than the buffer is encoded alone and handed out in
 * pieces.
 */
export class SnapshotChunks {
  private readonly shape: SnapshotShape;
  private readonly records: Iterator<SnapshotRecord>;
  /** Bytes encoded but not handed out yet (the header first, then any record larger than a buffer). */
  private pending: Uint8Array;
  private pendingAt = 0;
  /** The next record, taken from the iterator but not encoded yet (it did not fit). */
  private next: SnapshotRecord | undefined;
  private written = 0;
  private given = 0;

  constructor(shape: SnapshotShape, records: Iterator<SnapshotRecord>) {
    this.shape = shape;
    this.records = records;
    this.pending = new Uint8Array(SNAPSHOT_HEADER_BYTES);
    writeHeader(this.pending, new DataView(this.pending.buffer), 0, shape);
  }

  /** Fills `out` from its start with the next bytes; returns how many (0 once every byte was given). */
  fill(out: Uint8Array): number {
    let at = this.copyPending(out, 0);
    if (this.pendingAt < this.pending.length) return this.count(at);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (;;) {
      const record = this.next ?? this.take();
      if (record === undefined) return this.count(at);
      const size = recordSize(record.kv, record.tombstone);
      if (size <= out.length - at) {
        this.next = undefined;
        at = writeRecord(out, view, at, record);
        continue;
      }
      this.next = record;
      if (at > 0) return this.count(at);
      // Larger than a whole buffer: encoded alone, handed out over several calls.
      this.next = undefined;
      this.pending = new Uint8Array(size);
      this.pendingAt = 0;
      writeRecord(this.pending, new DataView(this.pending.buffer), 0, record);
      return this.count(this.copyPending(out, 0));
    }
  }

  private take(): SnapshotRecord | undefined {
    const next = this.records.next();
    if (next.done) {
      if (this.written !== this.shape.count) throw changed();
      return undefined;
    }
    if (++this.written > this.shape.count) throw changed();
    return next.value;
  }

  private copyPending(out: Uint8Array, at: number): number {
    const n = Math.min(this.pending.length - this.pendingAt, out.length - at);
    if (n <= 0) return at;
    out.set(this.pending.subarray(this.pendingAt, this.pendingAt + n), at);
    this.pendingAt += n;
    return at + n;
  }

  /** Counts what a call gave: never past the promised size, nor nothing before all of it. */
  private count(n: number): number {
    this.given += n;
    if (this.given > this.shape.size || (n === 0 && this.given !== this.shape.size)) throw changed();
    // Every byte given: the records are done with (their source may let go of them; see captureSnapshot).
    if (this.given === this.shape.size) this.records.return?.();
    return n;
  }
}

function changed(): Error {
  return new Error('mvcc: the records changed while their snapshot was written');
}

export interface BinaryHeader {
  readonly currentRev: number;
  readonly compactRev: number;
  readonly count: number;
}

/** True when the input's next bytes start format 2 (it reads them in if need be). */
export function startsBinary(input: ByteWindow): boolean {
  return input.need(4) && MAGIC.every((b, i) => input.bytes[input.at + i] === b);
}

/**
 * Reads format 2: the header, then each record. Keys and values are views of the input's buffer, right until the
 * next record is read: copy what is kept.
 */
export function decodeBinary(
  input: ByteWindow,
  corrupt: (detail: string) => Error,
): { header: BinaryHeader; records: Generator<SnapshotRecord> } {
  if (!input.need(SNAPSHOT_HEADER_BYTES)) throw corrupt('truncated header');
  const { view, at } = input;
  const header = {
    currentRev: integer(view.getFloat64(at + 4, true), corrupt, 'current revision'),
    compactRev: integer(view.getFloat64(at + 12, true) + 1, corrupt, 'compact revision') - 1, // -1: never compacted
    count: integer(view.getFloat64(at + 20, true), corrupt, 'record count'),
  };
  input.at += SNAPSHOT_HEADER_BYTES;
  if (header.count > input.left / MIN_RECORD) throw corrupt('record count past the end');
  return { header, records: readRecords(input, header.count, corrupt) };
}

function* readRecords(
  input: ByteWindow,
  count: number,
  corrupt: (detail: string) => Error,
): Generator<SnapshotRecord> {
  // Each record is made available whole (need) from its start, `at`, before it is read.
  const need = (n: number) => {
    if (!input.need(n)) throw corrupt('record past the end');
  };
  for (let i = 0; i < count; i++) {
    need(RECORD_FIXED);
    let { bytes, view, at } = input;
    const main = integer(view.getFloat64(at, true), corrupt, 'revision');
    const sub = view.getUint32(at + 8, true);
    const flags = bytes[at + 12];
    if (flags > 1) throw corrupt('bad record flags');
    const keyLength = view.getUint32(at + 13, true);
    if (flags === 1) {
      need(RECORD_FIXED + keyLength);
      ({ bytes, at } = input);
      const key = bytes.subarray(at + RECORD_FIXED, at + RECORD_FIXED + keyLength);
      input.at = at + RECORD_FIXED + keyLength;
      const kv: KeyValue = {
        key,
        value: EMPTY_BYTES,
        createRevision: 0,
        modRevision: main,
        version: 0,
        lease: 0n,
      };
      yield { main, sub, kv, tombstone: true };
      continue;
    }
    const valueAt = RECORD_FIXED + keyLength + 4;
    need(valueAt);
    const valueLength = input.view.getUint32(input.at + valueAt - 4, true);
    need(valueAt + valueLength + 24);
    ({ bytes, view, at } = input);
    const key = bytes.subarray(at + RECORD_FIXED, at + RECORD_FIXED + keyLength);
    const value = valueLength === 0 ? EMPTY_BYTES : bytes.subarray(at + valueAt, at + valueAt + valueLength);
    const tail = at + valueAt + valueLength;
    const createRevision = integer(view.getFloat64(tail, true), corrupt, 'create revision');
    const version = integer(view.getFloat64(tail + 8, true), corrupt, 'version');
    // One shared 0n for the records without a lease: each BigInt read is an object of its own (16 bytes a record).
    const lease =
      view.getUint32(tail + 16, true) | view.getUint32(tail + 20, true)
        ? view.getBigInt64(tail + 16, true)
        : NO_LEASE;
    input.at = tail + 24;
    yield {
      main,
      sub,
      kv: { key, value, createRevision, modRevision: main, version, lease },
      tombstone: false,
    };
  }
  if (input.left !== 0) throw corrupt('trailing bytes');
}

function integer(x: number, corrupt: (detail: string) => Error, what: string): number {
  if (!Number.isSafeInteger(x) || x < 0) throw corrupt(`bad ${what}`);
  return x;
}
