// A ValueSpill in memory (./value-store.ts): for the simulator and tests, which run every spill path —
// segments leaving memory, read back, their places reused — without a file.

import type { ValueSpill } from './value-store.ts';

export class MemorySpill implements ValueSpill {
  private readonly places = new Map<number, Uint8Array>();
  writes = 0;
  reads = 0;
  /** Bytes read back so far. */
  readBytes = 0;

  write(position: number, bytes: Uint8Array): void {
    this.places.set(position, bytes.slice());
    this.writes++;
  }

  /** Reads from within one write (a whole segment, or one value of it), as a file would. */
  read(position: number, into: Uint8Array): void {
    for (const [start, stored] of this.places) {
      const at = position - start;
      if (at < 0 || at + into.length > stored.length) continue;
      into.set(stored.subarray(at, at + into.length));
      this.reads++;
      this.readBytes += into.length;
      return;
    }
    throw new Error(`memory spill: nothing of ${into.length} bytes at ${position}`);
  }
}
