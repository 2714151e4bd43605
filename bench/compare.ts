// npm run bench — the same workload against a local 3-member edgecd and a local 3-member etcd (Debian's
// etcd-server) started with the same flags, alternating them for several rounds, reporting medians and the
// ratio edgecd/etcd. Workload: N clients × M puts of 256-byte values over gRPC (the etcd3 npm client). If etcd's
// own `benchmark` tool has been built (../shared/tools/build-etcd-benchmark.sh → /tmp/etcdbench/benchmark),
// its put / range / txn-put figures are reported for both as well. A benchmark, never a test.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CLIENTS = Number(process.env.CLIENTS ?? 32);
const PUTS = Number(process.env.PUTS ?? 200); // per client
const BENCHMARK_TOOL = process.env.ETCD_BENCHMARK ?? '/tmp/etcdbench/benchmark';
const ROOT = join(import.meta.dirname, '..');

type Kind = 'etcd' | 'edgecd';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Cluster {
  endpoints: string[];
  close(): Promise<void>;
}

async function startCluster(kind: Kind): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${kind}-`));
  const members = [];
  for (let i = 1; i <= 3; i++)
    members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const procs: ChildProcess[] = members.map((m) => {
    const flags = [
      '--name',
      m.name,
      '--data-dir',
      join(dir, m.name),
      '--listen-client-urls',
      `http://127.0.0.1:${m.client}`,
      '--advertise-client-urls',
      `http://127.0.0.1:${m.client}`,
      '--listen-peer-urls',
      `http://127.0.0.1:${m.peer}`,
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${m.peer}`,
      '--initial-cluster',
      initial,
      '--initial-cluster-token',
      `bench-${kind}`,
      '--initial-cluster-state',
      'new',
      '--heartbeat-interval',
      '100',
      '--election-timeout',
      '1000',
      '--snapshot-count',
      '10000',
    ];
    const [cmd, args] =
      kind === 'etcd' ? ['etcd', flags] : [process.execPath, [join(ROOT, 'bin', 'edgecd.js'), ...flags]];
    return spawn(cmd, args as string[], { stdio: 'ignore' });
  });
  const endpoints = members.map((m) => `127.0.0.1:${m.client}`);
  const deadline = Date.now() + 30_000;
  for (const ep of endpoints) {
    for (;;) {
      try {
        const r = await fetch(`http://${ep}/health`, { signal: AbortSignal.timeout(1000) });
        if (((await r.json()) as { health: string }).health === 'true') break;
      } catch {
        // starting
      }
      if (Date.now() > deadline) throw new Error(`${kind} did not become healthy`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    endpoints,
    async close() {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(
        procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)),
      );
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Result {
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
}

async function putWorkload(endpoints: string[]): Promise<Result> {
  const client = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
  const value = 'x'.repeat(256);
  await client.put('warmup').value(value);
  const latencies: number[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, c) => {
      for (let i = 0; i < PUTS; i++) {
        const t = performance.now();
        await client.put(`bench/${c}/${i}`).value(value);
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  client.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { throughput: latencies.length / seconds, p50: pct(0.5), p99: pct(0.99) };
}

function etcdBenchmark(endpoints: string[], args: string[]): number | undefined {
  const r = spawnSync(
    BENCHMARK_TOOL,
    [`--endpoints=${endpoints.join(',')}`, '--conns=20', '--clients=200', ...args],
    {
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  const m = /Requests\/sec:\s+([\d.]+)/.exec(r.stdout ?? '');
  return m ? Number(m[1]) : undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

async function main(): Promise<void> {
  const results: Record<Kind, Result[]> = { etcd: [], edgecd: [] };
  const tool: Record<Kind, Record<string, number[]>> = { etcd: {}, edgecd: {} };
  const toolRuns: Record<string, string[]> = {
    put: ['put', '--key-size=8', '--sequential-keys', '--total=20000', '--val-size=256'],
    'range (linearizable)': ['range', 'foo', '--consistency=l', '--total=20000'],
    'range (serializable)': ['range', 'foo', '--consistency=s', '--total=20000'],
    'txn-put': ['txn-put', '--key-size=8', '--total=10000', '--val-size=256'],
  };
  const haveTool = existsSync(BENCHMARK_TOOL);
  console.log(
    `bench: ${CLIENTS} clients × ${PUTS} puts of 256-byte values over gRPC, 3 members each, ${ROUNDS} rounds alternating` +
      (haveTool
        ? `; etcd's benchmark tool: ${Object.keys(toolRuns).join(', ')}`
        : ' (etcd benchmark tool not built)'),
  );
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of round % 2 === 1 ? (['etcd', 'edgecd'] as const) : (['edgecd', 'etcd'] as const)) {
      const cluster = await startCluster(kind);
      try {
        const r = await putWorkload(cluster.endpoints);
        results[kind].push(r);
        console.log(
          `round ${round} ${kind.padEnd(6)} ${fmt(r.throughput)} puts/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms`,
        );
        if (haveTool) {
          for (const [name, args] of Object.entries(toolRuns)) {
            const rps = etcdBenchmark(cluster.endpoints, args);
            if (rps !== undefined) (tool[kind][name] ??= []).push(rps);
            console.log(
              `round ${round} ${kind.padEnd(6)} benchmark ${name}: ${rps === undefined ? 'failed' : `${fmt(rps)} req/s`}`,
            );
          }
        }
      } finally {
        await cluster.close();
      }
    }
  }
  const m = (k: Kind, f: keyof Result) => median(results[k].map((r) => r[f]));
  console.log('\nmedians:');
  for (const k of ['etcd', 'edgecd'] as const) {
    console.log(
      `  ${k.padEnd(6)} ${fmt(m(k, 'throughput'))} puts/s  p50 ${m(k, 'p50').toFixed(1)} ms  p99 ${m(k, 'p99').toFixed(1)} ms`,
    );
  }
  console.log(
    `  ratio edgecd/etcd (throughput): ${(m('edgecd', 'throughput') / m('etcd', 'throughput')).toFixed(2)}`,
  );
  for (const name of Object.keys(toolRuns)) {
    const e = tool.etcd[name];
    const g = tool.edgecd[name];
    if (e?.length && g?.length) {
      console.log(
        `  benchmark ${name}: etcd ${fmt(median(e))} req/s, edgecd ${fmt(median(g))} req/s, ratio ${(median(g) / median(e)).toFixed(2)}`,
      );
    }
  }
}

await main();
