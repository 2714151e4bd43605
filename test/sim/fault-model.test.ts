import { describe, expect, it } from 'vitest';
import type { Random } from '../../src/env.ts';
import { DRAWS_PER_PLAN, FaultModel } from '../../src/sim/fault-model.ts';

/** mulberry32: a tiny seeded PRNG, enough for reproducible tests. */
function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** Wraps a Random and counts its draws. */
function counting(random: Random): Random & { draws: number } {
  const counter = {
    draws: 0,
    next() {
      counter.draws++;
      return random.next();
    },
  };
  return counter;
}

function tally(model: FaultModel, n: number): { lost: number; duplicated: number; delays: number[] } {
  let lost = 0;
  let duplicated = 0;
  const delays: number[] = [];
  for (let i = 0; i < n; i++) {
    const plan = model.plan(1n, 2n);
    if (plan.length === 0) lost++;
    if (plan.length === 2) duplicated++;
    delays.push(...plan);
  }
  return { lost, duplicated, delays };
}

describe('FaultModel', () => {
  it('delivers every message once, at the minimum delay, when fault-free', () => {
    const model = new FaultModel(mulberry32(1), { minDelayMs: 5, maxDelayMs: 5 });
    for (let i = 0; i < 1000; i++) expect(model.plan(1n, 2n)).toEqual([5]);
  });

  it('drops at about the drop rate', () => {
    const model = new FaultModel(mulberry32(2), { dropRate: 0.3 });
    const { lost } = tally(model, 10_000);
    expect(lost).toBeGreaterThan(2_500);
    expect(lost).toBeLessThan(3_500);
  });

  it('duplicates at about the duplicate rate, only messages that are not lost', () => {
    const model = new FaultModel(mulberry32(3), { dropRate: 0.5, duplicateRate: 0.2 });
    const { lost, duplicated } = tally(model, 10_000);
    const delivered = 10_000 - lost;
    expect(duplicated / delivered).toBeGreaterThan(0.15);
    expect(duplicated / delivered).toBeLessThan(0.25);
    expect(new FaultModel(mulberry32(3), { duplicateRate: 1 }).plan(1n, 2n)).toHaveLength(2);
  });

  it('spreads delays over the whole range, both ends included, which reorders', () => {
    const model = new FaultModel(mulberry32(4), { minDelayMs: 10, maxDelayMs: 20 });
    const { delays } = tally(model, 5_000);
    expect(Math.min(...delays)).toBe(10);
    expect(Math.max(...delays)).toBe(20);
    expect(delays.every(Number.isInteger)).toBe(true);
    expect(new Set(delays).size).toBe(11);
  });

  it('partitions nodes into groups that cannot talk across', () => {
    const model = new FaultModel(mulberry32(5));
    model.partition([[1n, 2n], [3n]]);
    expect(model.canReach(1n, 2n)).toBe(true);
    expect(model.canReach(1n, 3n)).toBe(false);
    expect(model.canReach(3n, 2n)).toBe(false);
    expect(model.plan(1n, 3n)).toEqual([]);
    expect(model.plan(1n, 2n)).toEqual([0]);
    // Unnamed nodes form one group of their own.
    expect(model.canReach(4n, 5n)).toBe(true);
    expect(model.canReach(4n, 1n)).toBe(false);
    // A new partition replaces the old one.
    model.partition([[1n], [2n, 3n]]);
    expect(model.canReach(1n, 2n)).toBe(false);
    expect(model.canReach(2n, 3n)).toBe(true);
  });

  it('isolates a node in both directions', () => {
    const model = new FaultModel(mulberry32(6));
    model.isolate(2n);
    expect(model.canReach(1n, 2n)).toBe(false);
    expect(model.canReach(2n, 1n)).toBe(false);
    expect(model.canReach(1n, 3n)).toBe(true);
    expect(model.plan(2n, 3n)).toEqual([]);
  });

  it('cuts a link one way only', () => {
    const model = new FaultModel(mulberry32(7));
    model.cut(1n, 2n);
    expect(model.canReach(1n, 2n)).toBe(false);
    expect(model.canReach(2n, 1n)).toBe(true);
    expect(model.plan(1n, 2n)).toEqual([]);
    expect(model.plan(2n, 1n)).toEqual([0]);
  });

  it('adds a slow link delay to that link only', () => {
    const model = new FaultModel(mulberry32(8), { minDelayMs: 1, maxDelayMs: 1 });
    model.slowLink(1n, 2n, 100);
    expect(model.plan(1n, 2n)).toEqual([101]);
    expect(model.plan(2n, 1n)).toEqual([1]);
  });

  it('heals partitions, isolation, cuts and slow links but keeps the rates', () => {
    const model = new FaultModel(mulberry32(9), { minDelayMs: 3, maxDelayMs: 3, duplicateRate: 1 });
    model.partition([[1n], [2n]]);
    model.isolate(3n);
    model.cut(4n, 5n);
    model.slowLink(5n, 4n, 50);
    model.heal();
    expect(model.canReach(1n, 2n)).toBe(true);
    expect(model.canReach(3n, 1n)).toBe(true);
    expect(model.canReach(4n, 5n)).toBe(true);
    expect(model.plan(5n, 4n)).toEqual([3, 3]);
    expect(model.rates.duplicateRate).toBe(1);
  });

  it('makes the same decisions for the same random sequence', () => {
    const run = (seed: number) => {
      const model = new FaultModel(mulberry32(seed), {
        minDelayMs: 1,
        maxDelayMs: 50,
        dropRate: 0.2,
        duplicateRate: 0.1,
      });
      const plans: number[][] = [];
      for (let i = 0; i < 500; i++) {
        if (i === 200) model.partition([[1n], [2n, 3n]]);
        if (i === 300) model.heal();
        plans.push(model.plan(BigInt(1 + (i % 3)), BigInt(1 + ((i + 1) % 3))));
      }
      return plans;
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });

  it(`draws ${DRAWS_PER_PLAN} values per plan whatever the outcome`, () => {
    const random = counting(mulberry32(10));
    const model = new FaultModel(random, { dropRate: 0.5, duplicateRate: 0.5, maxDelayMs: 9 });
    model.plan(1n, 2n);
    expect(random.draws).toBe(DRAWS_PER_PLAN);
    model.cut(1n, 2n);
    model.plan(1n, 2n);
    model.setRates({ dropRate: 1 });
    model.plan(2n, 1n);
    expect(random.draws).toBe(3 * DRAWS_PER_PLAN);
  });

  it('refuses bad rates and delays', () => {
    const model = new FaultModel(mulberry32(11));
    expect(() => model.setRates({ dropRate: 1.5 })).toThrow(RangeError);
    expect(() => model.setRates({ duplicateRate: -0.1 })).toThrow(RangeError);
    expect(() => model.setRates({ minDelayMs: 10, maxDelayMs: 5 })).toThrow(RangeError);
    expect(() => model.slowLink(1n, 2n, -1)).toThrow(RangeError);
    expect(model.rates.dropRate).toBe(0);
  });
});
