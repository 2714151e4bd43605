import { describe, expect, it } from 'vitest';
import { Cluster } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);

describe('backpressure', () => {
  it("refuses proposals with 'tooManyRequests' when committed − applied exceeds maxApplyLag", () => {
    const c = new Cluster({ raft: { maxApplyLag: 3 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    // The host is slow to apply: it takes the leader's Ready (sending the appends) but does not get to
    // persist/apply/advance it, while the followers ack and commit advances past what the leader applied.
    for (let i = 0; i < 4; i++) expect(c.propose(l, `e${i}`).ok).toBe(true);
    c.readyWithoutPersist(l);
    c.deliverAll();
    for (const f of others(c, l)) c.processReady(f);
    c.deliverAll();
    const st = c.node(l).status();
    expect(st.commit - st.applied).toBe(4);
    expect(c.propose(l, 'refused')).toEqual({ ok: false, reason: 'tooManyRequests' });
    c.persist(l); // the host catches up: persists, applies, advances
    c.stabilize();
    expect(c.propose(l, 'accepted').ok).toBe(true);
    c.stabilize();
    for (const id of c.ids()) expect(c.member(id).data).toEqual(['e0', 'e1', 'e2', 'e3', 'accepted']);
  });

  it('a lag of exactly maxApplyLag is still accepted', () => {
    const c = new Cluster({ raft: { maxApplyLag: 4 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    for (let i = 0; i < 4; i++) c.propose(l, `e${i}`);
    c.readyWithoutPersist(l);
    c.deliverAll();
    for (const f of others(c, l)) c.processReady(f);
    c.deliverAll();
    const st = c.node(l).status();
    expect(st.commit - st.applied).toBe(4);
    expect(c.propose(l, 'ok').ok).toBe(true);
  });

  it('the apply lag also builds when committed entries are handed out in small Readies', () => {
    const c = new Cluster({ raft: { maxApplyLag: 2, maxCommittedSizePerReady: 1 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    for (let i = 0; i < 5; i++) c.propose(l, `e${i}`);
    c.processReady(l);
    c.deliverAll();
    for (const f of others(c, l)) c.processReady(f);
    c.deliverAll();
    // One Ready applies one entry.
    c.processReady(l);
    const st = c.node(l).status();
    expect(st.commit - st.applied).toBeGreaterThan(2);
    expect(c.propose(l, 'refused')).toMatchObject({ reason: 'tooManyRequests' });
    c.stabilize();
    expect(c.propose(l, 'fine').ok).toBe(true);
  });

  it("refuses proposals with 'tooManyRequests' beyond maxUncommittedBytes, and accepts again after commit", () => {
    const c = new Cluster({ raft: { maxUncommittedBytes: 10 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    for (const f of others(c, l)) c.isolate(f);
    expect(c.propose(l, 'aaaa').ok).toBe(true);
    expect(c.propose(l, 'bbbb').ok).toBe(true);
    expect(c.propose(l, 'cccc')).toEqual({ ok: false, reason: 'tooManyRequests' });
    expect(c.propose(l, 'dd').ok).toBe(true); // exactly 10 bytes is allowed
    expect(c.propose(l, 'e')).toEqual({ ok: false, reason: 'tooManyRequests' });
    c.stabilize();
    c.heal();
    c.propose(l, ''); // (an empty write nudges the followers whose appends were lost)
    c.tickAndStabilize(3);
    expect(c.node(l).status().commit).toBe(c.node(l).status().lastIndex);
    expect(c.propose(l, 'cccc').ok).toBe(true);
    c.stabilize();
    expect(c.member(l).data).toEqual(['aaaa', 'bbbb', 'dd', 'cccc']);
  });

  it('a single entry larger than maxUncommittedBytes is accepted when nothing is uncommitted', () => {
    const c = new Cluster({ raft: { maxUncommittedBytes: 10 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    expect(c.propose(l, 'x'.repeat(50)).ok).toBe(true);
    expect(c.propose(l, 'y')).toMatchObject({ reason: 'tooManyRequests' });
  });
});
