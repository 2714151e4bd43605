// Keep-alives forwarded to the leader over real peer links: three members (createNode over TcpTransport on
// 127.0.0.1). A keep-alive at a follower returns the TTL and adds no Raft entry (the leader's last index and
// commit do not move); the lease outlives its TTL while kept alive and expires once the keep-alives stop. With a
// member from before lease messages in the group (TcpTransport `leases: false`: its handshake replies do not offer
// them, and it would close a connection that sent one), keep-alives that would need it go through Raft as before,
// and no connection is closed.

import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { TcpTransport } from '../../adapters/transport/tcp/index.ts';
import type { LogFields, Logger } from '../../src/env.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { waitFor } from '../support/memory-cluster.ts';

const HOST = '127.0.0.1';
const CLUSTER = 0x1ea5_e0f0_0000_0003n;
const te = new TextEncoder();
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Counts the peer connections a member closed for a bad frame. */
class ClosingLogger implements Logger {
  closed = 0;
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(message: string, _fields?: LogFields): void {
    if (message === 'closing a peer connection') this.closed++;
  }
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve) => {
          const s = createServer();
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

let nodes: EdgeNode[] = [];
let logs: ClosingLogger[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

/** Three members; `leases[i]` false makes member i+1 one from before lease messages. */
async function start(leases: readonly boolean[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const ports = await freePorts(3);
    const members = ports.map((port, i) => ({
      id: BigInt(i + 1),
      name: `m${i + 1}`,
      peerURLs: [`http://${HOST}:${port}`],
    }));
    logs = members.map(() => new ClosingLogger());
    try {
      const clock = new RealClock();
      nodes = await Promise.all(
        members.map((m, i) =>
          createNode({
            id: m.id,
            name: m.name,
            clusterId: CLUSTER,
            members,
            storage: new MemoryStorage(),
            transport: new TcpTransport({
              clusterId: CLUSTER,
              memberId: m.id,
              listen: { host: HOST, port: ports[i] },
              logger: logs[i],
              backoff: { initialMs: 10, maxMs: 50 },
              leases: leases[i],
            }),
            clock,
            random: cryptoRandom,
            logger: logs[i],
            tickMs: 50,
            electionTimeoutMs: 1000,
            // No checkpoints during the test: each is a Raft entry (and makes the next keep-alive one too).
            leaseCheckpointIntervalMs: 3_600_000,
          }),
        ),
      );
      break;
    } catch (err) {
      await Promise.all(nodes.map((n) => n.close()));
      nodes = [];
      if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
    }
  }
  await settled();
}

function leader(): EdgeNode {
  const id = nodes[0].nodeStatus().leader;
  const n = nodes.find((x) => x.id === id);
  if (!n) throw new Error('no leader');
  return n;
}

/**
 * A leader every member knows, its lessor promoted (an entry of its term applied), nothing still proposed by any
 * member (each publishes its name once started, maybe only once the election is over), every member caught up.
 */
async function settled(): Promise<void> {
  await waitFor(
    'a leader',
    () =>
      nodes.every(
        (n) => n.nodeStatus().leader !== 0n && n.nodeStatus().leader === nodes[0].nodeStatus().leader,
      ),
    20_000,
  );
  for (let i = 0; ; i++) {
    try {
      await leader().put({ key: te.encode('settle'), value: te.encode(String(i)) });
      break;
    } catch (err) {
      if (i >= 4) throw err;
    }
  }
  await waitFor(
    'no proposal pending',
    () => nodes.every((n) => n.nodeStatus().proposalsPending === 0),
    20_000,
  );
  await caughtUp();
}

/** Every member holds and has applied the leader's whole log. */
function caughtUp(): Promise<void> {
  return waitFor('every member to apply', () => {
    const s = leader().nodeStatus();
    return nodes.every(
      (n) => n.nodeStatus().applied === s.lastIndex && n.nodeStatus().lastIndex === s.lastIndex,
    );
  });
}

/** Leader's [term, lastIndex, commit]. */
const raftMark = () => {
  const s = leader().nodeStatus();
  return [s.term, s.lastIndex, s.commit];
};

describe('keep-alives forwarded to the leader over TCP', () => {
  it('a follower answers the TTL, the leader logs nothing; the lease expires once they stop', async () => {
    await start([true, true, true]);
    const followers = nodes.filter((n) => n !== leader());
    const { ID } = await followers[0].leaseGrant({ TTL: 3 });
    const key = te.encode('kept');
    await followers[0].put({ key, value: te.encode('alive'), lease: ID });
    await settled();
    // Keep-alives at both followers for longer than the TTL: the lease outlives it, and the leader's log does not
    // move. Measured over a stretch without a leader change (a new leader appends an entry of its own, and
    // proposes keep-alives until its lessor is promoted): measured again if this busy machine had an election.
    for (let attempt = 1; ; attempt++) {
      const before = raftMark();
      for (let i = 0; i < 10; i++) {
        for (const f of followers) expect((await f.leaseKeepAliveOnce({ ID })).TTL).toBe(3);
        await sleep(400);
      }
      const after = raftMark();
      if (after[0] === before[0] || attempt === 3) {
        expect(after).toEqual(before);
        break;
      }
      await settled();
    }
    expect((await leader().range({ key })).kvs).toHaveLength(1);
    // The keep-alives stop: the leader revokes the lease (through Raft), on every member the key goes.
    await waitFor('the lease to expire', async () => (await leader().range({ key })).count === 0, 20_000);
    await caughtUp();
    for (const n of nodes) expect((await n.range({ key, serializable: true })).count).toBe(0);
    // etcd answers a keep-alive for a lease that is gone with TTL 0, forwarded or not.
    for (const f of followers) expect((await f.leaseKeepAliveOnce({ ID })).TTL).toBe(0);
    expect(logs.map((l) => l.closed)).toEqual([0, 0, 0]);
  }, 90_000);

  it("a follower's LeaseTimeToLive is the leader's: seconds left fall, and a keep-alive anywhere restores them", async () => {
    await start([true, true, true]);
    const followers = nodes.filter((n) => n !== leader());
    const { ID } = await followers[0].leaseGrant({ TTL: 8 });
    await settled();
    const ttlAt = async (n: EdgeNode) => (await n.leaseTimeToLive({ ID })).TTL;
    await sleep(2_500);
    // The leader's deadline: 8 s granted, at least 2.5 s gone (a follower's own state says 8 throughout).
    for (const f of followers) {
      const before = await ttlAt(leader());
      const got = await ttlAt(f);
      expect(got).toBeLessThanOrEqual(5);
      expect(got).toBeGreaterThanOrEqual(before - 2);
      expect((await f.leaseTimeToLive({ ID })).grantedTTL).toBe(8);
    }
    // A keep-alive at one follower (renewed at the leader, no Raft entry) shows at the other.
    expect((await followers[0].leaseKeepAliveOnce({ ID })).TTL).toBe(8);
    expect(await ttlAt(followers[1])).toBeGreaterThanOrEqual(6);
    // A lease that does not exist: TTL -1, as etcd answers.
    expect((await followers[1].leaseTimeToLive({ ID: ID + 1n })).TTL).toBe(-1);
    expect(logs.map((l) => l.closed)).toEqual([0, 0, 0]);
  }, 90_000);

  it('with a member from before lease messages: what would need it goes through Raft, nothing is closed', async () => {
    await start([false, true, true]);
    const old = nodes[0];
    const { ID } = await leader().leaseGrant({ TTL: 60 });
    await settled();
    /** Keep-alive at `n`: its TTL, and whether the leader's log grew. */
    const keepAliveAt = async (n: EdgeNode) => {
      for (let attempt = 1; ; attempt++) {
        const [term, lastIndex] = raftMark();
        const { TTL } = await n.leaseKeepAliveOnce({ ID });
        await caughtUp();
        const [termAfter, lastAfter] = raftMark();
        // An election meanwhile appends an entry of its own: asked again.
        if (termAfter === term || attempt === 3) return [TTL, lastAfter > lastIndex];
        await settled();
      }
    };
    // The old member leads: both followers fall back to Raft.
    if (leader() !== old) await leader().moveLeader({ targetID: old.id });
    await settled();
    for (const n of [nodes[1], nodes[2]]) expect(await keepAliveAt(n)).toEqual([60, true]);
    // A TimeToLive at a follower: the old leader cannot be asked, the follower answers from its own state.
    expect((await nodes[1].leaseTimeToLive({ ID })).TTL).toBe(60);
    // A new member leads: the other new one forwards; the old one proposes, as it always did.
    await leader().moveLeader({ targetID: nodes[1].id });
    await settled();
    expect(await keepAliveAt(nodes[2])).toEqual([60, false]);
    expect(await keepAliveAt(old)).toEqual([60, true]);
    expect(logs.map((l) => l.closed)).toEqual([0, 0, 0]);
  }, 90_000);
});
