// etcd's treeIndex (mvcc/index.go): key → KeyIndex, ordered by key bytes. It answers "which record holds key k
// at revision r" for single keys and ranges (History lists the same records in revision order). Keys are held
// as strings of one char per byte (bytesToMapKey; see ./record.ts for why): a single-key lookup takes the key in
// that form, a range is converted once.

import { bytesToMapKey } from './bytes.ts';
import { KeyIndex } from './key-index.ts';
import type { KeyRange } from './key-range.ts';
import { type KeyTree, SortedChunks } from './key-tree.ts';
import type { KvRecord } from './record.ts';

export interface RangedRecords {
  /** The first `limit` live keys' records, in key order. */
  readonly records: KvRecord[];
  /** Live keys in the whole range (etcd's count ignores the limit). */
  readonly count: number;
}

export class TreeIndex {
  private readonly tree: KeyTree<KeyIndex>;

  constructor(tree: KeyTree<KeyIndex> = new SortedChunks<KeyIndex>()) {
    this.tree = tree;
  }

  /** Number of keys the index remembers (live or with history not yet compacted). */
  get size(): number {
    return this.tree.size;
  }

  /** The KeyIndex of a key (one char per byte), if the index remembers it. */
  keyIndex(mapKey: string): KeyIndex | undefined {
    return this.tree.get(mapKey);
  }

  /** The key's record at atRev; undefined if it did not exist then. */
  get(mapKey: string, atRev: number): KvRecord | undefined {
    return this.tree.get(mapKey)?.get(atRev);
  }

  /** Visits the records of the keys that existed at atRev within the range, in key order, until `visit` returns false. */
  visit(range: KeyRange, atRev: number, visit: (record: KvRecord) => boolean | undefined): void {
    const start = bytesToMapKey(range.key);
    if (range.end === undefined) {
      const record = this.get(start, atRev);
      if (record !== undefined) visit(record);
      return;
    }
    this.tree.ascend(start, range.end === null ? null : bytesToMapKey(range.end), (ki) => {
      const record = ki.get(atRev);
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
    this.tree.ascend('', null, (ki) => {
      ki.compact(rev, available);
      if (ki.empty) emptied.push(ki.mapKey);
      return true;
    });
    for (const key of emptied) this.tree.delete(key);
    return available;
  }

  /** The records ≤ rev that a compaction at rev would keep (etcd treeIndex.Keep). */
  keep(rev: number): Set<KvRecord> {
    const available = new Set<KvRecord>();
    this.tree.ascend('', null, (ki) => {
      ki.keep(rev, available);
      return true;
    });
    return available;
  }

  /** The key's KeyIndex, created (empty, not live) if the index has never seen the key. */
  getOrCreate(mapKey: string): KeyIndex {
    let ki = this.tree.get(mapKey);
    if (ki === undefined) {
      ki = new KeyIndex(mapKey);
      this.tree.set(ki);
    }
    return ki;
  }
}
