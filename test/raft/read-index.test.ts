import { describe, expect, it } from 'vitest';
import { Cluster, dec, enc, isType } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);

describe('ReadIndex (Raft §6.4)', () => {
  it('the leader answers at its commit index only after a quorum acknowledges a heartbeat round', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.propose(l, 'a');
    c.stabilize();
    const commit = c.node(l).status().commit;
    expect(c.node(l).readIndex(enc('r1'))).toBe(true);
    const rd = c.readyWithoutPersist(l);
    c.persist(l);
    expect(rd.readStates).toEqual([]);
    const beats = rd.messages.filter((m) => m.type === 'MsgHeartbeat');
    expect(beats.map((m) => m.to).sort()).toEqual(others(c, l));
    c.stabilize();
    expect(c.member(l).readStates.map((r) => ({ index: r.index, ctx: dec(r.context) }))).toEqual([
      { index: commit, ctx: 'r1' },
    ]);
  });

  it('reads queued before one ready() share a single heartbeat round', () => {
    const c = new Cluster({ size: 5 });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    for (let i = 0; i < 10; i++) c.node(l).readIndex(enc(`r${i}`));
    const rd = c.readyWithoutPersist(l);
    c.persist(l);
    expect(rd.messages.filter((m) => m.type === 'MsgHeartbeat').length).toBe(4);
    const mark = c.sent.length;
    c.stabilize();
    expect(c.count(isType('MsgHeartbeat'), c.sentSince(mark))).toBe(0);
    const rs = c.member(l).readStates;
    expect(rs.map((r) => dec(r.context))).toEqual(Array.from({ length: 10 }, (_, i) => `r${i}`));
    expect(new Set(rs.map((r) => r.index)).size).toBe(1);
  });

  it('a new leader does not answer before it has committed an entry of its own term', () => {
    const c = new Cluster({ raft: { preVote: false } });
    c.stabilize();
    c.node(1n).campaign();
    c.stabilize();
    c.propose(1n, 'old-term');
    c.stabilize();
    c.tickAndStabilize(2);
    // 2 takes over; its no-op cannot replicate (MsgApp dropped), but heartbeats flow freely.
    c.filters.push(isType('MsgApp', 'MsgAppResp'));
    c.node(1n).transferLeader(2n);
    c.stabilize();
    expect(c.node(2n).status().role).toBe('leader');
    c.node(2n).readIndex(enc('early'));
    c.tickAndStabilize(5);
    expect(c.count(isType('MsgHeartbeatResp'))).toBeGreaterThan(0);
    expect(c.member(2n).readStates).toEqual([]);
    c.filters = [];
    c.tickAndStabilize(3);
    const noop = c.node(2n).status().lastIndex;
    expect(c.node(2n).status().commit).toBe(noop);
    expect(c.member(2n).readStates.map((r) => dec(r.context))).toEqual(['early']);
    expect(c.member(2n).readStates[0].index).toBeGreaterThanOrEqual(noop);
  });

  it("a follower's readIndex is forwarded to the leader and answered with the leader's commit index", () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.propose(l, 'a');
    c.stabilize();
    const f = others(c, l)[0];
    expect(c.node(f).readIndex(enc('fr'))).toBe(true);
    c.stabilize();
    expect(c.count((m) => m.type === 'MsgReadIndex' && m.from === f && m.to === l)).toBe(1);
    expect(c.member(f).readStates.map((r) => [r.index, dec(r.context)])).toEqual([
      [c.node(l).status().commit, 'fr'],
    ]);
    expect(c.member(l).readStates).toEqual([]);
  });

  it('a follower without a leader refuses', () => {
    const c = new Cluster();
    c.stabilize();
    expect(c.node(2n).readIndex(enc('x'))).toBe(false);
  });

  it('a leader partitioned from the majority never answers', () => {
    const c = new Cluster({ raft: { checkQuorum: false } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    c.isolate(l);
    c.node(l).readIndex(enc('lost'));
    for (let i = 0; i < 50; i++) c.tickAndStabilize();
    expect(c.node(l).status().role).toBe('leader'); // it still believes it leads ...
    expect(c.member(l).readStates).toEqual([]); // ... but cannot confirm it
    c.heal();
    c.tickAndStabilize(20);
    expect(c.member(l).readStates).toEqual([]);
  });
});
