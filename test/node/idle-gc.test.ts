// The idle collection (adapters/runtime/node/idle-gc.ts): after a burst leaves the heap large, a process whose
// event loop falls idle gets its heap back — but not while a member says it may not pause (a leader).

import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { startIdleCollection } from '../../adapters/runtime/node/idle-gc.ts';

const heap = () => getHeapStatistics().total_heap_size;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle collection', () => {
  it('shrinks a grown heap once the event loop is idle, and only when every member may pause', async () => {
    let may = false;
    let asked = 0;
    startIdleCollection(() => {
      asked++;
      return may;
    });
    // A burst: objects that live long enough to reach the old space, then die.
    let burst: unknown[][] = [];
    for (let round = 0; round < 8; round++) {
      const batch: unknown[] = [];
      for (let i = 0; i < 200_000; i++) batch.push({ i, s: `value ${i} ${round}`, a: [i, round] });
      burst.push(batch);
      await sleep(10);
    }
    burst = [];
    const grown = heap();
    expect(grown).toBeGreaterThan(96 * 1024 * 1024);
    // Idle, but the member may not pause: it is asked, and the heap stays.
    for (let i = 0; i < 100 && asked < 2; i++) await sleep(100);
    expect(asked).toBeGreaterThanOrEqual(2);
    expect(heap()).toBeGreaterThan(grown - 32 * 1024 * 1024);
    may = true;
    for (let i = 0; i < 200 && heap() > grown / 2; i++) await sleep(100);
    expect(heap()).toBeLessThan(grown / 2);
  }, 40_000);
});
