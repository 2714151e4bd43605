// A real in-process 3-member cluster (memory storage and network, real clock) for the gateway tests.

import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createNode, cryptoRandom, type EdgeNode } from '../../src/index.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

export interface TestCluster {
  readonly nodes: readonly EdgeNode[];
  readonly clock: RealClock;
  close(): Promise<void>;
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts `started` of `size` members (fewer than a quorum never elects a leader). */
export async function startCluster(size = 3, started = size): Promise<TestCluster> {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = Array.from({ length: size }, (_, i) => BigInt(i + 1)).map((id) => ({
    id,
    name: `n${id}`,
    peerURLs: [`mem://n${id}`],
  }));
  const nodes = await Promise.all(
    members.slice(0, started).map((m) =>
      createNode({
        id: m.id,
        name: m.name,
        clusterId: 42n,
        members,
        clientURLs: [`http://n${m.id}.test:2379`],
        storage: new MemoryStorage(),
        transport: network.transport(m.id),
        clock,
        random: cryptoRandom,
        tickMs: 10,
        electionTimeoutMs: 100,
      }),
    ),
  );
  if (started * 2 > size) await waitFor(() => nodes.every((n) => n.nodeStatus().leader !== 0n));
  return {
    nodes,
    clock,
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}
