// Check-quorum through the host (createNode): a leader that cannot reach a quorum steps down within a few
// election timeouts, also when its transport reports the peers unreachable (a dead peer: connection refused).
//
// Regression (found by the Jepsen-style e2e test, test/e2e/jepsen.test.ts): the host answered every
// onUnreachable report with a made-up MsgHeartbeatResp from that peer, which marked it recently active, so an
// isolated leader whose transport kept failing to dial (or whose queues overflowed) never stepped down. It went on
// claiming leadership and renewing leases locally (LeaseKeepAlive answered with a full TTL) while the majority,
// under a new leader, let those leases expire.
import { afterEach, describe, expect, it } from 'vitest';
import type { EdgeNode } from '../../src/server/node.ts';
import { startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

let nodes: EdgeNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  nodes = [];
});

describe('check-quorum in the host', () => {
  it('a leader whose peers are unreachable steps down, and stops renewing leases', async () => {
    const electionTimeoutMs = 300;
    nodes = (await startMemoryCluster({ clusterId: 7n, node: { electionTimeoutMs } })).nodes;
    const leader = nodes.find((n) => n.nodeStatus().role === 'leader');
    if (!leader) throw new Error('no leader');
    const lease = await leader.leaseGrant({ TTL: 30, ID: 0n });
    expect((await leader.leaseKeepAliveOnce({ ID: lease.ID })).TTL).toBe(30);

    // Both followers die: every message to them is refused, and the memory transport reports them unreachable.
    const followers = nodes.filter((n) => n !== leader);
    await Promise.all(followers.map((n) => n.close()));
    nodes = [leader];

    // Check-quorum: within a couple of election timeouts (plus slack for a loaded machine) it is no longer leader.
    await waitFor(
      'the cut-off leader to step down',
      () => leader.nodeStatus().role !== 'leader',
      electionTimeoutMs * 10,
    );
    expect(leader.nodeStatus().leader).toBe(0n);
    // And a keep-alive is no longer answered from local state as if the lease were safe.
    await expect(
      Promise.race([
        leader.leaseKeepAliveOnce({ ID: lease.ID }),
        new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), 2000)),
      ]),
    ).rejects.toThrow();
  }, 30_000);
});
