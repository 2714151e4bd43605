// The idle collection (adapters/runtime/node/idle-gc.ts): after a burst leaves the heap large, a process whose
// event loop falls idle gets its heap back — but not while a member says it may not pause for as long as the
// collection would take (a leader whose election timeout is short against it).

import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { memberMayPause, startIdleCollection } from '../../adapters/runtime/node/idle-gc.ts';

const heap = () => getHeapStatistics().total_heap_size;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle collection', () => {
  it('shrinks a grown heap once the event loop is idle, and only when every member may pause', async () => {
    let leader = true;
    let asked = 0;
    const pauses: number[] = [];
    // A leader with a 1 ms election timeout may never pause; once a follower, it may.
    const answer = memberMayPause(() => leader, 1);
    startIdleCollection((pauseMs) => {
      asked++;
      pauses.push(pauseMs);
      return answer(pauseMs);
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
    expect(Math.min(...pauses)).toBeGreaterThan(50); // ~1 ms per MB of a heap of ≥ 96 MB
    expect(heap()).toBeGreaterThan(grown - 32 * 1024 * 1024);
    leader = false;
    for (let i = 0; i < 200 && heap() > grown / 2; i++) await sleep(100);
    expect(heap()).toBeLessThan(grown / 2);
  }, 40_000);

  it('lets a leader pause only within a third of its election timeout', () => {
    let leader = true;
    const may = memberMayPause(() => leader, 1000);
    expect(may(300)).toBe(true);
    expect(may(400)).toBe(false);
    leader = false;
    expect(may(5000)).toBe(true);
  });
});
