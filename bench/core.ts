// bench:core — the keyspace through createNode on an in-memory 3-member cluster:
//   puts/s and linearizable reads/s (64 concurrent clients), watch event delivery with 10,000 watchers on one
//   prefix, and heap bytes per key with 1,000,000 keys of 256-byte values. A benchmark, not a test.
// Run with `npm run bench:core` (node --expose-gc, so heap figures are after a full collection).

import { RealClock } from '../adapters/runtime/clock.ts';
import { MemoryStorage } from '../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../adapters/transport/memory/index.ts';
import { cryptoRandom } from '../src/env.ts';
import { MvccStore } from '../src/mvcc/store.ts';
import { createNode, type EdgeNode } from '../src/server/node.ts';
import { FaultModel } from '../src/sim/fault-model.ts';

const CLIENTS = 64;
const SECONDS = Number(process.env.SECONDS ?? 3);
const enc = new TextEncoder();
const value = new Uint8Array(256).fill(120);
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function cluster(): Promise<EdgeNode[]> {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom, { minDelayMs: 0, maxDelayMs: 0 }));
  const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
  return Promise.all(
    members.map((m) =>
      createNode({
        id: m.id,
        name: m.name,
        clusterId: 1n,
        members,
        storage: new MemoryStorage(),
        transport: network.transport(m.id),
        clock,
        random: cryptoRandom,
        tickMs: 20,
        electionTimeoutMs: 400,
        snapshotCount: 100_000,
      }),
    ),
  );
}

async function leaderOf(nodes: EdgeNode[]): Promise<EdgeNode> {
  await nodes[0].put({ key: enc.encode('warmup'), value });
  const id = nodes[0].nodeStatus().leader;
  return nodes.find((n) => n.id === id) ?? nodes[0];
}

async function forSeconds(seconds: number, op: (i: number) => Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      let i = c;
      while (performance.now() < end) {
        await op(i);
        i += CLIENTS;
        done++;
      }
    }),
  );
  return done / seconds;
}

async function main(): Promise<void> {
  heapPerKey();
  const nodes = await cluster();
  const leader = await leaderOf(nodes);
  const puts = await forSeconds(SECONDS, (i) => leader.put({ key: enc.encode(`k/${i % 10_000}`), value }));
  console.log(`puts:                 ${fmt(puts)}/s (${CLIENTS} clients, 256-byte values, via the leader)`);
  const reads = await forSeconds(SECONDS, (i) => leader.range({ key: enc.encode(`k/${i % 10_000}`) }));
  console.log(`linearizable reads:   ${fmt(reads)}/s (ReadIndex, batched)`);
  const follower = nodes.find((n) => n !== leader)!;
  const freads = await forSeconds(SECONDS, (i) => follower.range({ key: enc.encode(`k/${i % 10_000}`) }));
  console.log(`linearizable reads:   ${fmt(freads)}/s on a follower`);

  // 10,000 watchers on one prefix, one stream each; count delivered events.
  const WATCHERS = 10_000;
  let delivered = 0;
  const streams = Array.from({ length: WATCHERS }, () => leader.watch());
  for (const s of streams) s.send({ createRequest: { key: enc.encode('w/'), rangeEnd: enc.encode('w0') } });
  const readers = streams.map(async (s) => {
    for await (const r of s) delivered += r.events.length;
  });
  await new Promise((r) => setTimeout(r, 200));
  const WRITES = 200;
  const t0 = performance.now();
  for (let i = 0; i < WRITES; i++) await leader.put({ key: enc.encode(`w/${i}`), value });
  while (delivered < WRITES * WATCHERS && performance.now() - t0 < 60_000)
    await new Promise((r) => setTimeout(r, 5));
  const wsec = (performance.now() - t0) / 1000;
  console.log(
    `watch delivery:       ${fmt(delivered / wsec)} events/s (${WATCHERS.toLocaleString('en-US')} watchers on one prefix, ` +
      `${WRITES} writes, ${fmt(delivered)} of ${fmt(WRITES * WATCHERS)} delivered in ${wsec.toFixed(1)}s)`,
  );
  for (const s of streams) s.close();
  await Promise.all(readers);
  await Promise.all(nodes.map((n) => n.close()));
}

function heapPerKey(): void {
  // Heap bytes per key: 1,000,000 keys with 256-byte values in the MVCC store itself.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const m0 = process.memoryUsage();
  const before = m0.heapUsed + m0.external;
  const store = new MvccStore();
  const KEYS = Number(process.env.KEYS ?? 1_000_000);
  for (let i = 0; i < KEYS; i++)
    store.put({ key: enc.encode(`key/${i.toString().padStart(8, '0')}`), value: value.slice() });
  gc?.();
  const m1 = process.memoryUsage();
  const after = m1.heapUsed + m1.external;
  console.log(
    `memory:               ${fmt((after - before) / KEYS)} bytes per key (${fmt(KEYS)} keys, 256-byte values${gc ? '' : ', no --expose-gc'}; store at revision ${store.revision})`,
  );
}

await main();
