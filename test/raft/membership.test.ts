import { describe, expect, it } from 'vitest';
import { Cluster, isType } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);

function withLearner() {
  const c = new Cluster();
  const l = c.tickUntilLeader();
  c.addMember(4n);
  expect(c.proposeConfChange(l, { type: 'addLearner', nodeId: 4n }).ok).toBe(true);
  c.stabilize();
  c.tickAndStabilize(3);
  return { c, l };
}

describe('membership changes (single-server, Raft §4.1 / thesis §4.2.1 learners)', () => {
  it('a learner receives and applies entries and learns the configuration from the log', () => {
    const { c, l } = withLearner();
    c.propose(l, 'x');
    c.stabilize();
    c.tickAndStabilize(2);
    expect(c.member(4n).data).toEqual(['x']);
    for (const id of c.ids())
      expect(c.node(id).status().conf).toEqual({ voters: [1n, 2n, 3n], learners: [4n] });
  });

  it('a learner does not count toward commit and is never asked to vote', () => {
    const { c, l } = withLearner();
    const [f, g] = others(c, l).filter((x) => x !== 4n);
    c.isolate(f);
    c.isolate(g);
    const p = c.propose(l, 'y');
    c.stabilize();
    c.tickAndStabilize(2);
    expect(c.node(4n).status().lastIndex).toBe(p.ok ? p.index : -1); // the learner has it ...
    expect(c.node(l).status().commit).toBeLessThan(p.ok ? p.index! : 0); // ... but it does not count
    c.heal();
    const mark = c.sent.length;
    c.crash(l);
    c.tickUntilLeader();
    const asked = c
      .sentSince(mark)
      .filter((m) => (m.type === 'MsgVote' || m.type === 'MsgPreVote') && m.to === 4n);
    expect(asked).toEqual([]);
  });

  it('a learner never campaigns, even when it stops hearing from the leader', () => {
    const { c } = withLearner();
    c.isolate(4n);
    const mark = c.sent.length;
    for (let i = 0; i < 100; i++) {
      c.tick(4n);
      c.stabilize();
    }
    c.node(4n).campaign();
    c.stabilize();
    expect(c.node(4n).status().role).toBe('follower');
    expect(c.sentSince(mark).filter((m) => m.from === 4n)).toEqual([]);
  });

  it('promoting a learner (addNode) makes it a voter that can lead', () => {
    const { c, l } = withLearner();
    expect(c.proposeConfChange(l, { type: 'addNode', nodeId: 4n }).ok).toBe(true);
    c.stabilize();
    for (const id of c.ids())
      expect(c.node(id).status().conf).toEqual({ voters: [1n, 2n, 3n, 4n], learners: [] });
    c.tickAndStabilize(2);
    c.node(l).transferLeader(4n);
    c.stabilize();
    expect(c.leader()).toBe(4n);
    c.propose(4n, 'from-4');
    c.stabilize();
    for (const id of c.ids()) expect(c.member(id).data).toEqual(['from-4']);
  });

  it('removing a voter shrinks the quorum; the removed node gets nothing more', () => {
    const c = new Cluster({ size: 4 });
    const l = c.tickUntilLeader();
    const victim = others(c, l)[0];
    expect(c.proposeConfChange(l, { type: 'removeNode', nodeId: victim }).ok).toBe(true);
    c.stabilize();
    const rest = c.ids().filter((x) => x !== victim);
    for (const id of rest) expect(c.node(id).status().conf.voters).toEqual(rest);
    // 3 voters now: the leader plus one more is a quorum (with 4 it would not be).
    const [, other] = rest.filter((x) => x !== l);
    c.isolate(other);
    const mark = c.sent.length;
    c.propose(l, 'z');
    c.stabilize();
    expect(c.member(l).data).toEqual(['z']);
    expect(c.sentSince(mark).filter((m) => m.to === victim)).toEqual([]);
  });

  it('only one change may be pending: a second is refused until the first is applied', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.addMember(4n);
    c.addMember(5n);
    expect(c.proposeConfChange(l, { type: 'addLearner', nodeId: 4n }).ok).toBe(true);
    expect(c.proposeConfChange(l, { type: 'addLearner', nodeId: 5n })).toEqual({
      ok: false,
      reason: 'confChangePending',
    });
    // Committed but not yet applied by the leader: still refused.
    c.processReady(l);
    c.deliverAll();
    for (const id of others(c, l)) c.processReady(id);
    c.deliverAll();
    const rd = c.readyWithoutPersist(l);
    expect(rd.committedEntries.some((e) => e.type === 'confChange')).toBe(true); // handed out, not yet applied
    expect(c.node(l).status().commit).toBeGreaterThan(c.node(l).status().applied);
    expect(c.proposeConfChange(l, { type: 'addLearner', nodeId: 5n })).toMatchObject({
      reason: 'confChangePending',
    });
    c.persist(l); // applies it and advances
    c.stabilize();
    expect(c.proposeConfChange(l, { type: 'addLearner', nodeId: 5n }).ok).toBe(true);
    c.stabilize();
    expect(c.node(l).status().conf.learners).toEqual([4n, 5n]);
  });

  it('a new leader refuses a membership change until it has committed an entry of its own term', () => {
    const c = new Cluster({ raft: { preVote: false } });
    c.stabilize();
    c.node(1n).campaign();
    c.processReady(1n);
    c.deliverAll();
    for (const id of [2n, 3n]) c.processReady(id);
    c.deliverAll();
    expect(c.node(1n).status().role).toBe('leader');
    expect(c.node(1n).status().applied).toBe(c.node(1n).status().lastIndex - 1); // everything but its no-op
    expect(c.proposeConfChange(1n, { type: 'addLearner', nodeId: 4n })).toEqual({
      ok: false,
      reason: 'leaderNotReady',
    });
    c.stabilize();
    expect(c.proposeConfChange(1n, { type: 'addLearner', nodeId: 4n }).ok).toBe(true);
  });

  it('a leader that removes itself steps down and the others elect a new leader', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    expect(c.proposeConfChange(l, { type: 'removeNode', nodeId: l }).ok).toBe(true);
    c.stabilize();
    expect(c.node(l).status().role).toBe('follower');
    let nl = c.leader();
    for (let i = 0; i < 300 && (nl === undefined || nl === l); i++) {
      c.tickAndStabilize();
      nl = c.leader();
    }
    expect(nl).toBeDefined();
    expect(nl).not.toBe(l);
    const rest = others(c, l);
    for (const id of rest) expect(c.node(id).status().conf.voters).toEqual(rest);
    c.propose(nl!, 'w');
    c.stabilize();
    for (const id of rest) expect(c.member(id).data).toEqual(['w']);
    // The removed node never leads again.
    c.tickAndStabilize(50);
    expect(c.node(l).status().role).not.toBe('leader');
  });

  it('the configuration travels in snapshot metadata to a node that joins after compaction', () => {
    const c = new Cluster({ raft: { snapshotCatchUpEntries: 0, snapshotChunkBytes: 64 } });
    const l = c.tickUntilLeader();
    c.addMember(4n);
    c.crash(4n);
    expect(c.proposeConfChange(l, { type: 'addLearner', nodeId: 4n }).ok).toBe(true);
    c.stabilize();
    for (let i = 0; i < 10; i++) c.propose(l, `e${i}`);
    c.stabilize();
    const snap = c.snapshot(l);
    expect(c.node(l).status().firstIndex).toBeGreaterThan(4); // the confChange entries are gone from the log
    const want = { voters: [1n, 2n, 3n], learners: [4n] };
    expect(snap.metadata.confState).toEqual(want);
    c.restart(4n); // fresh, empty storage
    c.tickAndStabilize(5);
    expect(c.count((m) => m.type === 'MsgSnap' && m.to === 4n)).toBeGreaterThan(0);
    expect(c.node(4n).status().conf).toEqual(want);
    expect(c.member(4n).data).toEqual(c.member(l).data);
    c.crash(4n);
    c.restart(4n);
    expect(c.node(4n).status().conf).toEqual(want);
    expect(
      c.count(
        isType('MsgVote', 'MsgPreVote'),
        c.sent.filter((m) => m.to === 4n),
      ),
    ).toBe(0);
  });
});
