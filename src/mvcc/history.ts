// The revision → KeyValue records (etcd keeps them in bbolt's "key" bucket, keyed by revision bytes). A write at
// main revision r appends records r.0, r.1, … ; compaction drops those the index no longer needs.

import type { KeyValue } from '../etcd/kv.ts';
import type { Revision } from './revision.ts';
import type { RevisionSet } from './revision-set.ts';
import { recordSize } from './snapshot-binary.ts';

export interface StoredRecord {
  readonly sub: number;
  /** For a tombstone: the key, with modRevision = the deletion revision and zero values elsewhere. */
  readonly kv: KeyValue;
  readonly tombstone: boolean;
}

export class History {
  // Insertion order is main-revision order: appends only grow `main`, compaction only deletes or shrinks.
  private readonly byMain = new Map<number, StoredRecord[]>();
  private records = 0;
  private recordBytes = 0;

  /** Number of stored records. */
  get size(): number {
    return this.records;
  }

  /** The records' size as the keyspace snapshot encodes them, kept up to date on append/compact. */
  get bytes(): number {
    return this.recordBytes;
  }

  append(main: number, record: StoredRecord): void {
    const list = this.byMain.get(main);
    if (list === undefined) {
      // Most writes change one key: a one-element literal is allocated at its size, where push() onto an empty
      // array reserves room for 16.
      this.byMain.set(main, [record]);
    } else {
      if (list[list.length - 1].sub >= record.sub) throw new Error('mvcc: history append out of order');
      list.push(record);
    }
    this.records++;
    this.recordBytes += recordSize(record);
  }

  get(rev: Revision): StoredRecord | undefined {
    const list = this.byMain.get(rev.main);
    if (list === undefined) return undefined;
    const direct = list[rev.sub];
    if (direct !== undefined && direct.sub === rev.sub) return direct;
    return list.find((r) => r.sub === rev.sub);
  }

  /** The records written at one main revision, in sub order. */
  at(main: number): readonly StoredRecord[] {
    return this.byMain.get(main) ?? [];
  }

  /** Every record, in revision order. */
  *entries(): IterableIterator<[main: number, record: StoredRecord]> {
    for (const [main, list] of this.byMain) {
      for (const record of list) yield [main, record];
    }
  }

  /**
   * Every record as of now, as lists that never change afterwards (appends go to later revisions' lists, and
   * compaction replaces a list rather than editing it): a snapshot can be written from them while the store goes on.
   */
  capture(): { readonly mains: readonly number[]; readonly lists: readonly (readonly StoredRecord[])[] } {
    return { mains: [...this.byMain.keys()], lists: [...this.byMain.values()] };
  }

  /** Removes every record with main ≤ atRev that is not in `keep`. */
  compact(atRev: number, keep: RevisionSet): void {
    for (const [main, list] of this.byMain) {
      if (main > atRev) break;
      const kept = list.filter((r) => {
        if (keep.has({ main, sub: r.sub })) return true;
        this.recordBytes -= recordSize(r);
        return false;
      });
      this.records -= list.length - kept.length;
      if (kept.length === 0) this.byMain.delete(main);
      else if (kept.length !== list.length) this.byMain.set(main, kept);
    }
  }
}
