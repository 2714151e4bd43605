// The keyspace as bytes: every record still held (history not yet compacted included), the current and the
// compacted revision, records in revision order, so one state always gives the same bytes. Written in format 2
// (./snapshot-binary.ts); format 1 (msgpack arrays, what earlier versions wrote) is still read. Restoring replays
// the records into a fresh index, as etcd rebuilds its index from bbolt on start.

import { decode } from '@msgpack/msgpack';
import { EtcdError } from '../etcd/errors.ts';
import type { KeyValue } from '../etcd/kv.ts';
import { type ByteReader, ByteWindow, readRest } from './byte-reader.ts';
import { bytesToMapKey } from './bytes.ts';
import { KvState } from './kv-state.ts';
import { type KvRecord, kvRecord, tombstoneRecord } from './record.ts';
import { assertRevision } from './revision.ts';
import {
  decodeBinary,
  encodeBinary,
  SNAPSHOT_HEADER_BYTES,
  SnapshotChunks,
  SnapshotWriter,
  startsBinary,
} from './snapshot-binary.ts';
import type { ValueStoreOptions } from './value-store.ts';

const FORMAT_VERSION = 1;

// [main, sub, key, value, createRevision, version, lease, tombstone]; a tombstone has value/create/version/lease 0.
type RecordTuple = [number, number, Uint8Array, Uint8Array, number, number, bigint, boolean];

/** The keyspace's snapshot now, written at once (captureSnapshot's sizes come from History: one pass). */
export function encodeSnapshot(state: KvState): Uint8Array {
  const captured = captureSnapshot(state);
  const out = new Uint8Array(captured.size);
  captured.writer(out, 0).step(Number.POSITIVE_INFINITY);
  return out;
}

/**
 * The keyspace's snapshot as it is now, written later — in steps, while the store takes writes — into a buffer
 * of `size` bytes at some offset (see SnapshotWriter).
 */
export function captureSnapshot(state: KvState): {
  readonly size: number;
  writer(out: Uint8Array, offset: number): SnapshotWriter;
  /** The same bytes into successive buffers (a storage writing them through one reused buffer). */
  chunks(): SnapshotChunks;
} {
  const records = state.history.capture();
  // The records' values are read as the snapshot is written: until then no spill place of theirs is reused.
  const unpin = state.values.pin();
  const shape = {
    currentRev: state.currentRev,
    compactRev: state.compactRev,
    count: records.length,
    size: SNAPSHOT_HEADER_BYTES + state.history.bytes,
  };
  return {
    size: shape.size,
    writer: (out, offset) => new SnapshotWriter(shape, capturedRecords(records, unpin), out, offset),
    chunks: () => new SnapshotChunks(shape, capturedRecords(records, unpin)),
  };
}

function* capturedRecords(records: Iterable<KvRecord>, done: () => void): Generator<SnapshotRecord> {
  try {
    for (const kv of records) yield { main: kv.main, sub: kv.sub, kv, tombstone: kv.tombstone };
  } finally {
    done();
  }
}

/** One stored record as the snapshot carries it (etcd: one entry of the "key" bucket). */
export interface SnapshotRecord {
  readonly main: number;
  readonly sub: number;
  /** For a tombstone only `key` counts. */
  readonly kv: KeyValue;
  readonly tombstone: boolean;
}

/** The keyspace snapshot bytes from records in revision order (what an etcd backend's "key" bucket holds). */
export function encodeSnapshotRecords(
  currentRev: number,
  compactRev: number,
  records: readonly SnapshotRecord[],
): Uint8Array {
  return encodeBinary(currentRev, compactRev, records);
}

/** The records of snapshot bytes without building an index: revisions, compaction point, records in order. */
export function decodeSnapshotRecords(bytes: Uint8Array): {
  currentRev: number;
  compactRev: number;
  records: SnapshotRecord[];
} {
  const { currentRev, compactRev, records } = readSnapshot(ByteWindow.whole(bytes));
  // The records own their bytes (they are read as views of `bytes`).
  const owned = [...records].map(({ main, sub, kv, tombstone }) => ({
    main,
    sub,
    kv: { ...kv, key: kv.key.slice(), value: kv.value.slice() },
    tombstone,
  }));
  return { currentRev, compactRev, records: owned };
}

/** Either format: the revisions and the records, checked one by one as they are read. */
function readSnapshot(input: ByteWindow): {
  currentRev: number;
  compactRev: number;
  records: Iterable<SnapshotRecord>;
} {
  if (startsBinary(input)) {
    const { header, records } = decodeBinary(input, corrupt);
    return { currentRev: header.currentRev, compactRev: header.compactRev, records };
  }
  // Format 1 is decoded whole.
  const bytes = input.inMemory
    ? input.bytes.subarray(input.at, input.end)
    : readRest(input.rest(), input.left);
  let root: unknown;
  try {
    root = decode(bytes, { useBigInt64: true });
  } catch (err) {
    throw corrupt(err instanceof Error ? err.message : String(err));
  }
  if (!Array.isArray(root) || root.length !== 4 || toNumber(root[0]) !== FORMAT_VERSION) {
    throw corrupt('unknown snapshot format');
  }
  if (!Array.isArray(root[3])) throw corrupt('records missing');
  const records = (root[3] as unknown[]).map((tuple): SnapshotRecord => {
    const [main, sub, key, value, createRevision, version, lease, tombstone] = readRecord(tuple);
    return { main, sub, kv: { key, value, createRevision, modRevision: main, version, lease }, tombstone };
  });
  return { currentRev: toNumber(root[1]), compactRev: toNumber(root[2]), records };
}

/**
 * A keyspace from its snapshot, in memory (`bytes`) or read piece by piece (a ByteReader: a stored snapshot, never
 * whole in memory).
 */
export function decodeSnapshot(source: Uint8Array | ByteReader, values: ValueStoreOptions = {}): KvState {
  const whole = source instanceof Uint8Array;
  const snapshot = readSnapshot(whole ? ByteWindow.whole(source) : ByteWindow.over(source));
  const state = new KvState(values);
  // The records' values are views of `bytes`: the store keeps them there rather than copying them all. With a
  // spill, or read piece by piece, values are copied instead: the spill takes them as they come.
  if (whole && !state.values.spills) state.values.adopt(source.buffer as ArrayBuffer);
  state.currentRev = assertRevision(snapshot.currentRev, 'current revision');
  state.compactRev = snapshot.compactRev;
  let lastMain = 0;
  for (const { main, sub, kv: record, tombstone } of snapshot.records) {
    const { key, value, createRevision, version, lease } = record;
    if (main < lastMain || main > state.currentRev) throw corrupt(`record at ${main} out of order`);
    lastMain = main;
    const mapKey = bytesToMapKey(key);
    const last = state.index.latest(mapKey);
    const prev = last === undefined || last.tombstone ? undefined : last;
    if (tombstone) {
      if (prev === undefined) throw corrupt(`tombstone at ${main} for a key that does not exist`);
      const kv = tombstoneRecord(prev.mapKey, main, sub);
      state.history.append(kv);
      state.index.put(kv);
      state.leaseKeys.detach(prev.lease, prev.mapKey);
      continue;
    }
    if (version === 0) throw corrupt(`put at ${main} with version 0`);
    // Records of one key share the index's string of the key.
    const kv = kvRecord(last?.mapKey ?? mapKey, createRevision, main, version, lease, sub);
    state.values.keepAdopted(value, kv);
    state.history.append(kv);
    state.index.put(kv);
    if (prev) state.leaseKeys.detach(prev.lease, prev.mapKey);
    state.leaseKeys.attach(lease, kv.mapKey);
  }
  return state;
}

function readRecord(tuple: unknown): RecordTuple {
  if (!Array.isArray(tuple) || tuple.length !== 8) throw corrupt('bad record');
  const [main, sub, key, value, createRevision, version, lease, tombstone] = tuple as unknown[];
  if (!(key instanceof Uint8Array) || !(value instanceof Uint8Array) || typeof tombstone !== 'boolean') {
    throw corrupt('bad record');
  }
  return [
    assertRevision(toNumber(main)),
    assertRevision(toNumber(sub)),
    key.slice(), // decode may return views into the input buffer; the store must own its bytes
    value.slice(),
    assertRevision(toNumber(createRevision)),
    assertRevision(toNumber(version)),
    typeof lease === 'bigint' ? lease : BigInt(toNumber(lease)),
    tombstone,
  ];
}

// msgpack hands back small integers as numbers and int64-coded ones as bigints.
function toNumber(x: unknown): number {
  if (typeof x === 'number') return x;
  if (typeof x === 'bigint' && x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= BigInt(Number.MIN_SAFE_INTEGER)) {
    return Number(x);
  }
  throw corrupt(`expected an integer, got ${typeof x}`);
}

function corrupt(detail: string): EtcdError {
  return new EtcdError('DataLoss', `mvcc: corrupt snapshot: ${detail}`);
}
