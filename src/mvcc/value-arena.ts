// Where the store keeps its values. A value in its own ArrayBuffer costs ~300 bytes beyond its bytes (the buffer
// object, the engine's backing store, the allocator's header): more than a 256-byte value itself. Here values are
// copied into shared slabs and each is a view of one. A slab lives as long as any view of it (the engine frees it
// with the last one); so that a few survivors do not hold whole slabs once compaction has dropped the rest, the
// values of mostly-empty slabs move into the current one after a compaction (compacted()).

import { EMPTY_BYTES } from './bytes.ts';
import type { KvRecord } from './record.ts';

const SLAB_BYTES = 64 * 1024;
/** Values this large keep a buffer of their own (a slab would hold few of them). */
const OWN_BUFFER_FROM = 4 * 1024;

interface Slab {
  readonly buffer: ArrayBuffer;
  used: number;
  /** Bytes of values the store still holds. */
  live: number;
}

export class ValueArena {
  private current: Slab | undefined;
  private readonly slabs = new WeakMap<ArrayBuffer, Slab>();
  /** Slabs that became mostly empty since the last compaction's relocation. */
  private sparseSince = 0;

  /** A copy of `bytes` that the store owns. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n === 0) return EMPTY_BYTES;
    if (n >= OWN_BUFFER_FROM) return bytes.slice();
    let slab = this.current;
    if (slab === undefined || slab.used + n > SLAB_BYTES) {
      slab = { buffer: new ArrayBuffer(SLAB_BYTES), used: 0, live: 0 };
      this.slabs.set(slab.buffer, slab);
      this.current = slab;
    }
    const view = new Uint8Array(slab.buffer, slab.used, n);
    view.set(bytes);
    slab.used += n;
    slab.live += n;
    return view;
  }

  /** The store no longer holds `value` (compaction dropped its record). */
  release(value: Uint8Array): void {
    const slab = this.slabs.get(value.buffer as ArrayBuffer);
    if (slab === undefined) return;
    const wasDense = !isSparse(slab);
    slab.live -= value.length;
    if (wasDense && isSparse(slab)) this.sparseSince++;
  }

  /**
   * After a compaction (its dropped values released): if some slab became mostly empty, the values of such slabs
   * that `records` still hold move into the current slab, so that those slabs can go.
   */
  compacted(records: Iterable<KvRecord>): void {
    if (this.sparseSince === 0) return;
    for (const r of records) {
      const slab = this.slabs.get(r.value.buffer as ArrayBuffer);
      if (slab === undefined || slab === this.current || !isSparse(slab)) continue;
      slab.live -= r.value.length;
      r.moveValue(this.copy(r.value));
    }
    this.sparseSince = 0;
  }
}

function isSparse(slab: Slab): boolean {
  return slab.live * 2 < slab.used;
}
