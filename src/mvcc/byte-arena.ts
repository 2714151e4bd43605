// Where the index keeps its keys (values are in ./value-store.ts: a key is compared at every lookup, so it stays a
// view). A byte string in its own ArrayBuffer costs ~250 bytes beyond its bytes (the buffer object, the engine's
// backing store, the allocator's header): more than a 16-byte key itself. Here keys are copied into shared slabs
// and each is a view of one. A slab lives as long
// as any view of it (the engine frees it with the last one); so that a few survivors do not hold whole slabs once
// compaction has dropped the rest, the survivors of mostly-empty slabs move into the current one (relocate()).

import { EMPTY_BYTES } from './bytes.ts';

/** Byte strings this large keep a buffer of their own (a slab would hold few of them). */
const OWN_BUFFER_FROM = 4 * 1024;

interface Slab {
  readonly buffer: ArrayBuffer;
  used: number;
  /** Bytes the store still holds. */
  live: number;
  /** A buffer the arena did not make (adopt): it holds only what keep() counted, and is never written. */
  readonly adopted: boolean;
}

export class ByteArena {
  private readonly slabBytes: number;
  private current: Slab | undefined;
  private readonly slabs = new WeakMap<ArrayBuffer, Slab>();
  /** Slabs that became mostly empty since the last relocation. */
  private sparseSince = 0;

  /** `slabBytes`: the size of one slab (at least OWN_BUFFER_FROM). */
  constructor(slabBytes = 64 * 1024) {
    this.slabBytes = Math.max(slabBytes, OWN_BUFFER_FROM);
  }

  /** A copy of `bytes` that the store owns. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n === 0) return EMPTY_BYTES;
    if (n >= OWN_BUFFER_FROM) return bytes.slice();
    let slab = this.current;
    if (slab === undefined || slab.used + n > this.slabBytes) {
      slab = { buffer: new ArrayBuffer(this.slabBytes), used: 0, live: 0, adopted: false };
      this.slabs.set(slab.buffer, slab);
      this.current = slab;
    }
    const view = new Uint8Array(slab.buffer, slab.used, n);
    view.set(bytes);
    slab.used += n;
    slab.live += n;
    return view;
  }

  /**
   * Takes `buffer` as a slab: views of it that the store keeps (keep()) need no copy. A restored snapshot's
   * buffer is adopted, which saves a copy of the whole keyspace. Nobody may change the buffer's bytes afterwards.
   */
  adopt(buffer: ArrayBuffer): void {
    if (!this.slabs.has(buffer)) this.slabs.set(buffer, { buffer, used: 0, live: 0, adopted: true });
  }

  /** `bytes` itself when it is a view of an adopted buffer, otherwise a copy (copy()). */
  keep(bytes: Uint8Array): Uint8Array {
    const slab = this.slabs.get(bytes.buffer as ArrayBuffer);
    if (slab === undefined || !slab.adopted) return this.copy(bytes);
    if (bytes.length === 0) return EMPTY_BYTES;
    slab.used += bytes.length;
    slab.live += bytes.length;
    return bytes;
  }

  /** The store no longer holds `bytes` (a copy this arena made). */
  release(bytes: Uint8Array): void {
    const slab = this.slabs.get(bytes.buffer as ArrayBuffer);
    if (slab === undefined) return;
    const wasDense = !isSparse(slab);
    slab.live -= bytes.length;
    if (wasDense && isSparse(slab)) this.sparseSince++;
  }

  /**
   * After releases (a compaction): if some slab became mostly empty, the byte strings of such slabs that
   * `holders` still hold (`bytesOf`) move into the current slab (`move` is given the new copy), so that those
   * slabs can go. `holders` must name every holder of this arena's bytes still in use.
   */
  relocate<T>(
    holders: Iterable<T>,
    bytesOf: (holder: T) => Uint8Array,
    move: (holder: T, moved: Uint8Array) => void,
  ): void {
    if (this.sparseSince === 0) return;
    for (const holder of holders) {
      const bytes = bytesOf(holder);
      const slab = this.slabs.get(bytes.buffer as ArrayBuffer);
      if (slab === undefined || slab === this.current || !isSparse(slab)) continue;
      slab.live -= bytes.length;
      move(holder, this.copy(bytes));
    }
    this.sparseSince = 0;
  }
}

function isSparse(slab: Slab): boolean {
  return slab.live * 2 < slab.used;
}
