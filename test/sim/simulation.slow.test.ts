// The CI range: 1,000 seeds, each running the Raft-level simulation and the whole-member simulation with client
// workloads, must pass — and must have exercised every fault and workload, so the range cannot pass by doing
// nothing.
import { describe, expect, it } from 'vitest';
import { type KvSimStats, runKvSimulation } from '../../src/sim/kv-simulation.ts';
import { mixedGroup } from '../../src/sim/profiles.ts';
import { formatSummary, kvTotals, raftTotals, runSeeds } from '../../src/sim/runner.ts';

const failures = (rs: ReturnType<typeof runSeeds>) =>
  rs.filter((r) => !r.ok).map((r) => `${r.seed}: ${r.raft?.violation?.message ?? r.kv?.violation?.message}`);

describe('simulator, seeds 1..1000 (3 voters)', () => {
  it('keeps every invariant, stays linearizable and recovers after healing, while really exercising faults', () => {
    const results = runSeeds(1, 1000);
    console.log(formatSummary(results));
    expect(failures(results)).toEqual([]);
    const t = raftTotals(results)!;
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
    const k = kvTotals(results)!;
    const ops = k.opsOk + k.opsFailed + k.opsIndeterminate;
    expect(ops).toBeGreaterThan(300_000);
    // A minimum fraction of client operations must succeed, or a run could pass by refusing everything.
    expect(k.opsOk / ops).toBeGreaterThan(0.5);
    expect(k.readsOk).toBeGreaterThan(100_000);
    expect(k.casSucceeded).toBeGreaterThan(10_000);
    expect(k.opsIndeterminate).toBeGreaterThan(1000);
    expect(k.watchersChecked).toBeGreaterThan(1000);
    expect(k.watchEvents).toBeGreaterThan(100_000);
    expect(k.leaseKeepAlives).toBeGreaterThan(1000);
    expect(k.leasesExpired).toBeGreaterThan(10);
    expect(k.snapshotsInstalled).toBeGreaterThan(100);
  });
});

describe('simulator, seeds 1..1000 (one group across runtimes)', () => {
  it('keeps every invariant with Node and Durable Object voters, and Durable Object and tab learners', () => {
    // Two Node voters, a Durable Object voter, a Durable Object learner, a background tab learner (profiles.ts):
    // slower disks, late alarm-driven ticks, long links, frozen tabs; clients through the voters.
    const results = Array.from({ length: 1000 }, (_, i) =>
      runKvSimulation({ seed: i + 1, profiles: mixedGroup() }),
    );
    const failed = results.filter((r) => !r.ok).map((r) => `${r.seed}: ${r.violation?.message}`);
    expect(failed).toEqual([]);
    const total = (k: keyof KvSimStats) => results.reduce((n, r) => n + r.stats[k], 0);
    expect(total('opsOk')).toBeGreaterThan(150_000);
    expect(total('crashes')).toBeGreaterThan(2000);
    expect(total('partitions')).toBeGreaterThan(1500);
    expect(total('runtimePauses')).toBeGreaterThan(200);
    expect(total('snapshotsInstalled')).toBeGreaterThan(500);
    expect(total('watchersChecked')).toBeGreaterThan(1000);
  });
});

describe('simulator, seeds 1..100 (5 voters)', () => {
  it('passes with five voters', () => {
    const results = runSeeds(1, 100, { raft: { nodes: 5 }, kv: { nodes: 5 } });
    expect(failures(results)).toEqual([]);
    expect(raftTotals(results)!.elections).toBeGreaterThan(200);
  });
});

describe('a Raft with a known bug is caught', () => {
  for (const bug of ['voteIgnoresLog', 'ackBeforePersist'] as const) {
    it(`testingBug: ${bug} fails some seed in 1..200`, () => {
      let caught: string | undefined;
      for (let seed = 1; seed <= 200 && !caught; seed++) {
        const r = runSeeds(seed, seed, { raft: { bug }, raftOnly: true })[0];
        if (!r.ok) caught = `seed ${seed}: ${r.raft?.violation?.message}`;
      }
      console.log(`${bug}: ${caught}`);
      expect(caught).toBeDefined();
    });
  }
});
