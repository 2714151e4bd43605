// A real in-process 3-member cluster (memory storage and network, real clock) for the gateway tests.

import type { RealClock } from '../../adapters/runtime/clock.ts';
import type { EdgeNode } from '../../src/index.ts';
import { startMemoryCluster } from '../support/memory-cluster.ts';

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
  const c = await startMemoryCluster({
    size,
    started,
    node: (id) => ({ clientURLs: [`http://n${id}.test:2379`] }),
  });
  return { nodes: c.nodes, clock: c.clock as RealClock, close: c.close };
}
