// etcd's treeIndex (mvcc/index.go): key → KeyIndex, ordered by key bytes. It answers "which revision holds key k
// at revision r" for single keys and ranges; the records themselves live in History.

import { KeyIndex, type KeyIndexEntry } from './key-index.ts';
import type { KeyRange } from './key-range.ts';
import { type KeyTree, SortedChunks } from './key-tree.ts';
import type { Revision } from './revision.ts';
import { RevisionSet } from './revision-set.ts';

export interface RangedRevisions {
  /** Revisions of the first `limit` live keys, in key order. */
  readonly revs: Revision[];
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

  keyIndex(key: Uint8Array): KeyIndex | undefined {
    return this.tree.get(key);
  }

  get(key: Uint8Array, atRev: number): KeyIndexEntry | undefined {
    return this.tree.get(key)?.get(atRev);
  }

  put(key: Uint8Array, rev: Revision): void {
    this.getOrCreate(key).put(rev);
  }

  tombstone(key: Uint8Array, rev: Revision): void {
    const ki = this.tree.get(key);
    if (ki === undefined) throw new Error('mvcc: tombstone on an unknown key');
    ki.tombstone(rev);
  }

  /** Visits the keys that existed at atRev within the range, in key order, until `visit` returns false. */
  visit(
    range: KeyRange,
    atRev: number,
    visit: (key: Uint8Array, entry: KeyIndexEntry) => boolean | undefined,
  ): void {
    if (range.end === undefined) {
      const entry = this.get(range.key, atRev);
      if (entry !== undefined) visit(this.tree.get(range.key)!.key, entry);
      return;
    }
    this.tree.ascend(range.key, range.end, (ki) => {
      const entry = ki.get(atRev);
      return entry === undefined ? true : visit(ki.key, entry);
    });
  }

  /** Revisions of the live keys at atRev (at most `limit` of them, ≤ 0 = all) and how many there are. */
  revisions(range: KeyRange, atRev: number, limit = 0): RangedRevisions {
    const revs: Revision[] = [];
    let count = 0;
    this.visit(range, atRev, (_key, entry) => {
      if (limit <= 0 || revs.length < limit) revs.push(entry.modified);
      count++;
      return true;
    });
    return { revs, count };
  }

  /** Compacts every key at `rev`; returns the revisions ≤ rev that must be kept (etcd treeIndex.Compact). */
  compact(rev: number): RevisionSet {
    const available = new RevisionSet();
    const emptied: Uint8Array[] = [];
    this.tree.ascend(new Uint8Array(0), null, (ki) => {
      ki.compact(rev, available);
      if (ki.empty) emptied.push(ki.key);
      return true;
    });
    for (const key of emptied) this.tree.delete(key);
    return available;
  }

  /** The revisions ≤ rev that a compaction at rev would keep (etcd treeIndex.Keep). */
  keep(rev: number): RevisionSet {
    const available = new RevisionSet();
    this.tree.ascend(new Uint8Array(0), null, (ki) => {
      ki.keep(rev, available);
      return true;
    });
    return available;
  }

  /** The key's KeyIndex, created (empty, not live) if the index has never seen the key. */
  getOrCreate(key: Uint8Array): KeyIndex {
    let ki = this.tree.get(key);
    if (ki === undefined) {
      ki = new KeyIndex(key);
      this.tree.set(ki);
    }
    return ki;
  }
}
