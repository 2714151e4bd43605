/// <reference lib="dom" />
// The page bench/edge.ts opens in Chromium: three edgecd members (the real core, createNode) in this tab, each
// on its own IndexedDB database, talking through the in-page hub over MessageChannels with no added delay (the
// demo's network without its 20–40 ms). `window.edgecdBench(total, clients)` runs `total` puts of 256-byte
// values from `clients` concurrent loops against the leader and answers puts/s and latency percentiles.

import { RealClock } from '../../adapters/runtime/clock.ts';
import { IndexedDbStorage } from '../../adapters/storage/indexeddb/index.ts';
import { InPageHub, InPageTransport } from '../../adapters/transport/in-page/index.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { Rng } from '../../src/sim/rng.ts';

interface BenchResult {
  readonly puts: number;
  readonly seconds: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

async function startCluster(run: string): Promise<EdgeNode[]> {
  const clock = new RealClock();
  const hub = new InPageHub(new FaultModel(new Rng(1), { minDelayMs: 0, maxDelayMs: 0 }), clock);
  const members = [1, 2, 3].map((id) => ({ id: BigInt(id), name: `m${id}`, peerURLs: [`inpage://m${id}`] }));
  return Promise.all(
    members.map(async (m) => {
      const channel = new MessageChannel();
      hub.attach(m.id, channel.port1);
      return createNode({
        id: m.id,
        name: m.name,
        clusterId: 0xbe9cn,
        members,
        clientURLs: [`inpage://${m.name}/client`],
        storage: new IndexedDbStorage(`edgecd-bench-${run}-${m.name}`),
        transport: new InPageTransport(m.id, channel.port2),
        clock,
        random: { next: () => Math.random() },
        tickMs: 100,
        electionTimeoutMs: 1000,
      });
    }),
  );
}

async function bench(total: number, clients: number): Promise<BenchResult> {
  const nodes = await startCluster(String(Date.now()));
  let leader: EdgeNode | undefined;
  for (let i = 0; i < 300 && !leader; i++) {
    leader = nodes.find((n) => n.nodeStatus().role === 'leader');
    if (!leader) await new Promise((r) => setTimeout(r, 50));
  }
  if (!leader) throw new Error('no leader after 15 s');
  const enc = new TextEncoder();
  const value = new Uint8Array(256).fill(0x61);
  const latencies: number[] = [];
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      for (let i = next++; i < total; i = next++) {
        const t = performance.now();
        await leader.put({ key: enc.encode(`key-${i}`), value });
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  await Promise.all(nodes.map((n) => n.close()));
  return {
    puts: total,
    seconds,
    perSecond: total / seconds,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)],
    p99Ms: latencies[Math.floor(latencies.length * 0.99)],
  };
}

(globalThis as { edgecdBench?: typeof bench }).edgecdBench = bench;
