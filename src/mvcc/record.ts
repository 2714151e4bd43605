// One stored version of a key: a row of etcd's "key" bucket, at revision main.sub. The index and the history point
// at this same object: a key's version costs one object. Its key is kept as a string of one char per byte
// (bytesToMapKey), shared with its KeyIndex and the key's other records: such a string costs ~16 bytes beyond the
// key's own, where a Uint8Array view costs ~100 (at a million keys, the difference is ~80 MB of heap). Its value is
// kept by the store's ValueStore (a segment, an offset and a length: ./value-store.ts), and read from there; what
// reads and events hand out is a plain KeyValue made from the record (toKeyValue), never the record itself.
// A tombstone (a delete) has version 0 and createRevision 0, as etcd stores it.

import type { KeyValue } from '../etcd/kv.ts';
import { EMPTY_BYTES, mapKeyToBytes } from './bytes.ts';
import type { Revision } from './revision.ts';
import type { ValueHolder, ValueSegment } from './value-store.ts';

export class KvRecord implements KeyValue, Revision, ValueHolder {
  /** The key, one char per byte (bytesToMapKey). */
  readonly mapKey: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly lease: bigint;
  /** The change's place within its write (etcd's revision.sub). */
  readonly sub: number;
  /** Where the value is (ValueStore.keep places it; relocate moves it). */
  valueSegment: ValueSegment | undefined = undefined;
  valueOffset = 0;
  valueLength = 0;

  constructor(
    mapKey: string,
    createRevision: number,
    modRevision: number,
    version: number,
    lease: bigint,
    sub: number,
  ) {
    this.mapKey = mapKey;
    this.createRevision = createRevision;
    this.modRevision = modRevision;
    this.version = version;
    this.lease = lease;
    this.sub = sub;
  }

  /** The key's bytes: a new array at each call. */
  get key(): Uint8Array {
    return mapKeyToBytes(this.mapKey);
  }

  /** The value: a view that stays right for as long as it is held (the stored bytes never change). */
  get value(): Uint8Array {
    const seg = this.valueSegment;
    return seg === undefined ? EMPTY_BYTES : seg.read(this.valueOffset, this.valueLength);
  }

  /** The value for a scan that copies it at once (a snapshot, a hash): valid only until the next peek. */
  peekValue(): Uint8Array {
    const seg = this.valueSegment;
    return seg === undefined ? EMPTY_BYTES : seg.peek(this.valueOffset, this.valueLength);
  }

  /** The revision of the write (etcd's revision.main). */
  get main(): number {
    return this.modRevision;
  }

  get tombstone(): boolean {
    return this.version === 0;
  }

  placeValue(segment: ValueSegment | undefined, offset: number, length: number): void {
    this.valueSegment = segment;
    this.valueOffset = offset;
    this.valueLength = length;
  }
}

export function tombstoneRecord(mapKey: string, main: number, sub: number): KvRecord {
  return new KvRecord(mapKey, 0, main, 0, 0n, sub);
}

/**
 * What a read or an event hands out for a record: a plain KeyValue, with the value read now unless given (empty
 * for keys_only; a scan's peekValue()).
 */
export function toKeyValue(record: KvRecord, value: Uint8Array = record.value): KeyValue {
  return {
    key: record.key,
    createRevision: record.createRevision,
    modRevision: record.modRevision,
    version: record.version,
    value,
    lease: record.lease,
  };
}
