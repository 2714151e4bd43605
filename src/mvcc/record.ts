// One stored version of a key: a row of etcd's "key" bucket, at revision main.sub. It is also the KeyValue that
// reads and events hand out, and the index and the history point at this same object: a key's version costs one
// object (it used to take a KeyValue, a record around it, a revision object in the index and list slots in both).
// A tombstone (a delete) has version 0 and createRevision 0, as etcd stores it.

import type { KeyValue } from '../etcd/kv.ts';
import { EMPTY_BYTES } from './bytes.ts';
import type { Revision } from './revision.ts';

export class KvRecord implements KeyValue, Revision {
  /** The same bytes for the record's life; only the index's key arena moves them (moveKey). */
  key: Uint8Array;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  /** The same bytes for the record's life; only the store's value arena moves them (moveValue). */
  value: Uint8Array;
  readonly lease: bigint;
  // Private, so that a record compares, spreads, clones and encodes exactly as a plain KeyValue does.
  readonly #sub: number;

  constructor(
    key: Uint8Array,
    createRevision: number,
    modRevision: number,
    version: number,
    value: Uint8Array,
    lease: bigint,
    sub: number,
  ) {
    this.key = key;
    this.createRevision = createRevision;
    this.modRevision = modRevision;
    this.version = version;
    this.value = value;
    this.lease = lease;
    this.#sub = sub;
  }

  /** The revision of the write (etcd's revision.main). */
  get main(): number {
    return this.modRevision;
  }

  /** The change's place within its write (etcd's revision.sub). */
  get sub(): number {
    return this.#sub;
  }

  get tombstone(): boolean {
    return this.version === 0;
  }

  /** The key's bytes, now kept at another place (./byte-arena.ts). */
  moveKey(key: Uint8Array): void {
    this.key = key;
  }

  /** The value's bytes, now kept at another place (./byte-arena.ts). */
  moveValue(value: Uint8Array): void {
    this.value = value;
  }
}

export function tombstoneRecord(key: Uint8Array, main: number, sub: number): KvRecord {
  return new KvRecord(key, 0, main, 0, EMPTY_BYTES, 0n, sub);
}
