import { describe, expect, it } from 'vitest';
import { Cluster, fromTo, mulberry32 } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);

describe('the persistence contract (Ready / advance)', () => {
  it('MsgVoteResp and MsgAppResp only ever appear in messagesAfterPersist (busy randomized run)', () => {
    const c = new Cluster({ size: 5, seed: 7, raft: { preVote: false } });
    const rnd = mulberry32(99);
    for (let step = 0; step < 400; step++) {
      const r = rnd.next();
      const ids = c.ids();
      const pick = ids[Math.floor(rnd.next() * ids.length)];
      if (r < 0.05) c.isolate(pick);
      else if (r < 0.1) c.heal();
      else if (r < 0.13 && c.member(pick).up && c.upIds().length > 3) c.crash(pick);
      else if (r < 0.2 && !c.member(pick).up) c.restart(pick);
      else if (r < 0.5) {
        const l = c.leader();
        if (l !== undefined) c.propose(l, `s${step}`);
      }
      c.tickAll();
      c.stabilize();
    }
    c.heal();
    for (const id of c.ids()) if (!c.member(id).up) c.restart(id);
    c.tickUntilLeader();
    let afterPersist = 0;
    for (const id of c.ids()) {
      for (const rd of c.member(id).readies) {
        for (const m of rd.messages) expect(['MsgVoteResp', 'MsgAppResp']).not.toContain(m.type);
        afterPersist += rd.messagesAfterPersist.filter(
          (m) => m.type === 'MsgVoteResp' || m.type === 'MsgAppResp',
        ).length;
      }
    }
    expect(afterPersist).toBeGreaterThan(100);
    expect(c.leaders.size).toBeGreaterThan(1);
    expect(c.violations).toEqual([]);
  });

  it("a candidate's self-vote is not counted until advance()", () => {
    const c = new Cluster({ raft: { preVote: false, checkQuorum: false } });
    c.stabilize();
    c.node(1n).campaign();
    const rd = c.readyWithoutPersist(1n);
    expect(rd.hardState).toMatchObject({ term: 2, vote: 1n });
    // The self-vote is not handed to the host as a message either.
    expect(rd.messagesAfterPersist.filter((m) => m.to === 1n)).toEqual([]);
    c.deliverWhere(fromTo(1n, 2n, 'MsgVote'));
    c.dropWhere(() => true);
    c.processReady(2n);
    c.deliverWhere(fromTo(2n, 1n, 'MsgVoteResp'));
    // One grant of three, plus a self-vote that is not yet durable: not a majority.
    expect(c.node(1n).status().role).toBe('candidate');
    c.persist(1n);
    expect(c.node(1n).status().role).toBe('leader');
  });

  it('single node: the candidate becomes leader only after advance(), also with pre-vote', () => {
    const c = new Cluster({ size: 1 });
    c.stabilize();
    c.node(1n).campaign();
    c.readyWithoutPersist(1n);
    expect(c.node(1n).status().role).toBe('candidate');
    c.persist(1n);
    expect(c.node(1n).status().role).toBe('leader');
  });

  it('single node: an entry commits only after the leader persisted it (advance)', () => {
    const c = new Cluster({ size: 1 });
    const l = c.tickUntilLeader();
    const p = c.propose(l, 'a');
    expect(p.ok).toBe(true);
    const index = p.ok ? p.index! : 0;
    const rd = c.readyWithoutPersist(l);
    expect(rd.entries.map((e) => e.index)).toEqual([index]);
    expect(rd.committedEntries).toEqual([]);
    expect(c.node(l).status().commit).toBe(index - 1);
    c.persist(l);
    expect(c.node(l).status().commit).toBe(index);
    const rd2 = c.processReady(l)!;
    expect(rd2.committedEntries.map((e) => e.index)).toEqual([index]);
    expect(rd2.hardState?.commit).toBe(index);
    expect(c.member(l).data).toEqual(['a']);
  });

  it('3 nodes: leader not durable + one follower ack is not a quorum; the leader counts itself after advance()', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const [f, g] = others(c, l);
    const p = c.propose(l, 'a');
    const index = p.ok ? p.index! : 0;
    c.readyWithoutPersist(l);
    c.deliverWhere((m) => m.to === f);
    c.dropWhere((m) => m.to === g);
    c.processReady(f);
    c.deliverWhere(fromTo(f, l, 'MsgAppResp'));
    expect(c.node(l).status().progress.get(f)?.match).toBe(index);
    expect(c.node(l).status().commit).toBe(index - 1);
    c.persist(l);
    expect(c.node(l).status().commit).toBe(index);
  });

  it('3 nodes: two follower acks are a quorum without the leader, but committed entries wait for local durability', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const p = c.propose(l, 'a');
    const index = p.ok ? p.index! : 0;
    c.readyWithoutPersist(l);
    c.deliverAll();
    for (const f of others(c, l)) c.processReady(f);
    c.deliverAll();
    expect(c.node(l).status().commit).toBe(index);
    expect(c.node(l).status().stable).toBe(index - 1);
    expect(c.node(l).hasReady()).toBe(false); // one Ready outstanding at a time
    c.persist(l);
    const rd = c.processReady(l)!;
    expect(rd.committedEntries.map((e) => e.index)).toEqual([index]);
    expect(c.member(l).disk.entry(index)?.term).toBe(rd.committedEntries[0].term);
  });

  it('a follower does not hand out entries as committed in the Ready that first persists them', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const [f] = others(c, l);
    c.isolate(f);
    c.propose(l, 'a');
    c.stabilize();
    c.heal();
    c.propose(l, 'b'); // the MsgApp repairing f carries a commit index covering the new entries
    c.deliverAll();
    c.processReady(l);
    let sawBoth = false;
    for (let i = 0; i < 20; i++) {
      c.deliverAll();
      const rd = c.member(f).node.hasReady() ? c.readyWithoutPersist(f) : undefined;
      if (rd) {
        const persisted = new Set(rd.entries.map((e) => e.index));
        for (const e of rd.committedEntries) expect(persisted.has(e.index)).toBe(false);
        if (rd.entries.length > 0 && c.node(f).status().commit >= rd.entries[0].index) sawBoth = true;
        c.persist(f);
      }
      c.processReady(l);
      for (const id of c.ids()) if (id !== f) c.processReady(id);
    }
    expect(sawBoth).toBe(true);
    c.tickAndStabilize(2); // the commit index may reach f only with the next heartbeat
    expect(c.member(f).data).toEqual(['a', 'b']);
  });

  it('a follower that crashes before persisting never acknowledged the lost entries', () => {
    const c = new Cluster();
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const [f, g] = others(c, l);
    c.cutLink(l, g);
    const p = c.propose(l, 'a');
    const index = p.ok ? p.index! : 0;
    c.processReady(l);
    c.deliverAll();
    const rd = c.readyWithoutPersist(f);
    expect(rd.entries.map((e) => e.index)).toContain(index);
    expect(rd.messages.filter((m) => m.type === 'MsgAppResp')).toEqual([]);
    c.crash(f);
    c.deliverAll();
    expect(c.node(l).status().progress.get(f)?.match).toBeLessThan(index);
    expect(c.node(l).status().commit).toBeLessThan(index);
    c.restart(f);
    expect(c.node(f).status().lastIndex).toBe(index - 1);
    c.heal();
    c.propose(l, 'b'); // (a write repairs the replicate-state followers whose MsgApps were lost; see replication.test.ts)
    c.tickAndStabilize(3);
    for (const id of c.ids()) expect(c.member(id).data).toEqual(['a', 'b']);
  });

  it('every committed entry handed out was already on the local disk (checked on every Ready)', () => {
    const c = new Cluster({ size: 5, seed: 3 });
    const l = c.tickUntilLeader();
    for (let i = 0; i < 30; i++) {
      c.propose(l, `e${i}`);
      if (i % 7 === 0) c.tickAll();
      c.deliverAll();
      for (const id of c.ids()) c.processReady(id);
    }
    c.stabilize();
    let handed = 0;
    for (const id of c.ids()) for (const rd of c.member(id).readies) handed += rd.committedEntries.length;
    expect(handed).toBeGreaterThan(100);
    expect(c.violations).toEqual([]);
  });
});
