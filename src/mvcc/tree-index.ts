// etcd's treeIndex (mvcc/index.go): key → KeyIndex, ordered by key bytes. It answers "which record holds key k
// at revision r" for single keys and ranges (History lists the same records in revision order).

import { ByteArena } from './byte-arena.ts';
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
  /** Where the keys' bytes are kept: they live as long as their KeyIndex (small slabs, as keys are small). */
  private readonly keyBytes = new ByteArena(16 * 1024);

  constructor(tree: KeyTree<KeyIndex> = new SortedChunks<KeyIndex>()) {
    this.tree = tree;
  }

  /** Number of keys the index remembers (live or with history not yet compacted). */
  get size(): number {
    return this.tree.size;
  }

  keyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.tree.get(key);
  }

  /** The key's record at atRev; undefined if it did not exist then. */
  get(key: Uint8Array, atRev: number): KvRecord | undefined {
    return this.tree.get(key)?.get(atRev);
  }

  /** Visits the records of the keys that existed at atRev within the range, in key order, until `visit` returns false. */
  visit(range: KeyRange, atRev: number, visit: (record: KvRecord) => boolean | undefined): void {
    if (range.end === undefined) {
      const record = this.get(range.key, atRev);
      if (record !== undefined) visit(record);
      return;
    }
    this.tree.ascend(range.key, range.end, (ki) => {
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
    const emptied: Uint8Array[] = [];
    this.tree.ascend(new Uint8Array(0), null, (ki) => {
      ki.compact(rev, available);
      if (ki.empty) emptied.push(ki.key);
      return true;
    });
    for (const key of emptied) {
      this.tree.delete(key);
      this.keyBytes.release(key);
    }
    this.keyBytes.relocate(
      this.keyIndexes(),
      (ki) => ki.key,
      (ki, moved) => ki.moveKey(moved),
    );
    return available;
  }

  /** The records ≤ rev that a compaction at rev would keep (etcd treeIndex.Keep). */
  keep(rev: number): Set<KvRecord> {
    const available = new Set<KvRecord>();
    this.tree.ascend(new Uint8Array(0), null, (ki) => {
      ki.keep(rev, available);
      return true;
    });
    return available;
  }

  /** getOrCreate keeps keys that are views of `buffer` without copying them (ByteArena.adopt). */
  adopt(buffer: ArrayBuffer): void {
    this.keyBytes.adopt(buffer);
  }

  /** Every KeyIndex, in key order (the tree must not change meanwhile). */
  private *keyIndexes(): IterableIterator<KeyIndex> {
    const all: KeyIndex[] = [];
    this.tree.ascend(new Uint8Array(0), null, (ki) => {
      all.push(ki);
      return true;
    });
    yield* all;
  }

  /**
   * The key's KeyIndex, created (empty, not live) if the index has never seen the key; a new one holds a copy of
   * `key` (or `key` itself, from an adopted buffer), which every record of the key then shares.
   */
  getOrCreate(key: Uint8Array): KeyIndex {
    let ki = this.tree.get(key);
    if (ki === undefined) {
      ki = new KeyIndex(this.keyBytes.keep(key));
      this.tree.set(ki);
    }
    return ki;
  }
}
