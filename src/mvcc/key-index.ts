// etcd's keyIndex (mvcc/key_index.go): the revisions of one key. etcd groups them into generations, one per
// incarnation of the key, from the put that created it to the tombstone (delete) that ended it. Here the records
// themselves are listed, oldest first: a tombstone closes a generation, and each record carries its generation's
// create revision and its version, so the generations need no objects of their own.
//
//   put(1.0); put(2.0); tombstone(3.0); put(4.0); tombstone(5.0)  →  [1.0, 2.0, 3.0(t), 4.0, 5.0(t)]

import type { KvRecord } from './record.ts';
import { compareRevision } from './revision.ts';

/** Shared by every key with no record (never pushed to: the first record replaces it). */
const NONE: KvRecord[] = [];

export class KeyIndex {
  readonly key: Uint8Array;
  /** The key's records still held, in revision order. */
  private revs: KvRecord[] = NONE;

  constructor(key: Uint8Array) {
    this.key = key;
  }

  /** True when the key exists now (its newest record is a put). */
  get live(): boolean {
    const last = this.revs[this.revs.length - 1];
    return last !== undefined && !last.tombstone;
  }

  /** Nothing left to remember: a candidate for removal from the tree after compaction. */
  get empty(): boolean {
    return this.revs.length === 0;
  }

  /** The records held, oldest first. */
  records(): readonly KvRecord[] {
    return this.revs;
  }

  /** Adds a put's record (or, through tombstone(), a delete's); it must be newer than every record held. */
  put(record: KvRecord): void {
    const last = this.revs[this.revs.length - 1];
    if (last !== undefined && compareRevision(last, record) >= 0) {
      throw new Error(`mvcc: put revision ${record.main}.${record.sub} is not newer than ${last.main}`);
    }
    // A one-element literal is allocated at its size, where push() onto an empty array reserves room for 16.
    if (last === undefined) this.revs = [record];
    else this.revs.push(record);
  }

  /** Ends the live generation with a tombstone record. */
  tombstone(record: KvRecord): void {
    if (!this.live) throw new Error('mvcc: tombstone on a key that does not exist');
    this.put(record);
  }

  /** The key's record at `atRev`, or undefined if it did not exist then. */
  get(atRev: number): KvRecord | undefined {
    const i = this.newestAt(atRev);
    if (i < 0) return undefined;
    const r = this.revs[i];
    return r.tombstone ? undefined : r;
  }

  /**
   * Drops every record ≤ atRev except the newest one, which is kept (added to `available`) unless it is a
   * tombstone: that goes too, with the generation it closes (etcd keyIndex.compact).
   */
  compact(atRev: number, available: Set<KvRecord>): void {
    const i = this.newestAt(atRev);
    if (i < 0) return;
    const r = this.revs[i];
    const from = r.tombstone ? i + 1 : i;
    if (!r.tombstone) available.add(r);
    if (from > 0) this.revs = from === this.revs.length ? NONE : this.revs.slice(from);
  }

  /** What `compact(atRev)` would keep, without changing anything (etcd keyIndex.keep, used by HashKV). */
  keep(atRev: number, available: Set<KvRecord>): void {
    const i = this.newestAt(atRev);
    if (i >= 0 && !this.revs[i].tombstone) available.add(this.revs[i]);
  }

  /** Index of the newest record with main ≤ atRev, or -1. */
  private newestAt(atRev: number): number {
    const revs = this.revs;
    let i = revs.length - 1;
    while (i >= 0 && revs[i].modRevision > atRev) i--;
    return i;
  }
}
