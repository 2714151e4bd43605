// etcd's treeIndex (mvcc/index.go): key → its revisions, ordered by key bytes. It answers "which record holds key
// k at revision r" for single keys and ranges (History lists the same records in revision order). Keys are held
// as strings of one char per byte (bytesToMapKey; see ./record.ts for why): a single-key lookup takes the key in
// that form, a range is converted once.
//
// A key with a single record (every key of a freshly loaded keyspace, and every live key after a compaction) is
// held as that record alone; a KeyIndex lists the records of a key with more (48 bytes less per such key).

import { KeyIndex } from './key-index.ts';
import { type KeyRange, mapKeyRange } from './key-range.ts';
import { type KeyTree, SortedChunks } from './key-tree.ts';
import { KvRecord } from './record.ts';

/** What the tree holds per key: its one record, or the KeyIndex of its several. */
type Entry = KvRecord | KeyIndex;

export interface RangedRecords {
  /** The first `limit` live keys' records, in key order. */
  readonly records: KvRecord[];
  /** Live keys in the whole range (etcd's count ignores the limit). */
  readonly count: number;
}

export class TreeIndex {
  private readonly tree: KeyTree<Entry>;

  constructor(tree: KeyTree<Entry> = new SortedChunks<Entry>()) {
    this.tree = tree;
  }

  /** Number of keys the index remembers (live or with history not yet compacted). */
  get size(): number {
    return this.tree.size;
  }

  /** The key's (one char per byte) newest record, tombstone or not; undefined if the index does not hold it. */
  latest(mapKey: string): KvRecord | undefined {
    const e = this.tree.get(mapKey);
    return e instanceof KeyIndex ? e.latest : e;
  }

  /** The key's record at atRev; undefined if it did not exist then. */
  get(mapKey: string, atRev: number): KvRecord | undefined {
    const e = this.tree.get(mapKey);
    return e === undefined ? undefined : recordAt(e, atRev);
  }

  /**
   * Adds a put's record (or a delete's tombstone, which needs the key live): newer than every record of its key.
   * `record.mapKey` should be the string the index already holds for the key, if any (latest()).
   */
  put(record: KvRecord): void {
    const e = this.tree.get(record.mapKey);
    if (e instanceof KeyIndex) {
      if (record.tombstone) e.tombstone(record);
      else e.put(record);
      return;
    }
    if (e === undefined) {
      if (record.tombstone) throw new Error('mvcc: tombstone on a key that does not exist');
      this.tree.set(record);
      return;
    }
    const ki = new KeyIndex(e.mapKey);
    ki.put(e);
    if (record.tombstone) ki.tombstone(record);
    else ki.put(record);
    this.tree.set(ki);
  }

  /** Visits the records of the keys that existed at atRev within the range, in key order, until `visit` returns false. */
  visit(range: KeyRange, atRev: number, visit: (record: KvRecord) => boolean | undefined): void {
    const { key, end } = mapKeyRange(range);
    if (end === undefined) {
      const record = this.get(key, atRev);
      if (record !== undefined) visit(record);
      return;
    }
    this.tree.ascend(key, end, (e) => {
      const record = recordAt(e, atRev);
      return record === undefined ? true : visit(record);
    });
  }

  /** The records of the live keys at atRev (at most `limit` of them, ≤ 0 = all) and how many there are. */
  records(range: KeyRange, atRev: number, limit = 0): RangedRecords {
    const records: KvRecord[] = [];
    let count = 0;
    this.visit(range, atRev, (record) => {
      if (limit <= 0 || records.length < limit) records.push(record);
      count++;
      return true;
    });
    return { records, count };
  }

  /** Compacts every key at `rev`; returns the records ≤ rev that must be kept (etcd treeIndex.Compact). */
  compact(rev: number): Set<KvRecord> {
    const available = new Set<KvRecord>();
    const emptied: string[] = [];
    const single: KvRecord[] = [];
    this.tree.ascend('', null, (e) => {
      if (e instanceof KvRecord) {
        // A lone record is never a tombstone (a tombstone follows a put of its key).
        if (e.modRevision <= rev) available.add(e);
        return true;
      }
      e.compact(rev, available);
      if (e.empty) emptied.push(e.mapKey);
      else {
        const only = e.only;
        if (only !== undefined) single.push(only);
      }
      return true;
    });
    for (const key of emptied) this.tree.delete(key);
    for (const record of single) this.tree.set(record);
    return available;
  }

  /** The records ≤ rev that a compaction at rev would keep (etcd treeIndex.Keep). */
  keep(rev: number): Set<KvRecord> {
    const available = new Set<KvRecord>();
    this.tree.ascend('', null, (e) => {
      if (e instanceof KeyIndex) e.keep(rev, available);
      else if (e.modRevision <= rev) available.add(e);
      return true;
    });
    return available;
  }
}

/** The entry's record at atRev, unless there was none or it was a tombstone. */
function recordAt(e: Entry, atRev: number): KvRecord | undefined {
  if (e instanceof KeyIndex) return e.get(atRev);
  return e.modRevision <= atRev ? e : undefined;
}
