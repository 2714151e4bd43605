// /health as etcd 3.4 decides it (EdgeNode.health): a leader, no alarm, and a quorum read within the timeout. A
// leader cut off from both followers still believes it leads for a while; only the quorum read tells.
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/api/gateway/index.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

describe('health', () => {
  it('is true with a quorum, false on a leader cut off from its followers before it steps down', async () => {
    // The election timeout is long enough that the isolated leader is still leader when /health asks
    // (check-quorum steps it down only after an election timeout).
    cluster = await startMemoryCluster({ clusterId: 7n, node: { electionTimeoutMs: 3000 } });
    const { nodes, faults } = cluster;
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
