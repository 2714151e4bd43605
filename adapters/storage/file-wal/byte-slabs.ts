// Copies of many small byte strings in shared slabs. A byte string in its own ArrayBuffer costs ~250 bytes beyond
// its bytes (the buffer object, the engine's backing store, the allocator's header) and ~2 µs to make; here each
// copy is a view of a shared slab, which lives as long as any view of it (the engine frees it with the last one).
// Recovery copies the log entries it keeps this way, so that a segment's whole buffer is not held by a few entries.

import { EMPTY_BYTES } from '../../../src/mvcc/bytes.ts';

/** Byte strings this large keep a buffer of their own (a slab would hold few of them). */
const OWN_BUFFER_FROM = 4 * 1024;

export class ByteSlabs {
  private readonly slabBytes: number;
  private slab: ArrayBuffer | undefined;
  private used = 0;

  /** `slabBytes`: the size of one slab (at least OWN_BUFFER_FROM). */
  constructor(slabBytes = 64 * 1024) {
    this.slabBytes = Math.max(slabBytes, OWN_BUFFER_FROM);
  }

  /** A copy of `bytes`, which the caller may change afterwards. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n === 0) return EMPTY_BYTES;
    if (n >= OWN_BUFFER_FROM) return bytes.slice();
    if (this.slab === undefined || this.used + n > this.slabBytes) {
      this.slab = new ArrayBuffer(this.slabBytes);
      this.used = 0;
    }
    const view = new Uint8Array(this.slab, this.used, n);
    view.set(bytes);
    this.used += n;
    return view;
  }
}
