// An in-process 3-member cluster (memory transport and storage, real clock) for the lock/election recipe tests.
import { RealClock } from '../../adapters/runtime/clock.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { startMemoryCluster } from '../support/memory-cluster.ts';

export const clock = new RealClock();
export const enc = (s: string) => new TextEncoder().encode(s);
export const dec = (b: Uint8Array | undefined) => new TextDecoder().decode(b);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition') {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

export async function startCluster(): Promise<EdgeNode[]> {
  const { nodes } = await startMemoryCluster({ clock, waitForLeader: false });
  await until(() => nodes.some((n) => n.nodeStatus().role === 'leader'), 10_000, 'a leader');
  await nodes[0].put({ key: enc('warmup'), value: enc('1') });
  return nodes;
}

/** Settles with 'pending' if `p` has not settled within `ms`. */
export async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | 'pending'> {
  return Promise.race([p, sleep(ms).then(() => 'pending' as const)]);
}
