// The queue every peer link keeps (./link.ts; the fetch transport's per-peer queues too): encoded frames counted
// by number and bytes (the links enforce their bounds), taken in batches of up to a byte budget (at least one).
// Browser-safe: no Node APIs.

export class FrameQueue {
  private items: Uint8Array[] = [];
  private total = 0;

  get length(): number {
    return this.items.length;
  }

  get bytes(): number {
    return this.total;
  }

  push(item: Uint8Array): void {
    this.items.push(item);
    this.total += item.length;
  }

  /** Removes and returns the oldest items whose sizes add up to at most `maxBytes` (at least one). */
  takeBatch(maxBytes: number): Uint8Array[] {
    let count = 0;
    let bytes = 0;
    while (count < this.items.length && (count === 0 || bytes + this.items[count].length <= maxBytes)) {
      bytes += this.items[count].length;
      count++;
    }
    this.total -= bytes;
    return this.items.splice(0, count);
  }

  clear(): void {
    this.items = [];
    this.total = 0;
  }
}

/** Concatenates encoded frames into one buffer for a single write. */
export function concatFrames(frames: readonly Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0];
  let bytes = 0;
  for (const f of frames) bytes += f.length;
  const out = new Uint8Array(bytes);
  let at = 0;
  for (const frame of frames) {
    out.set(frame, at);
    at += frame.length;
  }
  return out;
}
