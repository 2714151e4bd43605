// etcd's keyIndex (mvcc/key_index.go): the revisions of one key. etcd groups them into generations, one per
// incarnation of the key, from the put that created it to the tombstone (delete) that ended it. Here the records
// themselves are listed, oldest first: a tombstone closes a generation, and each record carries its generation's
// create revision and its version, so the generations need no objects of their own.
//
//   put(1.0); put(2.0); tombstone(3.0); put(4.0); tombstone(5.0)  →  [1.0, 2.0, 3.0(t), 4.0, 5.0(t)]
//
// Most keys hold one record (compaction leaves one per live key): the newest is a field of its own, and only
// the older ones take a list, so that such a key costs no array.

import type { KvRecord } from './record.ts';
import { compareRevision } from './revision.ts';

/** Shared by every key with at most one record (never pushed to: the first older record replaces it). */
const NONE: KvRecord[] = [];

export class KeyIndex {
  /** The key, one char per byte (bytesToMapKey), shared by its records. */
  readonly mapKey: string;
  /** The key's newest record, if any. */
  private newest: KvRecord | undefined = undefined;
  /** Its older records still held, in revision order. */
  private older: KvRecord[] = NONE;

  constructor(mapKey: string) {
    this.mapKey = mapKey;
  }

  /** True when the key exists now (its newest record is a put). */
  get live(): boolean {
    return this.newest !== undefined && !this.newest.tombstone;
  }

  /** The newest record, tombstone or not. */
  get latest(): KvRecord | undefined {
    return this.newest;
  }

  /** The one record held, when there is exactly one and it is a put (the index then holds it alone). */
  get only(): KvRecord | undefined {
    const newest = this.newest;
    return this.older === NONE && newest !== undefined && !newest.tombstone ? newest : undefined;
  }

  /** Nothing left to remember: a candidate for removal from the tree after compaction. */
  get empty(): boolean {
    return this.newest === undefined;
  }

  /** The records held, oldest first. */
  records(): readonly KvRecord[] {
    return this.newest === undefined ? NONE : [...this.older, this.newest];
  }

  /** Adds a put's record (or, through tombstone(), a delete's); it must be newer than every record held. */
  put(record: KvRecord): void {
    const last = this.newest;
    if (last !== undefined) {
      if (compareRevision(last, record) >= 0) {
        throw new Error(`mvcc: put revision ${record.main}.${record.sub} is not newer than ${last.main}`);
      }
      // A one-element literal is allocated at its size, where push() onto an empty array reserves room for 16.
      if (this.older === NONE) this.older = [last];
      else this.older.push(last);
    }
    this.newest = record;
  }

  /** Ends the live generation with a tombstone record. */
  tombstone(record: KvRecord): void {
    if (!this.live) throw new Error('mvcc: tombstone on a key that does not exist');
    this.put(record);
  }

  /** The key's record at `atRev`, or undefined if it did not exist then. */
  get(atRev: number): KvRecord | undefined {
    const r = this.at(atRev);
    return r === undefined || r.tombstone ? undefined : r;
  }

  /**
   * Drops every record ≤ atRev except the newest one, which is kept (added to `available`) unless it is a
   * tombstone: that goes too, with the generation it closes (etcd keyIndex.compact).
   */
  compact(atRev: number, available: Set<KvRecord>): void {
    const newest = this.newest;
    if (newest === undefined) return;
    if (newest.modRevision <= atRev) {
      // Every record is ≤ atRev: the newest alone stays, unless it is a tombstone.
      this.older = NONE;
      if (newest.tombstone) this.newest = undefined;
      else available.add(newest);
      return;
    }
    const i = this.olderAt(atRev);
    if (i < 0) return;
    const r = this.older[i];
    const from = r.tombstone ? i + 1 : i;
    if (!r.tombstone) available.add(r);
    if (from > 0) this.older = from === this.older.length ? NONE : this.older.slice(from);
  }

  /** What `compact(atRev)` would keep, without changing anything (etcd keyIndex.keep, used by HashKV). */
  keep(atRev: number, available: Set<KvRecord>): void {
    const r = this.at(atRev);
    if (r !== undefined && !r.tombstone) available.add(r);
  }

  /** The newest record with main ≤ atRev, tombstone or not. */
  private at(atRev: number): KvRecord | undefined {
    const newest = this.newest;
    if (newest === undefined || newest.modRevision <= atRev) return newest;
    const i = this.olderAt(atRev);
    return i < 0 ? undefined : this.older[i];
  }

  /** Index in `older` of the newest record with main ≤ atRev, or -1 (a binary search: a hot key has many). */
  private olderAt(atRev: number): number {
    const older = this.older;
    let lo = 0;
    let hi = older.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (older[mid].modRevision <= atRev) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }
}
