// npm run bench — etcd's own `benchmark` tool (v3.4, built from Debian's sources by
// ../shared/tools/build-etcd-benchmark.sh) against a local 3-member edgecd and a local 3-member etcd (Debian's
// etcd-server), started with the same flags on 127.0.0.1, alternating them for several rounds; it prints each
// run's figures and latency histogram, then medians and the ratio edgecd/etcd per test (throughput ≥ 1.0 and
// p99 ≤ etcd's is the goal), plus each member's RSS once the cluster has been idle 10 s after the tests (what a
// member holding the keyspace keeps, for both systems: Go's runtime and edgecd's idle collection give back what
// the load left behind) and the time a killed member takes to serve again.
// A benchmark, never a test.
//
//   npm run bench                              all tests, 3 rounds
//   npm run bench -- --rounds 1 --only put-1   one test
//   npm run bench -- --endpoints h:p,h:p,h:p   measure a running cluster instead (no etcd, no restart)
//   BENCH_SCALE=0.2 npm run bench              fewer requests per test
//   npm run bench -- --load-keys 1000000       load-1m's puts over a million distinct keys (etcd's benchmark writes
//                                              --key-space-size keys, 1 unless told: a million versions of one key)
//   npm run bench -- --warm                    each test run once unmeasured first, on the same cluster (not load-1m):
//                                              a fresh Node process runs its first requests before V8 optimizes them,
//                                              so this separates the steady state from the warm-up both systems see
// Then, unless --only or --endpoints, puts/s in Chromium and on Durable Objects (./edge.ts, npm run bench:edge).

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = join(import.meta.dirname, '..');
const { values: opts } = parseArgs({
  options: {
    rounds: { type: 'string', default: process.env.ROUNDS ?? '3' },
    only: { type: 'string' },
    endpoints: { type: 'string' },
    tool: { type: 'string', default: process.env.ETCD_BENCHMARK },
    verbose: { type: 'boolean', default: false },
    'load-keys': { type: 'string', default: '1' },
    warm: { type: 'boolean', default: false },
  },
});
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const TOOL = [opts.tool, '/tmp/etcdbench/benchmark', '/tmp/etcd-benchmark'].find((p) => p && existsSync(p));
const n = (x: number) => String(Math.max(1, Math.round(x * SCALE)));

/** etcd's benchmark invocations of Step 10's table (global flags first, then the command). */
const TESTS: Record<
  string,
  {
    readonly args: string[];
    readonly leader?: boolean;
    readonly terms?: boolean;
    /** Not run a first time with --warm (a million puts are their own warm-up). */
    readonly once?: boolean;
  }
> = {
  'put-1': {
    args: [
      '--conns=1',
      '--clients=1',
      'put',
      '--key-size=8',
      '--sequential-keys',
      `--total=${n(3000)}`,
      '--val-size=256',
    ],
    leader: true,
  },
  'put-200': {
    args: [
      '--conns=20',
      '--clients=200',
      'put',
      '--key-size=8',
      '--sequential-keys',
      `--total=${n(40000)}`,
      '--val-size=256',
    ],
  },
  'range-l': {
    args: ['--conns=20', '--clients=200', 'range', 'foo', '--consistency=l', `--total=${n(40000)}`],
  },
  'range-s': {
    args: ['--conns=20', '--clients=200', 'range', 'foo', '--consistency=s', `--total=${n(60000)}`],
  },
  'txn-put': {
    args: ['--conns=20', '--clients=200', 'txn-put', '--key-size=8', `--total=${n(20000)}`, '--val-size=256'],
  },
  // etcd 3.4's tool meant --put-rate 0 as "no limit" (with its x/time, a zero-rate limiter let everything through);
  // built against Debian's newer x/time it panics on the second put ("Wait(n=1) exceeds limiter's burst 0"), so
  // ask for a rate no put loop reaches.
  watch: { args: ['watch', `--put-total=${n(1000)}`, '--put-rate=1000000'] },
  'lease-keepalive': { args: ['--conns=20', '--clients=200', 'lease-keepalive', `--total=${n(40000)}`] },
  // Step 10's large keyspace: 1M distinct 16-byte keys of 256-byte values. Last, so that the RSS and the restart
  // below are measured holding it; the Raft term before and after tells whether the load cost elections.
  'load-1m': {
    args: [
      '--conns=20',
      '--clients=200',
      'put',
      '--key-size=16',
      '--sequential-keys',
      `--key-space-size=${opts['load-keys']}`,
      `--total=${n(1_000_000)}`,
      '--val-size=256',
    ],
    terms: true,
    once: true,
  },
};

type Kind = 'etcd' | 'edgecd';

interface Run {
  readonly rps: number;
  readonly p50?: number;
  readonly p99?: number;
}

interface Cluster {
  readonly endpoints: string[];
  readonly pids: () => number[];
  /** kill -9 one follower, start it again, and return the ms until it serves a serializable get. */
  restartFollower?(): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port now. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function healthy(endpoint: string, deadline: number): Promise<void> {
  for (;;) {
    try {
      const r = await fetch(`http://${endpoint}/health`, { signal: AbortSignal.timeout(1000) });
      if (((await r.json()) as { health: string }).health === 'true') return;
    } catch {
      // starting
    }
    if (Date.now() > deadline) throw new Error(`${endpoint} did not become healthy`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startCluster(kind: Kind): Promise<Cluster> {
  const dir = mkdtempSync(join(tmpdir(), `bench-${kind}-`));
  const members: { name: string; client: number; peer: number }[] = [];
  for (let i = 1; i <= 3; i++)
    members.push({ name: `m${i}`, client: await freePort(), peer: await freePort() });
  const initial = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const spawnMember = (m: (typeof members)[number], state: 'new' | 'existing'): ChildProcess => {
    const flags = [
      ...['--name', m.name, '--data-dir', join(dir, m.name)],
      ...[
        '--listen-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${m.client}`,
      ],
      ...[
        '--listen-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${m.peer}`,
      ],
      ...[
        '--initial-cluster',
        initial,
        '--initial-cluster-token',
        `bench-${kind}`,
        '--initial-cluster-state',
        state,
      ],
      ...['--heartbeat-interval', '100', '--election-timeout', '1000', '--snapshot-count', '10000'],
    ];
    const [cmd, args] =
      kind === 'etcd' ? ['etcd', flags] : [process.execPath, [join(ROOT, 'bin', 'edgecd.js'), ...flags]];
    return spawn(cmd, args as string[], { stdio: 'ignore' });
  };
  const procs = members.map((m) => spawnMember(m, 'new'));
  const endpoints = members.map((m) => `127.0.0.1:${m.client}`);
  const deadline = Date.now() + 30_000;
  for (const ep of endpoints) await healthy(ep, deadline);
  const exited = (p: ChildProcess) =>
    p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined;
  return {
    endpoints,
    pids: () => procs.map((p) => p.pid ?? 0),
    async restartFollower() {
      const leader = await leaderIndex(endpoints);
      const i = (leader + 1) % 3;
      procs[i].kill('SIGKILL');
      await exited(procs[i]);
      const start = performance.now();
      procs[i] = spawnMember(members[i], 'new');
      // Wait for its client port first: an etcdctl started before the port listens waits out gRPC's 1 s reconnect
      // backoff, which would measure the backoff rather than the member (the same for both).
      while (!(await accepts(members[i].client))) {
        if (performance.now() - start > 120_000) throw new Error('the restarted member never listened');
        await new Promise((r) => setTimeout(r, 10));
      }
      for (;;) {
        const r = spawnSync(
          'etcdctl',
          [`--endpoints=${endpoints[i]}`, 'get', 'foo', '--consistency=s', '--command-timeout=1s'],
          {
            encoding: 'utf8',
          },
        );
        if (r.status === 0) return performance.now() - start;
        if (performance.now() - start > 120_000) throw new Error('the restarted member never served');
      }
    },
    async close() {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map(exited));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function leaderIndex(endpoints: string[]): Promise<number> {
  const r = spawnSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, 'endpoint', 'status', '-w', 'json'], {
    encoding: 'utf8',
  });
  const statuses = JSON.parse(r.stdout.replace(/"(leader|member_id)":(\d+)/g, '"$1":"$2"')) as {
    Status: { leader: string; header: { member_id: string } };
  }[];
  return Math.max(
    0,
    statuses.findIndex((s) => s.Status.leader === s.Status.header.member_id),
  );
}

/** The highest Raft term the members report (etcd's raft_term): how many elections a test cost. */
function raftTerm(endpoints: string[]): number | undefined {
  const r = spawnSync('etcdctl', [`--endpoints=${endpoints.join(',')}`, 'endpoint', 'status', '-w', 'json'], {
    encoding: 'utf8',
  });
  const terms = [...(r.stdout ?? '').matchAll(/"raft_term":(\d+)/g)].map((m) => Number(m[1]));
  return terms.length ? Math.max(...terms) : undefined;
}

/** How long a cluster stays idle after its tests before its members' RSS is read. */
const SETTLE_MS = 10_000;

function rssMb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

function runTool(endpoints: string[], name: string): { run?: Run; output: string } {
  const test = TESTS[name];
  const r = spawnSync(
    TOOL as string,
    [`--endpoints=${endpoints.join(',')}`, ...(test.leader ? ['--target-leader'] : []), ...test.args],
    {
      encoding: 'utf8',
      timeout: 1_800_000,
      maxBuffer: 64 << 20,
    },
  );
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  // The last summary is the test's: watch prints its watch-creation summary first, then the events received.
  const summary = output.slice(output.lastIndexOf('Summary:'));
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(summary);
  if (!rps) return { output };
  const pct = (p: string) => {
    const m = new RegExp(`${p}% in ([\\d.]+) secs`).exec(summary);
    return m ? Number(m[1]) * 1000 : undefined;
  };
  return { run: { rps: Number(rps[1]), p50: pct('50'), p99: pct('99') }, output };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(2)} ms`);

async function main(): Promise<void> {
  if (!TOOL) {
    console.error(
      "npm run bench needs etcd's benchmark tool. Build it once (Debian packages, no internet beyond them):\n" +
        '  bash ../shared/tools/build-etcd-benchmark.sh            # → /tmp/etcdbench/benchmark\n' +
        'or point to one: npm run bench -- --tool /path/to/benchmark',
    );
    process.exit(2);
  }
  const names = opts.only ? opts.only.split(',') : Object.keys(TESTS);
  for (const name of names)
    if (!TESTS[name]) throw new Error(`unknown test ${name}; tests: ${Object.keys(TESTS).join(', ')}`);
  const rounds = Number(opts.rounds);
  const kinds: Kind[] = opts.endpoints ? ['edgecd'] : ['etcd', 'edgecd'];
  const runs: Record<Kind, Record<string, Run[]>> = { etcd: {}, edgecd: {} };
  const rss: Record<Kind, number[]> = { etcd: [], edgecd: [] };
  const restart: Record<Kind, number[]> = { etcd: [], edgecd: [] };
  console.log(
    `bench: etcd's benchmark (${TOOL}), ${names.join(', ')}; ${rounds} round(s)${opts.endpoints ? ` against ${opts.endpoints}` : ', etcd and edgecd alternating'}${opts.warm ? '; each test run once unmeasured first' : ''}`,
  );
  for (let round = 1; round <= rounds; round++) {
    for (const kind of round % 2 === 1 ? kinds : [...kinds].reverse()) {
      const cluster: Cluster = opts.endpoints
        ? { endpoints: opts.endpoints.split(','), pids: () => [], close: async () => {} }
        : await startCluster(kind);
      try {
        for (const name of names) {
          if (opts.warm && !TESTS[name].once) runTool(cluster.endpoints, name);
          const termBefore = TESTS[name].terms ? raftTerm(cluster.endpoints) : undefined;
          const { run, output } = runTool(cluster.endpoints, name);
          const terms =
            termBefore === undefined ? '' : `  Raft term ${termBefore} → ${raftTerm(cluster.endpoints)}`;
          if (!run) {
            console.log(`round ${round} ${kind.padEnd(6)} ${name.padEnd(16)} FAILED\n${output.slice(-2000)}`);
            continue;
          }
          (runs[kind][name] ??= []).push(run);
          console.log(
            `round ${round} ${kind.padEnd(6)} ${name.padEnd(16)} ${fmt(run.rps).padStart(8)} req/s  p50 ${ms(run.p50)}  p99 ${ms(run.p99)}${terms}`,
          );
          if (opts.verbose) console.log(output.slice(output.indexOf('Response time histogram')));
        }
        if (cluster.pids().length > 0) await new Promise((r) => setTimeout(r, SETTLE_MS));
        for (const pid of cluster.pids()) {
          const mb = rssMb(pid);
          if (mb !== undefined) rss[kind].push(mb);
        }
        if (cluster.restartFollower) {
          const t = await cluster.restartFollower();
          restart[kind].push(t);
          console.log(`round ${round} ${kind.padEnd(6)} restart a killed follower to serving: ${fmt(t)} ms`);
        }
      } finally {
        await cluster.close();
      }
    }
  }
  console.log('\nmedians (edgecd/etcd: throughput ratio, and p99 ratio where lower is better):');
  for (const name of names) {
    const e = runs.etcd[name];
    const g = runs.edgecd[name];
    const line = (k: Kind, rs: Run[] | undefined) =>
      rs?.length
        ? `${k} ${fmt(median(rs.map((r) => r.rps)))} req/s p99 ${ms(median(rs.map((r) => r.p99 ?? 0)))}`
        : `${k} -`;
    const ratio =
      e?.length && g?.length ? (median(g.map((r) => r.rps)) / median(e.map((r) => r.rps))).toFixed(2) : '-';
    const p99 =
      e?.length && g?.length
        ? (median(g.map((r) => r.p99 ?? 0)) / median(e.map((r) => r.p99 ?? 1))).toFixed(2)
        : '-';
    console.log(
      `  ${name.padEnd(16)} ${line('etcd', e)} | ${line('edgecd', g)} | ratio ${ratio} (p99 ${p99})`,
    );
  }
  for (const k of kinds) {
    if (rss[k].length)
      console.log(`  RSS per member 10 s after the run, ${k}: median ${fmt(median(rss[k]))} MB`);
    if (restart[k].length) console.log(`  restart to serving, ${k}: median ${fmt(median(restart[k]))} ms`);
  }
  if (!opts.endpoints && !opts.only) {
    // The other runtimes (no etcd to compare with there): ./edge.ts.
    console.log('\nedgecd on the other runtimes:');
    spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'bench/edge.ts')], {
      stdio: 'inherit',
      cwd: ROOT,
    });
  }
}

await main();
