// Membership through createNode, in process: strict-reconfig-check, MemberUpdate through Raft, a member joining
// with no bootstrap (the ID MemberAdd chose), learner promotion only once in sync, onRemoved, and checks made on
// a caught-up member list.

import { createServer } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import {
  CLUSTER_ID_HEADER,
  membersJson,
  parseMembersJson,
  watchForRemoval,
} from '../../adapters/runtime/node/join.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode, type NodeOptions } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

const clock = new RealClock();
let nodes: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close().catch(() => {})));
  nodes = [];
});

async function until<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A membership change refused at once because the leader is new or one is still pending ("request timed out",
 * as etcd) is tried again; elections can churn at 10 ms ticks on a loaded machine.
 */
async function settled<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    const started = Date.now();
    try {
      return await fn();
    } catch (e) {
      if (i >= 20 || Date.now() - started > 1000 || !String(e).includes('request timed out')) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function cluster(extra: Partial<NodeOptions> = {}) {
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
  const start = (id: bigint, opts: Partial<NodeOptions> = {}) =>
    createNode({
      id,
      name: `n${id}`,
      clusterId: 42n,
      members,
      storage: new MemoryStorage(),
      transport: opts.transport ?? network.transport(id),
      clock,
      random: cryptoRandom,
      tickMs: 10,
      electionTimeoutMs: 100,
      ...extra,
      ...opts,
    });
  nodes = await Promise.all(members.map((m) => start(m.id)));
  const leader = async () => until('a leader', () => nodes.find((n) => n.nodeStatus().role === 'leader'));
  // Every member has published its name (is "started").
  await until('all started', () => nodes.every((n) => n.nodeStatus().members.every((m) => m.name !== '')));
  return { network, start, leader };
}

describe('membership', () => {
  it('strict-reconfig-check: adds and removes that leave too few started voters are refused', async () => {
    const { leader } = await cluster();
    const l = await leader();
    await settled(() => l.memberAdd({ peerURLs: ['mem://x'], isLearner: false }));
    await settled(() => l.memberAdd({ peerURLs: ['mem://y'], isLearner: false }));
    await expect(l.memberAdd({ peerURLs: ['mem://z'], isLearner: false })).rejects.toThrow(
      'etcdserver: re-configuration failed due to not enough started members',
    );
    // A learner does not count toward quorum: allowed.
    const learner = await settled(() => l.memberAdd({ peerURLs: ['mem://z'], isLearner: true }));
    await expect(l.memberRemove({ ID: l.id })).rejects.toThrow('not enough started members');
    await settled(() => l.memberRemove({ ID: learner.member.ID }));
    for (const m of l.nodeStatus().members.filter((x) => x.name === ''))
      await settled(() => l.memberRemove({ ID: m.ID }));
    expect((await l.memberList()).members).toHaveLength(3);
  });

  it('strictReconfigCheck: false allows them', async () => {
    const { leader } = await cluster({ strictReconfigCheck: false });
    const l = await leader();
    await settled(() => l.memberAdd({ peerURLs: ['mem://x'], isLearner: true }));
    await settled(() => l.memberAdd({ peerURLs: ['mem://y'], isLearner: false }));
    await settled(() => l.memberAdd({ peerURLs: ['mem://z'], isLearner: false }));
    expect((await l.memberList()).members).toHaveLength(6);
  });

  it('MemberUpdate changes peer URLs on every member; refuses unknown IDs and taken URLs', async () => {
    const { leader } = await cluster();
    const l = await leader();
    const follower = nodes.find((n) => n !== l) as EdgeNode;
    const r = await follower.memberUpdate({ ID: 3n, peerURLs: ['mem://n3', 'mem://n3b'] });
    expect(r.members.find((m) => m.ID === 3n)?.peerURLs).toEqual(['mem://n3', 'mem://n3b']);
    await until('applied everywhere', () =>
      nodes.every((n) => n.nodeStatus().members.find((m) => m.ID === 3n)?.peerURLs.length === 2),
    );
    await expect(l.memberUpdate({ ID: 99n, peerURLs: ['mem://q'] })).rejects.toThrow(
      'etcdserver: member not found',
    );
    await expect(l.memberUpdate({ ID: 3n, peerURLs: ['mem://n1'] })).rejects.toThrow(
      'etcdserver: Peer URLs already exists',
    );
  });

  it('the checks read a caught-up member list: a change another member just acknowledged counts', async () => {
    const { network, leader } = await cluster();
    const l = await leader();
    const f = nodes.find((n) => n !== l) as EdgeNode;
    // f misses the change, then is asked at once (before its next heartbeat brings it up to date).
    network.faults.isolate(f.id);
    const added = await settled(() => l.memberAdd({ peerURLs: ['mem://dup'], isLearner: true }));
    network.faults.heal();
    await expect(f.memberAdd({ peerURLs: ['mem://dup'], isLearner: true })).rejects.toThrow(
      'etcdserver: Peer URLs already exists',
    );
    network.faults.isolate(f.id);
    await settled(() => l.memberRemove({ ID: added.member.ID }));
    network.faults.heal();
    await expect(f.memberRemove({ ID: added.member.ID })).rejects.toThrow('etcdserver: member not found');
    await expect(f.memberUpdate({ ID: added.member.ID, peerURLs: ['mem://q'] })).rejects.toThrow(
      'etcdserver: member not found',
    );
    expect((await l.memberList()).members.map((m) => m.peerURLs[0]).sort()).toEqual([
      'mem://n1',
      'mem://n2',
      'mem://n3',
    ]);
  });

  it('MemberPromote reads a caught-up member list too: a learner another member just added is found', async () => {
    const { network, leader } = await cluster();
    const l = await leader();
    const f = nodes.find((n) => n !== l) as EdgeNode;
    network.faults.isolate(f.id);
    const added = await settled(() => l.memberAdd({ peerURLs: ['mem://late'], isLearner: true }));
    network.faults.heal();
    // Before, f answered from its own stale list: 'member not found'. Without a way to reach the leader's
    // readiness check (an embedded node given no promoteViaLeader), f proposes the promotion itself.
    const promoted = await f.memberPromote({ ID: added.member.ID });
    expect(promoted.members.find((m) => m.ID === added.member.ID)?.isLearner).toBe(false);
  });

  it('a learner joins with no bootstrap, catches up, is promoted only when in sync; removal calls onRemoved', async () => {
    const { leader, start, network } = await cluster();
    const l = await leader();
    for (let i = 0; i < 20; i++)
      await l.put({ key: new TextEncoder().encode(`k${i}`), value: new Uint8Array([i]) });
    const added = await settled(() => l.memberAdd({ peerURLs: ['mem://n4'], isLearner: true }));
    const id = added.member.ID;
    await expect(l.memberPromote({ ID: id })).rejects.toThrow(
      'etcdserver: can only promote a learner member which is in sync with leader',
    );
    let removed = 0;
    // Like a process started with --initial-cluster-state existing: no bootstrap, the peers it was told about.
    const transport = network.transport(id);
    for (const peer of [1n, 2n, 3n]) transport.addPeer(peer, `mem://n${peer}`);
    const joiner = await start(id, { members: undefined, name: 'n4', transport, onRemoved: () => removed++ });
    nodes.push(joiner);
    await until('caught up', () => joiner.nodeStatus().members.find((m) => m.ID === id)?.name === 'n4');
    const got = await joiner.range({ key: new TextEncoder().encode('k7'), serializable: true });
    expect(got.kvs[0]?.value).toEqual(new Uint8Array([7]));
    await until('promoted', async () => {
      try {
        await (await leader()).memberPromote({ ID: id });
        return true;
      } catch {
        return false;
      }
    });
    expect((await l.memberList()).members.find((m) => m.ID === id)?.isLearner).toBe(false);
    const now = await leader();
    await settled(() => now.memberRemove({ ID: id }));
    await until('onRemoved', () => removed === 1);
  });
});

describe('GET /members JSON', () => {
  it('round-trips uint64 IDs exactly', () => {
    const members = [
      { ID: 0xfedcba9876543210n, name: 'a', peerURLs: ['http://h:1'], clientURLs: [], isLearner: true },
      { ID: 1n, name: '', peerURLs: [], clientURLs: ['http://h:2'], isLearner: false },
    ];
    const text = membersJson(members);
    expect(text).toContain('"id":18364758544493064720');
    expect(parseMembersJson(text)).toEqual(members);
  });
});

describe('watchForRemoval (a removed member that missed the commit)', () => {
  it('fires when, leaderless, the other members answer without it; not while they list it', async () => {
    let listed = true;
    const server = createServer((_req, res) => {
      const members = [{ ID: 1n, name: 'a', peerURLs: [], clientURLs: [], isLearner: false }];
      if (listed) members.push({ ID: 9n, name: 'me', peerURLs: [], clientURLs: [], isLearner: false });
      res.writeHead(200, { [CLUSTER_ID_HEADER]: '2a' }).end(membersJson(members));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const node = {
      id: 9n,
      clusterId: 42n,
      nodeStatus: () => ({
        leader: 0n,
        members: [
          { ID: 1n, name: 'a', peerURLs: [`http://127.0.0.1:${port}`], clientURLs: [], isLearner: false },
          { ID: 9n, name: 'me', peerURLs: ['http://127.0.0.1:1'], clientURLs: [], isLearner: false },
        ],
      }),
    } as unknown as EdgeNode;
    let fired = 0;
    const stop = watchForRemoval(node, () => fired++, { intervalMs: 20 });
    try {
      await new Promise((r) => setTimeout(r, 200));
      expect(fired).toBe(0);
      listed = false;
      await until('fired', () => fired === 1);
    } finally {
      stop();
      server.close();
    }
  });
});
