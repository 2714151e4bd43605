import { describe, expect, it } from 'vitest';
import type { Message } from '../../src/raft/types.ts';
import { Cluster, fromTo, isType } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);
const appsTo = (msgs: readonly Message[], to: bigint) =>
  msgs.filter((m) => m.type === 'MsgApp' && m.to === to);

describe('log replication (Raft §5.3)', () => {
  it('committed entries reach every follower, in order', () => {
    const c = new Cluster({ size: 5 });
    const l = c.tickUntilLeader();
    const want = Array.from({ length: 20 }, (_, i) => `e${i}`);
    for (const s of want) expect(c.propose(l, s).ok).toBe(true);
    c.stabilize();
    c.tickAndStabilize(2);
    for (const id of c.ids()) {
      expect(c.member(id).data).toEqual(want);
      expect(c.node(id).status().commit).toBe(c.node(l).status().lastIndex);
    }
  });

  it('a proposal on a follower is forwarded to the leader and committed', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    const f = others(c, l)[0];
    expect(c.propose(f, 'via-follower').ok).toBe(true);
    c.stabilize();
    for (const id of c.ids()) expect(c.member(id).data).toEqual(['via-follower']);
  });

  it('a proposal relayed by a follower goes on in its own name (peer links refuse a sender other than the peer)', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    const [f, g] = others(c, l);
    // g took f for the leader: f relays the proposal to the real leader.
    c.node(f).step({
      type: 'MsgProp',
      from: g,
      to: f,
      term: 0,
      entries: [{ type: 'normal', term: 0, index: 0, data: new TextEncoder().encode('relayed') }],
    });
    c.stabilize();
    const relayed = c.sent.filter((m) => m.type === 'MsgProp' && m.to === l);
    expect(relayed.length).toBe(1);
    expect(relayed[0].from).toBe(f);
    for (const id of c.ids()) expect(c.member(id).data).toEqual(['relayed']);
  });

  it('batching: many proposals before one ready() go out as one MsgApp per follower', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    for (let i = 0; i < 50; i++) expect(c.propose(l, `p${i}`).ok).toBe(true);
    const rd = c.readyWithoutPersist(l);
    expect(rd.entries.length).toBe(50);
    for (const f of others(c, l)) {
      const apps = appsTo(rd.messages, f);
      expect(apps.length).toBe(1);
      expect(apps[0].entries?.length).toBe(50);
    }
    c.persist(l);
    c.stabilize();
    for (const id of c.ids()) expect(c.member(id).data.length).toBe(50);
  });

  it('entries per MsgApp are limited by maxSizePerMsg (but at least one)', () => {
    const c = new Cluster({ raft: { maxSizePerMsg: 10 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    for (let i = 0; i < 10; i++) c.propose(l, `aaa${i}`); // 4 bytes each: two fit in 10 bytes
    const rd = c.readyWithoutPersist(l);
    for (const f of others(c, l)) {
      const apps = appsTo(rd.messages, f);
      expect(apps.length).toBe(5);
      for (const a of apps) {
        const bytes = (a.entries ?? []).reduce((n, e) => n + e.data.length, 0);
        expect(a.entries?.length).toBe(2);
        expect(bytes).toBeLessThanOrEqual(10);
      }
    }
    c.persist(l);
    c.stabilize();
    // An entry larger than the limit still travels, alone.
    c.propose(l, 'x'.repeat(100));
    const rd2 = c.readyWithoutPersist(l);
    for (const f of others(c, l)) expect(appsTo(rd2.messages, f).map((a) => a.entries?.length)).toEqual([1]);
    c.persist(l);
    c.stabilize();
    for (const id of c.ids()) expect(c.member(id).data.length).toBe(11);
  });

  it('the inflight window bounds outstanding MsgApps in replicate state and reopens on acks', () => {
    const c = new Cluster({ raft: { maxInflightMsgs: 2, maxSizePerMsg: 1 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const [f, g] = others(c, l);
    expect(c.node(l).status().progress.get(f)?.state).toBe('replicate');
    for (let i = 0; i < 10; i++) c.propose(l, `e${i}`);
    const rd = c.processReady(l)!;
    expect(appsTo(rd.messages, f).length).toBe(2);
    expect(appsTo(rd.messages, g).length).toBe(2);
    // f receives both and acks; the acks are held in the network.
    c.deliverWhere((m) => m.to === f);
    c.processReady(f);
    const acks = c.queue.filter(fromTo(f, l, 'MsgAppResp'));
    expect(acks.length).toBe(2);
    // Nothing more goes to f while the window is full.
    c.processReady(l);
    expect(c.queue.filter((m) => m.type === 'MsgApp' && m.to === f).length).toBe(0);
    // One ack frees one slot: exactly one more MsgApp.
    c.deliverWhere((m) => m === acks[0]);
    const mark = c.sent.length;
    c.processReady(l);
    expect(appsTo(c.sentSince(mark), f).length).toBe(1);
    c.stabilize();
    c.tickAndStabilize(2);
    for (const id of c.ids()) expect(c.member(id).data.length).toBe(10);
  });

  it('probe state sends one MsgApp at a time until the follower answers', () => {
    const c = new Cluster({ raft: { preVote: false, checkQuorum: false } });
    c.stabilize();
    c.cutOneWay(3n, 1n); // 3 hears 1 but 1 never hears back
    c.node(1n).campaign();
    c.stabilize();
    expect(c.leader()).toBe(1n);
    expect(c.node(1n).status().progress.get(3n)?.state).toBe('probe');
    for (let i = 0; i < 5; i++) {
      c.propose(1n, `e${i}`);
      c.stabilize();
    }
    c.tickAndStabilize(20);
    expect(c.count(fromTo(1n, 3n, 'MsgApp'))).toBe(1);
    expect(c.count(fromTo(1n, 2n, 'MsgApp'))).toBeGreaterThan(1);
    c.heal();
    c.tickAndStabilize(5);
    expect(c.node(1n).status().progress.get(3n)?.state).toBe('replicate');
    expect(c.member(3n).data).toEqual(['e0', 'e1', 'e2', 'e3', 'e4']);
  });

  it('fast backtracking repairs a long divergent tail from an old term in few round trips', () => {
    const c = new Cluster({ raft: { checkQuorum: false, preVote: true } });
    const a = c.tickUntilLeader();
    const [b, d] = others(c, a);
    c.isolate(a);
    for (let i = 0; i < 100; i++) c.propose(a, `stale${i}`); // a's uncommitted tail, old term
    c.stabilize();
    let nl = c.leader();
    for (let i = 0; i < 200 && nl === a; i++) {
      c.tickAndStabilize();
      nl = c.leader();
    }
    expect(nl === b || nl === d).toBe(true);
    const other = nl === b ? d : b;
    for (let i = 0; i < 50; i++) c.propose(nl!, `new${i}`);
    c.stabilize();
    // Hand leadership to the other node, so that the leader probing `a` has the divergent indexes in its log.
    c.node(nl!).transferLeader(other);
    c.stabilize();
    expect(c.leader()).toBe(other);
    c.propose(other, 'after');
    c.stabilize();
    const mark = c.sent.length;
    c.heal();
    c.tickAndStabilize(5);
    const rejections = c.count(
      (m) => m.type === 'MsgAppResp' && m.from === a && m.reject === true,
      c.sentSince(mark),
    );
    // One index at a time would take ~50 rejections; by term it takes one or two.
    expect(rejections).toBeGreaterThanOrEqual(1);
    expect(rejections).toBeLessThanOrEqual(2);
    expect(c.node(a).status().lastIndex).toBe(c.node(other).status().lastIndex);
    const want = [...Array.from({ length: 50 }, (_, i) => `new${i}`), 'after'];
    for (const id of c.ids()) expect(c.member(id).data).toEqual(want);
    expect(c.member(a).disk.entries.some((e) => new TextDecoder().decode(e.data).startsWith('stale'))).toBe(
      false,
    );
  });

  it('a replicate-state follower whose MsgApps were lost catches up once the window reopens', () => {
    const c = new Cluster({ raft: { maxInflightMsgs: 2, maxSizePerMsg: 1 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const f = others(c, l)[0];
    c.filters.push((m) => m.type === 'MsgApp' && m.to === f);
    for (let i = 0; i < 6; i++) {
      c.propose(l, `e${i}`);
      c.stabilize();
    }
    c.filters = [];
    for (let i = 0; i < 6; i++) c.tickAndStabilize();
    expect(c.member(f).data.length).toBe(6);
  });

  // Regression (found by these tests): in replicate state the leader advances `next` optimistically; if the
  // MsgApps are lost and no proposal follows, heartbeat responses must still trigger an (empty) append, whose
  // rejection moves the follower back to probing.
  it('idle cluster: a follower whose only MsgApp was lost catches up through heartbeats', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const f = others(c, l)[0];
    c.filters.push((m) => m.type === 'MsgApp' && m.to === f);
    c.propose(l, 'x');
    c.stabilize();
    c.filters = [];
    c.tickAndStabilize(30);
    expect(c.count(isType('MsgHeartbeat'))).toBeGreaterThan(0);
    expect(c.member(f).data).toEqual(['x']);
  });
});
