// A binary min-heap keyed by (time, seq). The lessor uses it with lazy deletion: an entry carries the generation
// of the schedule it was made for, and an entry whose generation no longer matches its lease is dropped when it
// reaches the top (or when the heap is compacted). seq breaks ties in insertion order, so popping is
// deterministic for a given sequence of pushes.

export interface HeapEntry<T> {
  /** Milliseconds on the host's clock. */
  readonly at: number;
  readonly seq: number;
  readonly item: T;
  readonly gen: number;
}

function less<T>(a: HeapEntry<T>, b: HeapEntry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

export class MinHeap<T> {
  private entries: HeapEntry<T>[] = [];
  private nextSeq = 0;

  get size(): number {
    return this.entries.length;
  }

  push(at: number, item: T, gen: number): void {
    const entries = this.entries;
    entries.push({ at, seq: this.nextSeq++, item, gen });
    this.siftUp(entries.length - 1);
  }

  peek(): HeapEntry<T> | undefined {
    return this.entries[0];
  }

  pop(): HeapEntry<T> | undefined {
    const entries = this.entries;
    const top = entries[0];
    if (top === undefined) return undefined;
    const last = entries.pop()!;
    if (entries.length > 0) {
      entries[0] = last;
      this.siftDown(0);
    }
    return top;
  }

  clear(): void {
    this.entries = [];
    this.nextSeq = 0;
  }

  /** Drops every entry for which `keep` is false and restores the heap order in O(n). */
  retain(keep: (entry: HeapEntry<T>) => boolean): void {
    this.entries = this.entries.filter(keep);
    for (let i = (this.entries.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftUp(i: number): void {
    const entries = this.entries;
    const entry = entries[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(entry, entries[parent])) break;
      entries[i] = entries[parent];
      i = parent;
    }
    entries[i] = entry;
  }

  private siftDown(i: number): void {
    const entries = this.entries;
    const n = entries.length;
    const entry = entries[i];
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && less(entries[right], entries[left]) ? right : left;
      if (!less(entries[child], entry)) break;
      entries[i] = entries[child];
      i = child;
    }
    entries[i] = entry;
  }
}
