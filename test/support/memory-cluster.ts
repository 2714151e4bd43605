// An in-process cluster for tests: real createNode members on memory storage and the memory transport (whose
// FaultModel the test may use to partition or isolate), with a real clock unless the test brings its own.
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import type { Clock } from '../../src/env.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode, type NodeOptions } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

export interface MemoryClusterOptions {
  /** Members in the configuration. Default 3. */
  readonly size?: number;
  /** How many of them to start (fewer than a quorum never elects a leader). Default: all. */
  readonly started?: number;
  readonly clock?: Clock;
  readonly clusterId?: bigint;
  /** Options for every member, or per member ID (tickMs 10 and electionTimeoutMs 100 unless given). */
  readonly node?: Partial<NodeOptions> | ((id: bigint) => Partial<NodeOptions>);
  /** Wait until every started member knows a leader (when a quorum is started). Default true. */
  readonly waitForLeader?: boolean;
}

export interface MemoryCluster {
  readonly nodes: EdgeNode[];
  readonly clock: Clock;
  readonly faults: FaultModel;
  leader(): EdgeNode | undefined;
  close(): Promise<void>;
}

export async function waitFor(
  what: string,
  cond: () => boolean | Promise<boolean>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function startMemoryCluster(options: MemoryClusterOptions = {}): Promise<MemoryCluster> {
  const size = options.size ?? 3;
  const started = options.started ?? size;
  const clock = options.clock ?? new RealClock();
  const faults = new FaultModel(cryptoRandom);
  const network = new MemoryNetwork(clock, faults);
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
        clusterId: options.clusterId ?? 42n,
        members,
        storage: new MemoryStorage(),
        transport: network.transport(m.id),
        clock,
        random: cryptoRandom,
        tickMs: 10,
        electionTimeoutMs: 100,
        ...(typeof options.node === 'function' ? options.node(m.id) : options.node),
      }),
    ),
  );
  const cluster: MemoryCluster = {
    nodes,
    clock,
    faults,
    leader: () => nodes.find((n) => n.nodeStatus().role === 'leader'),
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
  if ((options.waitForLeader ?? true) && started * 2 > size)
    await waitFor('a leader', () => nodes.every((n) => n.nodeStatus().leader !== 0n), 15_000);
  return cluster;
}
