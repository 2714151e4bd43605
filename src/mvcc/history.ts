// The records in revision order (etcd keeps them in bbolt's "key" bucket, keyed by revision bytes). A write at
// main revision r appends records r.0, r.1, … ; compaction drops those the index no longer needs. One array: a
// record costs a slot here (the index holds the same record objects).

import type { KvRecord } from './record.ts';
import { compareRevision } from './revision.ts';
import { recordSize } from './snapshot-binary.ts';

export class History {
  // Appends only grow the revision.
  private records: KvRecord[] = [];
  private recordBytes = 0;

  /** Number of stored records. */
  get size(): number {
    return this.records.length;
  }

  /** The records' size as the keyspace snapshot encodes them, kept up to date on append/compact. */
  get bytes(): number {
    return this.recordBytes;
  }

  append(record: KvRecord): void {
    const last = this.records[this.records.length - 1];
    if (last !== undefined && compareRevision(last, record) >= 0)
      throw new Error('mvcc: history append out of order');
    this.records.push(record);
    this.recordBytes += recordSize(record, record.tombstone);
  }

  /** The records with from ≤ main ≤ to, in revision order. */
  *between(from: number, to: number): IterableIterator<KvRecord> {
    const records = this.records;
    for (let i = this.firstAtOrAfter(from); i < records.length && records[i].modRevision <= to; i++) {
      yield records[i];
    }
  }

  /** Every record, in revision order. */
  entries(): IterableIterator<KvRecord> {
    return this.records.values();
  }

  /** Every record as of now, as a list that never changes afterwards: a snapshot is written from it meanwhile. */
  capture(): readonly KvRecord[] {
    return this.records.slice();
  }

  /** Removes every record with main ≤ atRev that is not in `keep`, telling `dropped` of each. */
  compact(atRev: number, keep: Set<KvRecord>, dropped: (record: KvRecord) => void): void {
    const old = this.records;
    const end = this.firstAtOrAfter(atRev + 1);
    const kept: KvRecord[] = [];
    for (let i = 0; i < end; i++) {
      const r = old[i];
      if (keep.has(r)) kept.push(r);
      else {
        this.recordBytes -= recordSize(r, r.tombstone);
        dropped(r);
      }
    }
    for (let i = end; i < old.length; i++) kept.push(old[i]);
    this.records = kept;
  }

  /** Index of the first record with main ≥ main. */
  private firstAtOrAfter(main: number): number {
    const records = this.records;
    let lo = 0;
    let hi = records.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (records[mid].modRevision < main) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
