import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.ts';
import { Cluster } from './harness.ts';

/**
 * Raft §5.4.2, Figure 8, with five nodes (our log starts with 5 bootstrap entries at term 1, so the paper's
 * index 2 is our index 7 and its index 3 our index 8).
 *  (a) S1 leads term 2 and replicates index 7 ("x", term 2) to S2 only.
 *  (b) S1 crashes; S5 is elected in term 3 by S3, S4, S5 and appends its no-op at index 7 (term 3), which
 *      reaches nobody.
 *  (c) S5 crashes; S1 restarts and is elected in term 4; it replicates "x" (term 2) to S3, so index 7 is on a
 *      majority (S1, S2, S3) while its own no-op at index 8 (term 4) is not.
 * Returns the cluster at the end of (c); S1's MsgApps that would bring index 8 to S3 are dropped.
 */
function figure8(unsafe: boolean) {
  const c = new Cluster({
    size: 5,
    strict: !unsafe,
    raft: { preVote: false, checkQuorum: false, maxSizePerMsg: 0, testingUnsafeCommitAnyTerm: unsafe },
  });
  c.stabilize();
  // (a)
  c.node(1n).campaign();
  c.stabilize();
  expect(c.node(1n).status()).toMatchObject({ role: 'leader', term: 2, commit: 6 });
  for (const id of [3n, 4n, 5n]) c.cutLink(1n, id);
  expect(c.propose(1n, 'x')).toMatchObject({ ok: true, index: 7, term: 2 });
  c.stabilize();
  expect(c.node(2n).status().lastIndex).toBe(7);
  expect(c.node(1n).status().commit).toBe(6);
  // (b)
  c.crash(1n);
  c.heal();
  c.cutLink(5n, 2n);
  c.filters.push((m) => m.from === 5n && (m.type === 'MsgApp' || m.type === 'MsgHeartbeat'));
  c.node(5n).campaign();
  c.stabilize();
  expect(c.node(5n).status()).toMatchObject({ role: 'leader', term: 3, lastIndex: 7 });
  // (c)
  c.crash(5n);
  c.heal();
  c.restart(1n);
  c.stabilize(); // replays the committed bootstrap entries
  c.filters.push((m) => !['MsgVote', 'MsgVoteResp'].includes(m.type));
  for (let i = 0; i < 3 && c.node(1n).status().role !== 'leader'; i++) {
    c.node(1n).campaign();
    c.stabilize();
  }
  expect(c.node(1n).status()).toMatchObject({ role: 'leader', term: 4, lastIndex: 8 });
  const carries8 = (m: Message) => (m.entries ?? []).some((e) => e.index === 8);
  c.filters = [
    (m) =>
      !((m.from === 1n && (m.to === 2n || m.to === 3n)) || ((m.from === 2n || m.from === 3n) && m.to === 1n)),
    // S3 first rejects the probe (prev 7) — let that through; once it holds index 7, index 8 must not reach it.
    (m) =>
      m.type === 'MsgApp' &&
      m.from === 1n &&
      m.to === 3n &&
      carries8(m) &&
      c.node(3n).status().lastIndex >= 7,
  ];
  c.tick(1n); // a heartbeat round restarts the probes that the election-only filter dropped
  c.stabilize();
  const st = c.node(1n).status();
  expect(st.progress.get(2n)?.match).toBe(8);
  expect(st.progress.get(3n)?.match).toBe(7);
  expect(c.node(3n).status().lastIndex).toBe(7);
  return c;
}

/** (d): S1 crashes; S5 restarts and is elected by S3, S4, S5; it overwrites index 7 where it can. */
function figure8d(c: Cluster): void {
  c.crash(1n);
  c.heal();
  c.isolate(2n);
  c.restart(5n);
  c.stabilize();
  for (let i = 0; i < 3 && c.node(5n).status().role !== 'leader'; i++) {
    c.node(5n).campaign();
    c.stabilize();
  }
  expect(c.node(5n).status()).toMatchObject({ role: 'leader', term: 5 });
  c.stabilize();
}

describe('commitment rules (Raft §5.4.2, Figure 8)', () => {
  it('a leader does not commit an entry of a previous term by counting replicas', () => {
    const c = figure8(false);
    // Index 7 (term 2) is stored on S1, S2, S3 — a majority — yet it must not be committed.
    expect(c.node(1n).status().commit).toBe(6);
    expect(c.member(1n).data).toEqual([]);
    // And rightly so: (d) S5 can still be elected and overwrite it.
    figure8d(c);
    expect(c.violations).toEqual([]);
    for (const id of [3n, 4n, 5n]) {
      expect(c.node(id).status().commit).toBeGreaterThanOrEqual(8);
      expect(c.member(id).disk.entry(7)?.term).toBe(3);
    }
    expect(c.appliedAt.get(7)?.term).toBe(3);
    for (const id of c.ids()) expect(c.member(id).data).not.toContain('x');
  });

  it('(e) once an entry of its own term is on a majority, the earlier entries commit with it', () => {
    const c = figure8(false);
    c.filters = [];
    c.tickAndStabilize(3);
    expect(c.node(1n).status().commit).toBe(8);
    for (const id of [1n, 2n, 4n]) expect(c.member(id).data).toEqual(['x']);
    expect(c.violations).toEqual([]);
  });

  it('with testingUnsafeCommitAnyTerm the core commits by counting, and Figure 8 loses a committed entry', () => {
    const c = figure8(true);
    expect(c.node(1n).status().commit).toBe(7);
    expect(c.member(1n).data).toEqual(['x']); // applied at index 7 by S1 ...
    figure8d(c);
    // ... while S3, S4, S5 apply S5's term-3 entry at index 7: a state machine safety violation.
    expect(c.violations.some((v) => v.startsWith('state machine safety') && v.includes(' 7@'))).toBe(true);
  });
});
