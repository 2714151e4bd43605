// A ValueSpill in memory (./value-store.ts): for the simulator and tests, which run every spill path —
// segments leaving memory, read back, their places reused — without a file.

import type { ValueSpill } from './value-store.ts';

export class MemorySpill implements ValueSpill {
  private readonly places = new Map<number, Uint8Array>();
  writes = 0;
  reads = 0;

  write(position: number, bytes: Uint8Array): void {
    this.places.set(position, bytes.slice());
    this.writes++;
  }

  read(position: number, into: Uint8Array): void {
    const stored = this.places.get(position);
    if (stored === undefined || stored.length < into.length)
      throw new Error(`memory spill: nothing of ${into.length} bytes at ${position}`);
    into.set(stored.subarray(0, into.length));
    this.reads++;
  }
}
