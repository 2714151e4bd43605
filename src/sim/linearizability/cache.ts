// Memo of (linearized set, model state) pairs already reached. Reaching the same pair again by another
// order leads to the same future, so the search skips it: this is what keeps the DFS from being factorial.

import type { Bitset } from './bitset.ts';
import type { Model } from './types.ts';

interface CacheEntry<S> {
  readonly linearized: Bitset;
  readonly state: S;
}

export class SearchCache<S, I, O> {
  private readonly buckets = new Map<number, CacheEntry<S>[]>();

  private readonly model: Model<S, I, O>;

  constructor(model: Model<S, I, O>) {
    this.model = model;
  }

  /** Records the pair; false if an equal pair was already there. `setHash` is the set's Zobrist hash. */
  add(linearized: Bitset, setHash: number, state: S): boolean {
    const key = this.model.hash ? (setHash ^ stringHash(this.model.hash(state))) >>> 0 : setHash;
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = []));
    for (const entry of bucket) {
      if (entry.linearized.equals(linearized) && this.model.equal(entry.state, state)) return false;
    }
    bucket.push({ linearized, state });
    return true;
  }
}

/** A well-mixed 32-bit value per operation id; XOR-ing them hashes a set incrementally (Zobrist hashing). */
export function idHash(id: number): number {
  let h = (id + 0x9e3779b9) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a over UTF-16 code units. */
export function stringHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
