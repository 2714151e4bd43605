// /metrics as etcd's Grafana dashboard and alert rules read it, on real processes: every series they use exists with
// etcd's name and type (parsed with a Prometheus text-format parser), each moves when it should (a put moves the
// WAL fsync and backend commit histograms and the gRPC counters, peer traffic moves the peer byte counters and
// round trips, a watch moves the watcher gauge), and --listen-metrics-urls serves the same on a port of its own.
// Status reports the data dir's size on disk as dbSize and the live size as dbSizeInUse.
import { type ChildProcess, spawn } from 'node:child_process';
import parsePrometheusTextFormat, { type MetricFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, freePort, sleep, TestCluster } from './cluster-harness.ts';

type Family = MetricFamily;

let c: TestCluster;
const metricsPorts = new Map<string, number>();

beforeAll(async () => {
  for (const name of ['m1', 'm2', 'm3']) metricsPorts.set(name, await freePort());
  c = await TestCluster.start({
    memberFlags: (m) => [`--listen-metrics-urls=http://127.0.0.1:${metricsPorts.get(m.name)}`],
  });
}, 60_000);
afterAll(async () => {
  await c?.close();
});

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  // One family per name: two # TYPE lines for one name would make Prometheus refuse the whole scrape.
  const typed = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
  expect(typed.length).toBe(new Set(typed).size);
  const families = parsePrometheusTextFormat(text);
  return new Map(families.map((f) => [f.name, f]));
}

const metricsOf = (name: string) => scrape(`http://${c.endpoint(name)}/metrics`);

/** A counter's or gauge's value (summed over the samples whose labels include `labels`). */
function value(m: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const f = m.get(name);
  if (!f) throw new Error(`no series ${name}`);
  return f.metrics
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
    .reduce((sum, s) => sum + Number(s.value), 0);
}

/**
 * A histogram's observation count (summed over label sets): its +Inf bucket, which equals _count by definition
 * (the parser leaves _count out of histograms with labels besides `le`).
 */
function count(m: Map<string, Family>, name: string): number {
  const f = m.get(name);
  if (!f) throw new Error(`no series ${name}`);
  expect(f.type).toBe('HISTOGRAM');
  return f.metrics.reduce((sum, s) => sum + Number(s.buckets?.['+Inf']), 0);
}

// The series etcd's official dashboard (contrib/mixin) and alert rules use, with their types.
const EXPECTED: Record<string, string> = {
  etcd_disk_wal_fsync_duration_seconds: 'HISTOGRAM',
  etcd_disk_backend_commit_duration_seconds: 'HISTOGRAM',
  etcd_network_peer_round_trip_time_seconds: 'HISTOGRAM',
  etcd_network_peer_sent_bytes_total: 'COUNTER',
  etcd_network_peer_received_bytes_total: 'COUNTER',
  etcd_network_peer_sent_failures_total: 'COUNTER',
  etcd_network_client_grpc_sent_bytes_total: 'COUNTER',
  etcd_network_client_grpc_received_bytes_total: 'COUNTER',
  grpc_server_started_total: 'COUNTER',
  grpc_server_handled_total: 'COUNTER',
  etcd_server_heartbeat_send_failures_total: 'COUNTER',
  etcd_server_slow_apply_total: 'COUNTER',
  etcd_debugging_mvcc_keys_total: 'GAUGE',
  etcd_debugging_mvcc_watcher_total: 'GAUGE',
  etcd_mvcc_db_total_size_in_use_in_bytes: 'GAUGE',
  etcd_mvcc_db_total_size_in_bytes: 'GAUGE',
  etcd_server_quota_backend_bytes: 'GAUGE',
  etcd_server_has_leader: 'GAUGE',
  etcd_server_is_leader: 'GAUGE',
  etcd_server_leader_changes_seen_total: 'COUNTER',
  etcd_server_proposals_committed_total: 'GAUGE',
  etcd_server_proposals_applied_total: 'GAUGE',
  etcd_server_proposals_pending: 'GAUGE',
  etcd_server_proposals_failed_total: 'COUNTER',
  process_cpu_seconds_total: 'COUNTER',
  process_resident_memory_bytes: 'GAUGE',
  process_open_fds: 'GAUGE',
  nodejs_heap_size_used_bytes: 'GAUGE',
  nodejs_eventloop_lag_seconds: 'GAUGE',
};

describe('/metrics for etcd dashboards', () => {
  it('has every series the dashboard and alerts use, with etcd names and types', async () => {
    for (const name of ['m1', 'm2', 'm3']) {
      const m = await metricsOf(name);
      for (const [series, type] of Object.entries(EXPECTED)) {
        expect(m.get(series)?.type, `${name}: ${series}`).toBe(type);
      }
      // etcd's 2 GiB default, or less when this process's heap limit cannot hold that much (heap.ts).
      const quota = value(m, 'etcd_server_quota_backend_bytes');
      expect(quota).toBeGreaterThan(64 * 1024 ** 2);
      expect(quota).toBeLessThanOrEqual(2 * 1024 ** 3);
    }
  });

  it('a put moves fsync, backend commit, gRPC and key counts; peers move bytes and round trips', async () => {
    const leader = await c.leaderName();
    const before = await metricsOf(leader);
    for (let i = 0; i < 5; i++)
      expect(etcdctl(c.endpoint(leader), ['put', `metrics/k${i}`, 'v']).status).toBe(0);
    // Heartbeats go every 100 ms: a few round trips are measured meanwhile.
    await sleep(500);
    const after = await metricsOf(leader);
    expect(count(after, 'etcd_disk_wal_fsync_duration_seconds')).toBeGreaterThan(
      count(before, 'etcd_disk_wal_fsync_duration_seconds'),
    );
    expect(count(after, 'etcd_disk_backend_commit_duration_seconds')).toBeGreaterThan(
      count(before, 'etcd_disk_backend_commit_duration_seconds'),
    );
    const put = { grpc_method: 'Put', grpc_service: 'etcdserverpb.KV', grpc_type: 'unary' };
    expect(value(after, 'grpc_server_started_total', put)).toBe(
      value(before, 'grpc_server_started_total', put) + 5,
    );
    expect(value(after, 'grpc_server_handled_total', { ...put, grpc_code: 'OK' })).toBe(
      value(before, 'grpc_server_handled_total', { ...put, grpc_code: 'OK' }) + 5,
    );
    expect(value(after, 'etcd_network_client_grpc_received_bytes_total')).toBeGreaterThan(
      value(before, 'etcd_network_client_grpc_received_bytes_total'),
    );
    expect(value(after, 'etcd_network_client_grpc_sent_bytes_total')).toBeGreaterThan(
      value(before, 'etcd_network_client_grpc_sent_bytes_total'),
    );
    expect(value(after, 'etcd_debugging_mvcc_keys_total')).toBeGreaterThanOrEqual(5);
    // The leader talks to both followers, labelled by their member IDs in hex, as etcd labels them.
    const to = after.get('etcd_network_peer_sent_bytes_total')?.metrics ?? [];
    expect(to.length).toBe(2);
    for (const s of to) {
      expect(s.labels?.To).toMatch(/^[0-9a-f]+$/);
      const label = { To: s.labels?.To ?? '' };
      expect(Number(s.value)).toBeGreaterThan(value(before, 'etcd_network_peer_sent_bytes_total', label));
    }
    expect(value(after, 'etcd_network_peer_received_bytes_total')).toBeGreaterThan(
      value(before, 'etcd_network_peer_received_bytes_total'),
    );
    expect(count(after, 'etcd_network_peer_round_trip_time_seconds')).toBeGreaterThan(
      count(before, 'etcd_network_peer_round_trip_time_seconds'),
    );
    // A failed call is handled with its code's name, as go-grpc-prometheus labels it.
    const bad = etcdctl(c.endpoint(leader), ['get', 'x', '--rev=999999']);
    expect(bad.status).not.toBe(0);
    const later = await metricsOf(leader);
    expect(
      value(later, 'grpc_server_handled_total', {
        grpc_method: 'Range',
        grpc_service: 'etcdserverpb.KV',
        grpc_code: 'OutOfRange',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('a watch moves the watcher gauge up and, when it ends, down', async () => {
    const name = 'm2';
    const base = value(await metricsOf(name), 'etcd_debugging_mvcc_watcher_total');
    const watch: ChildProcess = spawn('etcdctl', [`--endpoints=${c.endpoint(name)}`, 'watch', 'metrics/w'], {
      stdio: 'ignore',
    });
    try {
      const deadline = Date.now() + 10_000;
      while (value(await metricsOf(name), 'etcd_debugging_mvcc_watcher_total') !== base + 1) {
        if (Date.now() > deadline) throw new Error('the watcher gauge never went up');
        await sleep(50);
      }
    } finally {
      watch.kill('SIGKILL');
    }
    const deadline = Date.now() + 10_000;
    while (value(await metricsOf(name), 'etcd_debugging_mvcc_watcher_total') !== base) {
      if (Date.now() > deadline) throw new Error('the watcher gauge never went down');
      await sleep(50);
    }
  });

  it('--listen-metrics-urls serves /metrics and /health on its own port, and nothing else', async () => {
    const port = metricsPorts.get('m1');
    const m = await scrape(`http://127.0.0.1:${port}/metrics`);
    for (const [series, type] of Object.entries(EXPECTED)) expect(m.get(series)?.type, series).toBe(type);
    const health = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ health: 'true' });
    const other = await fetch(`http://127.0.0.1:${port}/v3/kv/range`, {
      method: 'POST',
      body: '{}',
      signal: AbortSignal.timeout(5000),
    });
    expect(other.status).toBe(404);
  });

  it('Status: dbSize is the data dir on disk, dbSizeInUse the live key space', async () => {
    const out = etcdctl(c.endpoint('m1'), ['endpoint', 'status', '-w', 'json']);
    expect(out.status).toBe(0);
    const [{ Status: s }] = JSON.parse(out.stdout) as [{ Status: { dbSize: number; dbSizeInUse: number } }];
    expect(s.dbSizeInUse).toBeGreaterThan(0);
    // The WAL holds every entry since the last snapshot, headers and checksums included: more than the live data.
    expect(s.dbSize).toBeGreaterThan(s.dbSizeInUse);
    const m = await metricsOf('m1');
    expect(value(m, 'etcd_mvcc_db_total_size_in_bytes')).toBeGreaterThan(0);
    expect(value(m, 'etcd_mvcc_db_total_size_in_use_in_bytes')).toBeGreaterThan(0);
  });
});
