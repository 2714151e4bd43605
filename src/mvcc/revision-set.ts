// A set of revisions: what compaction keeps (etcd's `available` map in keyIndex.compact / keep).

import type { Revision } from './revision.ts';

export class RevisionSet {
  private readonly subsByMain = new Map<number, Set<number>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(rev: Revision): void {
    let subs = this.subsByMain.get(rev.main);
    if (subs === undefined) this.subsByMain.set(rev.main, (subs = new Set()));
    if (!subs.has(rev.sub)) {
      subs.add(rev.sub);
      this.count++;
    }
  }

  delete(rev: Revision): void {
    const subs = this.subsByMain.get(rev.main);
    if (subs?.delete(rev.sub)) {
      this.count--;
      if (subs.size === 0) this.subsByMain.delete(rev.main);
    }
  }

  has(rev: Revision): boolean {
    return this.subsByMain.get(rev.main)?.has(rev.sub) ?? false;
  }
}
