// inspectNode: the read-only view the demo and debugging use instead of reaching into a member's internals.
import { afterEach, describe, expect, it } from 'vitest';
import { inspectNode } from '../../src/server/inspect.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

let cluster: MemoryCluster | undefined;
afterEach(async () => {
  await cluster?.close();
  cluster = undefined;
});

const enc = new TextEncoder();

describe('inspectNode', () => {
  it("shows Raft's status, the log, the keyspace and the leases of a member made by createNode", async () => {
    cluster = await startMemoryCluster({ clusterId: 9n });
    const leader = cluster.nodes.find((n) => n.nodeStatus().role === 'leader')!;
    const { ID } = await leader.leaseGrant({ TTL: 60 });
    await leader.put({ key: enc.encode('k'), value: enc.encode('v'), lease: ID });
    const view = inspectNode(leader)!;
    expect(view).toBeDefined();

    const s = view.raftStatus();
    expect(s.role).toBe('leader');
    expect(s.lead).toBe(leader.id);
    expect(s.conf.voters).toHaveLength(3);
    expect(s.progress.size).toBe(3);
    expect(s.lastIndex).toBe(leader.nodeStatus().lastIndex);

    const log = view.log();
    const entries = log.slice(log.firstIndex(), log.lastIndex() + 1);
    expect(entries.at(-1)?.index).toBe(log.lastIndex());
    expect(log.term(log.lastIndex())).toBe(s.term);

    const timer = view.electionTimer();
    expect(timer.timeout).toBeGreaterThan(0);

    const all = view.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) });
    expect(all.kvs.map((kv) => new TextDecoder().decode(kv.key))).toEqual(['k']);
    expect(view.leases(cluster.clock.now())).toEqual([
      { id: ID, ttl: 60, remaining: expect.any(Number), keys: 1 },
    ]);
  });

  it('knows nothing of an EdgeNode it did not make', () => {
    expect(inspectNode({} as EdgeNode)).toBeUndefined();
  });
});
