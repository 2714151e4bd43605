// etcd's keyIndex (mvcc/key_index.go): the revisions of one key, grouped into generations. A generation is one
// incarnation of the key, from the put that created it to the tombstone (delete) that ended it. The last
// generation is the live one; it is empty when the key is currently deleted.
//
//   put(1.0); put(2.0); tombstone(3.0); put(4.0); tombstone(5.0)  →  {1.0, 2.0, 3.0(t)} {4.0, 5.0(t)} {empty}

import type { Revision } from './revision.ts';
import type { RevisionSet } from './revision-set.ts';

export interface Generation {
  /** Number of puts (and the closing tombstone) ever made in this generation, compacted ones included. */
  ver: number;
  /** Main revision of the put that created this generation. */
  created: number;
  /** Revisions in increasing order; a closed generation ends with its tombstone. */
  revs: Revision[];
}

/** What the key looked like at some revision. */
export interface KeyIndexEntry {
  readonly modified: Revision;
  readonly created: number;
  readonly version: number;
}

function emptyGeneration(): Generation {
  return { ver: 0, created: 0, revs: [] };
}

export class KeyIndex {
  readonly key: Uint8Array;
  /** The newest revision of this key, tombstones included. */
  modified: Revision = { main: 0, sub: 0 };
  readonly generations: Generation[] = [emptyGeneration()];

  constructor(key: Uint8Array) {
    this.key = key;
  }

  /** True when the key exists now (its last generation is open and not empty). */
  get live(): boolean {
    return this.generations[this.generations.length - 1].revs.length > 0;
  }

  /** Nothing left to remember: a candidate for removal from the tree after compaction. */
  get empty(): boolean {
    return this.generations.length === 1 && this.generations[0].revs.length === 0;
  }

  put(rev: Revision): void {
    if (rev.main < this.modified.main || (rev.main === this.modified.main && rev.sub <= this.modified.sub)) {
      throw new Error(`mvcc: put revision ${rev.main}.${rev.sub} is not newer than ${this.modified.main}`);
    }
    const g = this.generations[this.generations.length - 1];
    if (g.revs.length === 0) {
      g.created = rev.main;
      g.revs = [rev]; // allocated at its size (push onto an empty array reserves room for 16)
    } else g.revs.push(rev);
    g.ver++;
    this.modified = rev;
  }

  /** Ends the live generation with a tombstone and opens an empty one. */
  tombstone(rev: Revision): void {
    if (!this.live) throw new Error('mvcc: tombstone on a key that does not exist');
    this.put(rev);
    this.generations.push(emptyGeneration());
  }

  /** Rebuilds a generation from a stored record (snapshot restore): the first revision we still have of it. */
  restore(created: number, modified: Revision, version: number): void {
    if (this.live) throw new Error('mvcc: restore on a live key');
    const g = this.generations[this.generations.length - 1];
    g.created = created;
    g.ver = version;
    g.revs.push(modified);
    this.modified = modified;
  }

  /** The key's state at `atRev`, or undefined if it did not exist then. */
  get(atRev: number): KeyIndexEntry | undefined {
    const g = this.findGeneration(atRev);
    if (g === undefined) return undefined;
    for (let n = g.revs.length - 1; n >= 0; n--) {
      if (g.revs[n].main <= atRev) {
        return { modified: g.revs[n], created: g.created, version: g.ver - (g.revs.length - n - 1) };
      }
    }
    return undefined;
  }

  /**
   * Main revisions ≥ `rev` at which this key changed, keeping only the last sub revision per main revision
   * (etcd's keyIndex.since, used for watch catch-up).
   */
  since(rev: number): Revision[] {
    let gi = this.generations.length - 1;
    for (; gi > 0; gi--) {
      const g = this.generations[gi];
      if (g.revs.length > 0 && rev > g.created) break;
    }
    const revs: Revision[] = [];
    let last = -1;
    for (; gi < this.generations.length; gi++) {
      for (const r of this.generations[gi].revs) {
        if (r.main < rev) continue;
        if (r.main === last) revs[revs.length - 1] = r;
        else revs.push(r);
        last = r.main;
      }
    }
    return revs;
  }

  /**
   * Drops every revision ≤ atRev except the newest one of the generation alive at atRev, which is added to
   * `available`; a tombstone ≤ atRev goes too, with the generation it closes (etcd keyIndex.compact).
   */
  compact(atRev: number, available: RevisionSet): void {
    let { genIdx, revIndex } = this.doCompact(atRev, available);
    const g = this.generations[genIdx];
    if (g.revs.length > 0) {
      if (revIndex !== -1) g.revs = g.revs.slice(revIndex);
      if (g.revs.length === 1 && genIdx !== this.generations.length - 1) {
        available.delete(g.revs[0]);
        genIdx++;
      }
    }
    this.generations.splice(0, genIdx);
  }

  /** What `compact(atRev)` would keep, without changing anything (etcd keyIndex.keep, used by HashKV). */
  keep(atRev: number, available: RevisionSet): void {
    if (this.empty) return;
    const { genIdx, revIndex } = this.doCompact(atRev, available);
    const g = this.generations[genIdx];
    if (g.revs.length > 0 && revIndex === g.revs.length - 1 && genIdx !== this.generations.length - 1) {
      available.delete(g.revs[revIndex]);
    }
  }

  private doCompact(atRev: number, available: RevisionSet): { genIdx: number; revIndex: number } {
    let genIdx = 0;
    // The first generation that is still open at atRev (its tombstone is newer) or was created after it.
    while (genIdx < this.generations.length - 1) {
      const revs = this.generations[genIdx].revs;
      if (revs[revs.length - 1].main > atRev) break;
      genIdx++;
    }
    const revs = this.generations[genIdx].revs;
    let revIndex = -1;
    for (let i = revs.length - 1; i >= 0; i--) {
      if (revs[i].main <= atRev) {
        available.add(revs[i]);
        revIndex = i;
        break;
      }
    }
    return { genIdx, revIndex };
  }

  /** The generation holding atRev; undefined if the key was deleted (or not yet created) at atRev. */
  private findGeneration(atRev: number): Generation | undefined {
    const last = this.generations.length - 1;
    for (let cg = last; cg >= 0; cg--) {
      const g = this.generations[cg];
      if (g.revs.length === 0) continue;
      if (cg !== last && g.revs[g.revs.length - 1].main <= atRev) return undefined;
      if (g.revs[0].main <= atRev) return g;
    }
    return undefined;
  }
}
