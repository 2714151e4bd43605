// One stored version of a key: a row of etcd's "key" bucket, at revision main.sub. The index and the history point
// at this same object: a key's version costs one object. Its key is kept as a string of one char per byte
// (bytesToMapKey), shared with its KeyIndex and the key's other records: such a string costs ~16 bytes beyond the
// key's own, where a Uint8Array view costs ~100 (at a million keys, the difference is ~80 MB of heap). Its value is
// kept by the store's ValueStore (a segment, an offset and a length: ./value-store.ts), and read from there; what
// reads and events hand out is a plain KeyValue made from the record (toKeyValue), never the record itself.
// A tombstone (a delete) has version 0 and createRevision 0, as etcd stores it. Most records of a large keyspace
// have no lease and are their write's only change, and many are keys' first versions: the smaller classes leave
// out what those imply (kvRecord picks the class).

import type { KeyValue } from '../etcd/kv.ts';
import { EMPTY_BYTES, mapKeyToBytes } from './bytes.ts';
import { NO_LEASE } from './lease-keys.ts';
import type { Revision } from './revision.ts';
import { packPlace, placeLength, placeOffset, type ValueHolder, type ValueSegment } from './value-store.ts';

/**
 * A key's first version, put without a lease as its write's first change (createRevision = modRevision, version 1,
 * no lease, sub 0): what a load of new keys stores, in 56 bytes of heap. Subclasses hold what it leaves out.
 */
export class KvRecord implements KeyValue, Revision, ValueHolder {
  /** The key, one char per byte (bytesToMapKey). */
  readonly mapKey: string;
  readonly modRevision: number;
  /** Where the value is (ValueStore.keep places it; relocate moves it): its segment, and packPlace's number. */
  valueSegment: ValueSegment | undefined = undefined;
  private valuePlace = 0;

  constructor(mapKey: string, modRevision: number) {
    this.mapKey = mapKey;
    this.modRevision = modRevision;
  }

  get createRevision(): number {
    return this.modRevision;
  }

  get version(): number {
    return 1;
  }

  get lease(): bigint {
    return NO_LEASE;
  }

  /** The change's place within its write (etcd's revision.sub). */
  get sub(): number {
    return 0;
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

  get valueOffset(): number {
    return placeOffset(this.valuePlace);
  }

  get valueLength(): number {
    return placeLength(this.valuePlace, this.valueSegment);
  }

  placeValue(segment: ValueSegment | undefined, offset: number, length: number): void {
    this.valuePlace = packPlace(segment, offset, length);
    this.valueSegment = segment;
  }
}

/** Any other version without a lease, its write's first change (a tombstone at sub 0 too): 72 bytes. */
class LaterRecord extends KvRecord {
  readonly #createRevision: number;
  readonly #version: number;

  constructor(mapKey: string, createRevision: number, modRevision: number, version: number) {
    super(mapKey, modRevision);
    this.#createRevision = createRevision;
    this.#version = version;
  }

  override get createRevision(): number {
    return this.#createRevision;
  }

  override get version(): number {
    return this.#version;
  }
}

/** A version with a lease or at a write's later change (sub > 0), a tombstone included: 88 bytes. */
class FullRecord extends LaterRecord {
  readonly #lease: bigint;
  readonly #sub: number;

  constructor(
    mapKey: string,
    createRevision: number,
    modRevision: number,
    version: number,
    lease: bigint,
    sub: number,
  ) {
    super(mapKey, createRevision, modRevision, version);
    this.#lease = lease === NO_LEASE ? NO_LEASE : lease; // a decoded 0n is an object of its own
    this.#sub = sub;
  }

  override get lease(): bigint {
    return this.#lease;
  }

  override get sub(): number {
    return this.#sub;
  }
}

/**
 * A stored version, in the smallest class that holds it: most records of a large keyspace are keys' first versions
 * or later versions, without a lease, each its write's only change.
 */
export function kvRecord(
  mapKey: string,
  createRevision: number,
  modRevision: number,
  version: number,
  lease: bigint,
  sub: number,
): KvRecord {
  if (sub !== 0 || lease !== NO_LEASE)
    return new FullRecord(mapKey, createRevision, modRevision, version, lease, sub);
  return version === 1 && createRevision === modRevision
    ? new KvRecord(mapKey, modRevision)
    : new LaterRecord(mapKey, createRevision, modRevision, version);
}

export function tombstoneRecord(mapKey: string, main: number, sub: number): KvRecord {
  return sub === 0 ? new LaterRecord(mapKey, 0, main, 0) : new FullRecord(mapKey, 0, main, 0, NO_LEASE, sub);
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
