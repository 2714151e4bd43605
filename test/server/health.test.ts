// /health as etcd 3.4 decides it (EdgeNode.health): a leader, no alarm, and a quorum read within the timeout. A
// leader cut off from both followers still believes it leads for a while; only the quorum read tells.
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { cryptoRandom } from '../../src/index.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

let nodes: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('health', () => {
  it('is true with a quorum, false on a leader cut off from its followers before it steps down', async () => {
    const clock = new RealClock();
    const faults = new FaultModel(cryptoRandom);
    const network = new MemoryNetwork(clock, faults);
    const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
    nodes = await Promise.all(
      members.map((m) =>
        createNode({
          id: m.id,
          name: m.name,
          clusterId: 7n,
          members,
          storage: new MemoryStorage(),
          transport: network.transport(m.id),
          clock,
          random: cryptoRandom,
          tickMs: 10,
          // Long enough that the isolated leader is still leader when /health asks (check-quorum steps it down
          // only after an election timeout).
          electionTimeoutMs: 3000,
        }),
      ),
    );
    await waitFor('a leader', () => nodes.every((n) => n.nodeStatus().leader !== 0n), 15_000);
    const leader = nodes.find((n) => n.nodeStatus().role === 'leader')!;
    const gateway = createGateway(leader);
    expect(await leader.health()).toBe(true);
    expect((await gateway(new Request('http://gw.test/health'))).status).toBe(200);

    faults.isolate(leader.id);
    expect(leader.nodeStatus().role).toBe('leader');
    expect(await leader.health(300)).toBe(false);
    const res = await gateway(new Request('http://gw.test/health'));
    expect(res.status).toBe(503);
    expect(JSON.parse(await res.text())).toEqual({ health: 'false' });
  }, 30_000);
});
