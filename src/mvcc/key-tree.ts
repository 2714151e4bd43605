// An ordered map from byte keys to items, with range scans. A key is a string of one char per byte
// (bytesToMapKey): such strings compare (<) as their bytes do (Go's bytes.Compare), natively. The index talks to
// this small interface only, so a real B-tree can replace the implementation. SortedChunks is a two-level
// B+tree: a sorted list of sorted chunks of at most CHUNK_SIZE items. Lookups are two binary searches; an insert moves at most one chunk plus
// the chunk list, which keeps random inserts cheap at a million keys (a flat sorted array would not).

export interface Keyed {
  /** The key, one char per byte. */
  readonly mapKey: string;
}

export interface KeyTree<T extends Keyed> {
  readonly size: number;
  get(key: string): T | undefined;
  /** Adds the item, replacing any item with the same key. */
  set(item: T): void;
  delete(key: string): boolean;
  /**
   * Visits items with start ≤ key < end in ascending key order (end null = no upper bound) until `visit`
   * returns false. The tree must not be modified during the walk.
   */
  ascend(start: string, end: string | null, visit: (item: T) => boolean | undefined): void;
}

const CHUNK_SIZE = 512;

export class SortedChunks<T extends Keyed> implements KeyTree<T> {
  private chunks: T[][] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(key: string): T | undefined {
    const ci = this.chunkFor(key);
    if (ci === this.chunks.length) return undefined;
    const chunk = this.chunks[ci];
    const i = lowerBound(chunk, key);
    return i < chunk.length && chunk[i].mapKey === key ? chunk[i] : undefined;
  }

  set(item: T): void {
    if (this.chunks.length === 0) {
      this.chunks.push([item]);
      this.count = 1;
      return;
    }
    const ci = Math.min(this.chunkFor(item.mapKey), this.chunks.length - 1);
    const chunk = this.chunks[ci];
    const i = lowerBound(chunk, item.mapKey);
    if (i < chunk.length && chunk[i].mapKey === item.mapKey) {
      chunk[i] = item;
      return;
    }
    chunk.splice(i, 0, item);
    this.count++;
    if (chunk.length > CHUNK_SIZE) {
      this.chunks.splice(ci + 1, 0, chunk.splice(chunk.length >> 1));
    }
  }

  delete(key: string): boolean {
    const ci = this.chunkFor(key);
    if (ci === this.chunks.length) return false;
    const chunk = this.chunks[ci];
    const i = lowerBound(chunk, key);
    if (i === chunk.length || chunk[i].mapKey !== key) return false;
    chunk.splice(i, 1);
    this.count--;
    if (chunk.length === 0) this.chunks.splice(ci, 1);
    return true;
  }

  ascend(start: string, end: string | null, visit: (item: T) => boolean | undefined): void {
    let ci = this.chunkFor(start);
    if (ci === this.chunks.length) return;
    let i = lowerBound(this.chunks[ci], start);
    for (; ci < this.chunks.length; ci++, i = 0) {
      const chunk = this.chunks[ci];
      for (; i < chunk.length; i++) {
        const item = chunk[i];
        if (end !== null && item.mapKey >= end) return;
        if (visit(item) === false) return;
      }
    }
  }

  /** Index of the first chunk whose last key is ≥ key (chunks.length if none). */
  private chunkFor(key: string): number {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const chunk = this.chunks[mid];
      if (chunk[chunk.length - 1].mapKey < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function lowerBound<T extends Keyed>(items: readonly T[], key: string): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid].mapKey < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
