import { describe, expect, it } from 'vitest';
import { Lessor } from '../../src/lease/index.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('100,000 leases', () => {
  it('expired() names them all once, in deadline order, 1,000 at a time', () => {
    const rand = mulberry32(7);
    const l = new Lessor();
    l.promote(0, 0);
    const deadline = new Map<bigint, number>();
    const n = 100_000;
    for (let i = 0; i < n; i++) {
      const id = BigInt(i + 1) * 7919n;
      const now = Math.floor(rand() * 10_000);
      const ttl = 2 + Math.floor(rand() * 1_000);
      l.applyGrant(id, ttl, now);
      deadline.set(id, now + ttl * 1000);
    }
    // Renew a third of them (leaves stale heap entries behind).
    let i = 0;
    for (const id of deadline.keys()) {
      if (i++ % 3 !== 0) continue;
      const now = 1_000 + Math.floor(rand() * 1_000);
      if (l.renew(id, now).status !== 'renewed') throw new Error('renew failed');
      deadline.set(id, now + l.get(id)!.ttl * 1000);
    }
    expect(l.count).toBe(n);
    // Every lease still alive at 20 s is due for a checkpoint; expired ones are skipped.
    const alive = [...deadline.values()].filter((d) => d > 20_000).length;
    expect(alive).toBeLessThan(n);
    expect(l.dueCheckpoints(20_000, 5_000, 100_000).length).toBe(alive);

    const now = 2_000_000;
    const seen: bigint[] = [];
    for (;;) {
      const batch = l.expired(now, 1_000);
      if (batch.length === 0) break;
      expect(batch.length).toBeLessThanOrEqual(1_000);
      seen.push(...batch);
    }
    expect(seen.length).toBe(n);
    expect(new Set(seen).size).toBe(n);
    let previous = Number.NEGATIVE_INFINITY;
    let ordered = true;
    for (const id of seen) {
      const d = deadline.get(id)!;
      if (d < previous) ordered = false;
      previous = d;
      if (l.deadline(id) !== d) ordered = false;
    }
    expect(ordered).toBe(true);
    // Revoked ones leave; the rest come back after the retry interval, still oldest first.
    for (const id of seen.slice(0, n / 2)) l.applyRevoke(id);
    const again = l.expired(now + 3_000, n);
    expect(again).toEqual(seen.slice(n / 2));
  });
});
