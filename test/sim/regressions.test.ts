// Seeds that once failed, kept as regression tests. A seed's meaning changes when the simulator consumes its
// PRNG differently, so each bug also has a directed scenario (test/raft/regressions.test.ts, test/server/);
// these seeds still guard the exact schedules that first exposed them.
import { describe, expect, it } from 'vitest';
import { runSeed } from '../../src/sim/runner.ts';

const SEEDS: [number, string][] = [
  [
    1,
    'replicate-state follower whose inflight window filled with lost messages never recovered (freeFirstOne)',
  ],
  [5, 'snapshot chunks of two different snapshots at one index were mixed'],
  [12, 'InstallSnapshot stalled when the follower lost received chunks'],
  [165, 'commit counted under the configuration before a change applied (checker)'],
  [249, 'a duplicated forwarded proposal (MsgProp) was applied twice'],
  [536, 'an ack queued for persistence vouched for entries overwritten before they were persisted'],
  [758, 'InstallSnapshot ignored an ack below the leader’s offset and stalled'],
  [922, 'a duplicated forwarded proposal was applied twice (second schedule)'],
  [2486, 'createSnapshot while a received snapshot was pending'],
];

describe('regression seeds', () => {
  for (const [seed, bug] of SEEDS) {
    it(`seed ${seed}: ${bug}`, () => {
      const r = runSeed(seed);
      expect(r.raft?.violation?.message ?? r.kv?.violation?.message).toBeUndefined();
    });
  }
});
