// The records in revision order (etcd keeps them in bbolt's "key" bucket, keyed by revision bytes). A write at
// main revision r appends records r.0, r.1, … ; compaction drops those the index no longer needs. The index holds
// the same record objects; here a record costs a slot in one of a list of chunks of CHUNK slots. Chunks rather
// than one array: a million slots in one array grow by copying (1.5× at a time: up to half of it unused), and a
// snapshot's capture shares the full chunks instead of copying every slot (a full chunk never changes: appends go
// to the last one, compaction makes new ones).

import type { KvRecord } from './record.ts';
import { compareRevision } from './revision.ts';
import { recordSize } from './snapshot-binary.ts';

const CHUNK_BITS = 13;
const CHUNK = 1 << CHUNK_BITS;

/** The records of one moment, which later appends and compactions do not change. */
export interface CapturedRecords extends Iterable<KvRecord> {
  readonly length: number;
}

export class History {
  // Every chunk but the last holds CHUNK records; appends only grow the revision.
  private chunks: KvRecord[][] = [];
  private count = 0;
  private recordBytes = 0;

  /** Number of stored records. */
  get size(): number {
    return this.count;
  }

  /** The records' size as the keyspace snapshot encodes them, kept up to date on append/compact. */
  get bytes(): number {
    return this.recordBytes;
  }

  append(record: KvRecord): void {
    if (this.count > 0 && compareRevision(this.at(this.count - 1), record) >= 0)
      throw new Error('mvcc: history append out of order');
    this.push(record);
    this.recordBytes += recordSize(record, record.tombstone);
  }

  /** The records with from ≤ main ≤ to, in revision order. */
  *between(from: number, to: number): IterableIterator<KvRecord> {
    for (let i = this.firstAtOrAfter(from); i < this.count; i++) {
      const record = this.at(i);
      if (record.modRevision > to) return;
      yield record;
    }
  }

  /** Every record, in revision order. */
  entries(): IterableIterator<KvRecord> {
    return recordsOf(this.chunks);
  }

  /** Every record as of now, as a list that never changes afterwards: a snapshot is written from it meanwhile. */
  capture(): CapturedRecords {
    const chunks = this.chunks.slice();
    const last = chunks.length - 1;
    if (last >= 0 && chunks[last].length < CHUNK) chunks[last] = chunks[last].slice();
    return { length: this.count, [Symbol.iterator]: () => recordsOf(chunks) };
  }

  /** Removes every record with main ≤ atRev that is not in `keep`, telling `dropped` of each. */
  compact(atRev: number, keep: Set<KvRecord>, dropped: (record: KvRecord) => void): void {
    const end = this.firstAtOrAfter(atRev + 1);
    const kept = new History();
    let i = 0;
    for (const r of this.entries()) {
      if (i++ >= end || keep.has(r)) kept.push(r);
      else {
        this.recordBytes -= recordSize(r, r.tombstone);
        dropped(r);
      }
    }
    this.chunks = kept.chunks;
    this.count = kept.count;
  }

  /** Adds a record after the last one (its order and size are the caller's). */
  private push(record: KvRecord): void {
    if ((this.count & (CHUNK - 1)) === 0) this.chunks.push([record]);
    else this.chunks[this.chunks.length - 1].push(record);
    this.count++;
  }

  private at(i: number): KvRecord {
    return this.chunks[i >>> CHUNK_BITS][i & (CHUNK - 1)];
  }

  /** Index of the first record with main ≥ main. */
  private firstAtOrAfter(main: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).modRevision < main) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function* recordsOf(chunks: readonly KvRecord[][]): IterableIterator<KvRecord> {
  for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) yield chunk[i];
}
