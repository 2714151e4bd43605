import { describe, expect, it } from 'vitest';
import { Cluster, fromTo, isType } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);

describe('leadership transfer (Raft thesis §3.10)', () => {
  it('to an up-to-date follower: MsgTimeoutNow, and it wins at once despite pre-vote and the lease', () => {
    const c = new Cluster({ raft: { preVote: true, checkQuorum: true } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const term = c.node(l).status().term;
    const t = others(c, l)[0];
    const mark = c.sent.length;
    c.node(l).transferLeader(t);
    c.stabilize();
    const since = c.sentSince(mark);
    expect(since.filter(fromTo(l, t, 'MsgTimeoutNow')).length).toBe(1);
    expect(since.filter(isType('MsgPreVote')).length).toBe(0);
    expect(since.filter((m) => m.type === 'MsgVoteResp' && m.to === t && !m.reject).length).toBe(2);
    expect(c.leader()).toBe(t);
    for (const id of c.ids()) expect(c.node(id).status()).toMatchObject({ term: term + 1, lead: t });
  });

  it('a transfer asked of a follower is forwarded to the leader', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const t = others(c, l)[0];
    c.node(t).transferLeader(t);
    c.stabilize();
    expect(c.leader()).toBe(t);
  });

  it('to a lagging follower: the leader first catches it up, refusing proposals meanwhile', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const t = others(c, l)[0];
    // t is slow: everything addressed to it waits in the network.
    const toT = (m: { to: bigint }) => m.to === t;
    const runWithout = () => {
      for (let i = 0; i < 20; i++) {
        for (const id of c.ids()) c.processReady(id);
        c.deliverWhere((m) => !toT(m));
      }
    };
    for (let i = 0; i < 5; i++) c.propose(l, `e${i}`);
    runWithout();
    expect(c.member(l).data.length).toBe(5);
    c.node(l).transferLeader(t);
    runWithout();
    expect(c.count(isType('MsgTimeoutNow'))).toBe(0);
    expect(c.node(l).status().leadTransferee).toBe(t);
    expect(c.propose(l, 'during')).toEqual({ ok: false, reason: 'transferring' });
    const mark = c.sent.length;
    c.node(l).transferLeader(t); // re-asking while pending changes nothing
    c.stabilize(); // t receives what it lacked
    expect(c.leader()).toBe(t);
    // TimeoutNow went out only after t acknowledged the leader's last entry.
    const since = c.sentSince(mark);
    const tn = since.findIndex(fromTo(l, t, 'MsgTimeoutNow'));
    expect(tn).toBeGreaterThan(0);
    const lastAck = since
      .slice(0, tn)
      .filter((m) => m.type === 'MsgAppResp' && m.from === t && !m.reject)
      .at(-1);
    expect(lastAck?.index).toBe(c.node(l).status().lastIndex - 1); // (the new leader has appended its no-op)
    expect(c.member(t).data).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });

  // Regression (same root cause as the idle catch-up case in replication.test.ts): t was isolated while the
  // leader streamed entries, so `next` ran past t's log; after healing, heartbeats must repair it.
  it('a transfer to a follower whose appends were lost completes once it is reachable again', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const t = others(c, l)[0];
    c.isolate(t);
    for (let i = 0; i < 5; i++) c.propose(l, `e${i}`);
    c.stabilize();
    c.node(l).transferLeader(t);
    c.stabilize();
    c.heal();
    for (let i = 0; i < 5; i++) c.tickAndStabilize();
    expect(c.leader()).toBe(t);
  });

  it('a transfer that cannot finish is abandoned after an election timeout', () => {
    const c = new Cluster({ raft: { electionTick: 10 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const t = others(c, l)[0];
    c.crash(t);
    c.node(l).transferLeader(t);
    c.stabilize();
    for (let i = 0; i < 9; i++) {
      c.tick(l);
      c.stabilize();
    }
    expect(c.node(l).status().leadTransferee).toBe(t);
    expect(c.propose(l, 'x')).toEqual({ ok: false, reason: 'transferring' });
    c.tick(l);
    c.stabilize();
    expect(c.node(l).status()).toMatchObject({ role: 'leader', leadTransferee: 0n });
    expect(c.propose(l, 'y').ok).toBe(true);
  });

  it('transfer to a learner or to an unknown node is ignored', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.addMember(4n);
    c.proposeConfChange(l, { type: 'addLearner', nodeId: 4n });
    c.stabilize();
    c.node(l).transferLeader(4n);
    c.node(l).transferLeader(9n);
    c.stabilize();
    expect(c.node(l).status().leadTransferee).toBe(0n);
    expect(c.count(isType('MsgTimeoutNow'))).toBe(0);
  });
});
