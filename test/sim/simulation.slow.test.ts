// The CI range: 1,000 seeds of the deterministic simulator must pass, and must have exercised every fault.
import { describe, expect, it } from 'vitest';
import { formatSummary, runSeeds, totals } from '../../src/sim/runner.ts';

describe('simulator, seeds 1..1000 (3 voters)', () => {
  it('keeps every safety invariant and recovers after healing, while really exercising faults', () => {
    const results = runSeeds(1, 1000, { nodes: 3 });
    const failed = results.filter((r) => !r.ok);
    const summary = formatSummary(results);
    console.log(summary);
    expect(failed.map((r) => `${r.seed}: ${r.violation?.message}`)).toEqual([]);
    const t = totals(results);
    // Minimums, so that the range cannot pass by doing nothing.
    expect(t.elections).toBeGreaterThan(2000);
    expect(t.crashes).toBeGreaterThan(2000);
    expect(t.crashesLostData).toBeGreaterThan(200);
    expect(t.partitions).toBeGreaterThan(2000);
    expect(t.snapshotsInstalled).toBeGreaterThan(1000);
    expect(t.snapshotChunks).toBeGreaterThan(3 * t.snapshotsInstalled);
    expect(t.membershipChanges).toBeGreaterThan(500);
    expect(t.transfers).toBeGreaterThan(400);
    expect(t.proposalsCommitted).toBeGreaterThan(100_000);
    expect(t.readIndexServed).toBeGreaterThan(10_000);
    expect(t.messagesDropped).toBeGreaterThan(100_000);
  });
});

describe('simulator, seeds 1..100 (5 voters)', () => {
  it('passes with five voters', () => {
    const results = runSeeds(1, 100, { nodes: 5 });
    expect(results.filter((r) => !r.ok).map((r) => `${r.seed}: ${r.violation?.message}`)).toEqual([]);
    expect(totals(results).elections).toBeGreaterThan(200);
  });
});
