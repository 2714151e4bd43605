import { describe, expect, it } from 'vitest';
import { Cluster, isType } from './harness.ts';

const others = (c: Cluster, id: bigint) => c.ids().filter((x) => x !== id);

/** Leader commits 30 entries while f is isolated, then snapshots and compacts its whole log. */
function lagging(extra: { snapshotChunkBytes?: number } = {}) {
  const c = new Cluster({ raft: { snapshotCatchUpEntries: 0, snapshotChunkBytes: 32, ...extra } });
  const l = c.tickUntilLeader();
  c.tickAndStabilize(2);
  const f = others(c, l)[0];
  c.isolate(f);
  for (let i = 0; i < 30; i++) c.propose(l, `value-${i}`);
  c.stabilize();
  const snap = c.snapshot(l);
  expect(c.node(l).status().firstIndex).toBe(snap.metadata.index + 1);
  c.heal();
  // A new write makes the leader notice that f lags (see replication.test.ts for idle catch-up).
  c.propose(l, 'after-heal');
  return { c, l, f, snap };
}

describe('snapshots (Raft §7)', () => {
  it('createSnapshot records the applied index and term and compacts the log behind it', () => {
    const c = new Cluster({ raft: { snapshotCatchUpEntries: 3 } });
    const l = c.tickUntilLeader();
    for (let i = 0; i < 10; i++) c.propose(l, `e${i}`);
    c.stabilize();
    const st = c.node(l).status();
    const snap = c.snapshot(l);
    expect(snap.metadata).toMatchObject({ index: st.applied, term: st.term });
    expect(snap.metadata.confState.voters).toEqual([1n, 2n, 3n]);
    expect(c.node(l).status().firstIndex).toBe(st.applied - 3 + 1);
    expect(JSON.parse(new TextDecoder().decode(snap.data)).data).toEqual(c.member(l).data);
  });

  it('a lagging follower receives the snapshot in several chunks and restores the same state', () => {
    const { c, l, f, snap } = lagging();
    c.stabilize();
    c.tickAndStabilize(3);
    const chunks = c.count((m) => m.type === 'MsgSnap' && m.to === f);
    expect(snap.data.length).toBeGreaterThan(32 * 4);
    expect(chunks).toBe(Math.ceil(snap.data.length / 32));
    expect(c.member(f).disk.snapshot?.metadata.index).toBe(snap.metadata.index);
    expect(c.member(f).data).toEqual(c.member(l).data);
    expect(c.member(f).data.at(-1)).toBe('after-heal');
  });

  it('lost chunks (and lost chunk acks) are recovered through heartbeats', () => {
    const { c, l, f, snap } = lagging();
    let n = 0;
    c.filters.push((m) => m.type === 'MsgSnap' && [2, 5, 6].includes(++n));
    let acks = 0;
    c.filters.push((m) => m.type === 'MsgSnapResp' && ++acks === 3);
    c.stabilize();
    expect(c.member(f).disk.snapshot).toBeUndefined(); // stalled
    c.tickAndStabilize(20);
    expect(c.count(isType('MsgSnap'))).toBeGreaterThan(Math.ceil(snap.data.length / 32));
    expect(c.member(f).disk.snapshot?.metadata.index).toBe(snap.metadata.index);
    expect(c.member(f).data).toEqual(c.member(l).data);
  });

  it('after the snapshot the follower replicates normally from the log', () => {
    const { c, l, f } = lagging();
    c.stabilize();
    c.tickAndStabilize(2);
    const snaps = c.count(isType('MsgSnap'));
    for (let i = 0; i < 5; i++) c.propose(l, `later-${i}`);
    c.stabilize();
    c.tickAndStabilize(2);
    expect(c.count(isType('MsgSnap'))).toBe(snaps);
    expect(c.node(l).status().progress.get(f)?.state).toBe('replicate');
    expect(c.member(f).data).toEqual(c.member(l).data);
    expect(c.member(f).data.slice(-5)).toEqual(['later-0', 'later-1', 'later-2', 'later-3', 'later-4']);
  });

  it('a restarted node recovers from its stored snapshot plus the entries after it', () => {
    const c = new Cluster({ raft: { snapshotCatchUpEntries: 0 } });
    const l = c.tickUntilLeader();
    const f = others(c, l)[0];
    for (let i = 0; i < 10; i++) c.propose(l, `a${i}`);
    c.stabilize();
    const snap = c.snapshot(f);
    for (let i = 0; i < 5; i++) c.propose(l, `b${i}`);
    c.stabilize();
    c.tickAndStabilize(2);
    const before = [...c.member(f).data];
    expect(before.length).toBe(15);
    c.crash(f);
    c.restart(f);
    expect(c.node(f).status()).toMatchObject({
      firstIndex: snap.metadata.index + 1,
      applied: snap.metadata.index,
    });
    expect(c.member(f).data).toEqual(before.slice(0, 10));
    c.stabilize();
    expect(c.member(f).data).toEqual(before);
    expect(c.node(f).status().conf.voters).toEqual([1n, 2n, 3n]);
    c.propose(l, 'c');
    c.stabilize();
    expect(c.member(f).data.at(-1)).toBe('c');
  });

  it('a leader whose log was compacted without a snapshot in memory asks the host for one, then sends it', () => {
    const c = new Cluster({ raft: { snapshotCatchUpEntries: 0, snapshotChunkBytes: 64 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const f = others(c, l)[0];
    c.isolate(f);
    for (let i = 0; i < 20; i++) c.propose(l, `v${i}`);
    c.stabilize();
    // The host bounds the log's memory (every --snapshot-count entries) without taking a snapshot.
    c.node(l).compactLog(c.node(l).status().applied);
    expect(c.node(l).wantsSnapshot()).toBe(false);
    c.heal();
    c.propose(l, 'after-heal');
    c.stabilize();
    c.tickAndStabilize(2);
    expect(c.count((m) => m.type === 'MsgSnap')).toBe(0);
    expect(c.member(f).data).not.toContain('after-heal');
    expect(c.node(l).wantsSnapshot()).toBe(true);
    expect(c.node(l).wantsSnapshot()).toBe(false); // once per ask
    const snap = c.snapshot(l);
    c.tickAndStabilize(3);
    expect(c.count((m) => m.type === 'MsgSnap' && m.to === f)).toBeGreaterThan(0);
    expect(c.member(f).disk.snapshot?.metadata.index).toBe(snap.metadata.index);
    expect(c.member(f).data).toEqual(c.member(l).data);
  });

  it('a snapshot taken without sendable is stored but not kept to send; a stale one is dropped at compaction', () => {
    const c = new Cluster({ raft: { snapshotCatchUpEntries: 0 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const f = others(c, l)[0];
    c.isolate(f);
    for (let i = 0; i < 5; i++) c.propose(l, `a${i}`);
    c.stabilize();
    const kept = c
      .node(l)
      .createSnapshot(new TextEncoder().encode('{"index":0,"data":[]}'), undefined, false);
    expect(kept?.metadata.index).toBe(c.node(l).status().applied);
    c.heal();
    c.propose(l, 'x');
    c.stabilize();
    c.tickAndStabilize(2);
    expect(c.count((m) => m.type === 'MsgSnap')).toBe(0);
    expect(c.node(l).wantsSnapshot()).toBe(true);
  });

  it('a snapshot stored at the applied index can still be kept to send, when the cluster stayed idle since', () => {
    const c = new Cluster({ raft: { snapshotCatchUpEntries: 0 } });
    const l = c.tickUntilLeader();
    c.tickAndStabilize(2);
    const f = others(c, l)[0];
    c.isolate(f);
    for (let i = 0; i < 10; i++) c.propose(l, `a${i}`);
    c.stabilize();
    const node = c.node(l);
    const point = node.snapshotPoint();
    const data = new TextEncoder().encode(JSON.stringify({ index: point.index, data: c.member(l).data }));
    expect(node.createSnapshot(data, point, false)).toBeDefined();
    c.heal();
    c.tickAndStabilize(2);
    expect(node.wantsSnapshot()).toBe(true);
    // Nothing was applied since: the same point is not a new snapshot, but it is kept to send.
    expect(node.createSnapshot(data, point, true)).toBeUndefined();
    c.tickAndStabilize(3);
    expect(c.member(f).disk.snapshot?.metadata.index).toBe(point.index);
    expect(c.member(f).data).toEqual(c.member(l).data);
  });

  it('the log is not compacted while a follower that answers is receiving a snapshot (etcd pauses compaction)', () => {
    const { c, l, f } = lagging();
    // f's chunk acks are lost: the transfer stays under way, f answering otherwise.
    const stall = (m: { type: string; from: bigint }) => m.type === 'MsgSnapResp' && m.from === f;
    c.filters.push(stall);
    c.stabilize();
    expect(c.node(l).status().progress.get(f)?.state).toBe('snapshot');
    for (let i = 0; i < 5; i++) c.propose(l, `during-${i}`);
    c.stabilize();
    const node = c.node(l);
    const first = node.status().firstIndex;
    expect(node.compactLog(node.status().applied)).toBe(false);
    expect(node.status().firstIndex).toBe(first);
    c.filters.splice(c.filters.indexOf(stall), 1);
    c.tickAndStabilize(5);
    expect(node.status().progress.get(f)?.state).toBe('replicate');
    expect(node.compactLog(node.status().applied)).toBe(true);
    expect(node.status().firstIndex).toBe(node.status().applied + 1);
    expect(c.member(f).data).toEqual(c.member(l).data);
  });
});
