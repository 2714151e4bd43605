// Where the store keeps its values. A value in its own ArrayBuffer costs ~300 bytes beyond its bytes (the buffer
// object, the engine's backing store, the allocator's header): more than a 256-byte value itself. Here values are
// copied into shared slabs and each is a view of one. A slab lives as long as any view of it (the engine frees it
// with the last one); so that a few survivors do not hold whole slabs once compaction has dropped the rest, the
// store moves the values of mostly-empty slabs into the current one after compacting (relocate).

import { EMPTY_BYTES } from './bytes.ts';

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
  /** Slabs that became mostly empty since the last relocate(). */
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

  /** Whether a release made some slab mostly empty since the last relocation pass. */
  get relocationDue(): boolean {
    return this.sparseSince > 0;
  }

  /** `value` again, copied into the current slab if its own slab is mostly empty. */
  relocate(value: Uint8Array): Uint8Array {
    const slab = this.slabs.get(value.buffer as ArrayBuffer);
    if (slab === undefined || slab === this.current || !isSparse(slab)) return value;
    const moved = this.copy(value);
    slab.live -= value.length;
    return moved;
  }

  /** Ends a relocation pass (over every value the store holds). */
  relocated(): void {
    this.sparseSince = 0;
  }
}

function isSparse(slab: Slab): boolean {
  return slab.live * 2 < slab.used;
}
