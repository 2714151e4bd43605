// etcd's Prometheus series that need the Node runtime, with prom-client: WAL fsync and backend commit latency, peer
// round trips and traffic, gRPC calls and bytes, late heartbeats, slow applies, and prom-client's process_* and
// nodejs_* series. They follow the portable gauges the gateway renders itself (src/api/gateway/endpoints.ts) on
// /metrics, and are also served on each --listen-metrics-urls URL. Names, types, labels and buckets are etcd
// 3.4's (wal/metrics.go, mvcc/backend/metrics.go, rafthttp/metrics.go, etcdserver/metrics.go, v3rpc/metrics.go,
// go-grpc-prometheus).

import http from 'node:http';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, exponentialBuckets, Histogram, Registry } from 'prom-client';
import type { NodeId } from '../../../src/raft/types.ts';
import type { MemberMetrics } from '../../../src/server/metrics.ts';
import type { EdgeNode } from '../../../src/server/node.ts';
import type { WalFile, WalFs } from '../../storage/file-wal/fs.ts';
import type { PeerStats } from '../../transport/tcp/index.ts';
import { GrpcCounts } from './grpc/metrics.ts';

const hex = (id: bigint) => id.toString(16);

/** What the peer series read at scrape time. */
export interface PeerCounters {
  stats(peer: NodeId): PeerStats;
}

export class NodeMetrics implements MemberMetrics {
  readonly registry = new Registry();
  private readonly walFsync: Histogram;
  private readonly backendCommit: Histogram;
  private readonly roundTrip: Histogram<'To'>;
  private readonly heartbeatFailures: Counter;
  private readonly slowApplies: Counter;
  private readonly grpcCounts = new GrpcCounts();
  private readonly grpcStarted: Counter<'grpc_method' | 'grpc_service' | 'grpc_type'>;
  private readonly grpcHandled: Counter<'grpc_code' | 'grpc_method' | 'grpc_service' | 'grpc_type'>;
  private readonly grpcSent: Counter;
  private readonly grpcReceived: Counter;
  private node?: EdgeNode;
  private peers?: PeerCounters;

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.walFsync = new Histogram({
      name: 'etcd_disk_wal_fsync_duration_seconds',
      help: 'The latency distributions of fsync called by WAL.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.backendCommit = new Histogram({
      name: 'etcd_disk_backend_commit_duration_seconds',
      help: 'The latency distributions of commit called by backend.',
      buckets: exponentialBuckets(0.001, 2, 14),
      registers,
    });
    this.roundTrip = new Histogram({
      name: 'etcd_network_peer_round_trip_time_seconds',
      help: 'Round-Trip-Time histogram between peers',
      labelNames: ['To'],
      buckets: exponentialBuckets(0.0001, 2, 16),
      registers,
    });
    this.heartbeatFailures = new Counter({
      name: 'etcd_server_heartbeat_send_failures_total',
      help: 'The total number of leader heartbeat send failures (likely overloaded from slow disk).',
      registers,
    });
    this.slowApplies = new Counter({
      name: 'etcd_server_slow_apply_total',
      help: 'The total number of slow apply requests (likely overloaded from slow disk).',
      registers,
    });
    // Peer traffic as the transport counts it, read when scraped.
    const peerCounter = (name: string, help: string, label: 'To' | 'From', read: (s: PeerStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: [label],
        registers,
        collect: () => {
          const counter = this.registry.getSingleMetric(name) as Counter<typeof label>;
          counter.reset();
          for (const m of this.node?.nodeStatus().members ?? []) {
            if (m.ID === this.node?.id || !this.peers) continue;
            counter.inc({ [label]: hex(m.ID) }, read(this.peers.stats(m.ID)));
          }
        },
      });
    peerCounter(
      'etcd_network_peer_sent_bytes_total',
      'The total number of bytes sent to peers.',
      'To',
      (s) => s.sentBytes,
    );
    peerCounter(
      'etcd_network_peer_received_bytes_total',
      'The total number of bytes received from peers.',
      'From',
      (s) => s.receivedBytes,
    );
    peerCounter(
      'etcd_network_peer_sent_failures_total',
      'The total number of send failures from peers.',
      'To',
      (s) => s.dropped,
    );
    // The per-call counts are plain numbers on the hot path, moved into prom-client at scrape time: a labelled
    // inc() hashes its labels on every call (~1.5% of a put's CPU).
    const grpc = this.grpcCounts;
    this.grpcStarted = new Counter({
      name: 'grpc_server_started_total',
      help: 'Total number of RPCs started on the server.',
      labelNames: ['grpc_method', 'grpc_service', 'grpc_type'],
      registers,
      collect() {
        grpc.flush(grpc.started, this);
      },
    });
    this.grpcHandled = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: ['grpc_code', 'grpc_method', 'grpc_service', 'grpc_type'],
      registers,
      collect() {
        grpc.flush(grpc.handled, this);
      },
    });
    this.grpcSent = new Counter({
      name: 'etcd_network_client_grpc_sent_bytes_total',
      help: 'The total number of bytes sent to grpc clients.',
      registers,
      collect() {
        this.inc(grpc.sent);
        grpc.sent = 0;
      },
    });
    this.grpcReceived = new Counter({
      name: 'etcd_network_client_grpc_received_bytes_total',
      help: 'The total number of bytes received from grpc clients.',
      registers,
      collect() {
        this.inc(grpc.received);
        grpc.received = 0;
      },
    });
  }

  /** The member and transport whose counters the scrape-time series read. */
  attach(node: EdgeNode, peers: PeerCounters): void {
    this.node = node;
    this.peers = peers;
  }

  /** The Prometheus text of these series (the gateway's portable gauges come before it on /metrics). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  // MemberMetrics (src/server/metrics.ts)
  now(): number {
    return performance.now();
  }
  peerRoundTrip(peer: NodeId, seconds: number): void {
    this.roundTrip.observe({ To: hex(peer) }, seconds);
  }
  heartbeatSendFailure(): void {
    this.heartbeatFailures.inc();
  }
  applied(seconds: number, slow: number): void {
    this.backendCommit.observe(seconds);
    if (slow > 0) this.slowApplies.inc(slow);
  }

  // gRPC (grpc/metrics.ts)
  grpcCallStarted(service: string, method: string, type: string): void {
    this.grpcCounts.count(this.grpcCounts.started, `${service}/${method}/${type}`, () => ({
      grpc_method: method,
      grpc_service: service,
      grpc_type: type,
    }));
  }
  grpcCallHandled(service: string, method: string, type: string, code: string): void {
    this.grpcCounts.count(this.grpcCounts.handled, `${service}/${method}/${type}/${code}`, () => ({
      grpc_code: code,
      grpc_method: method,
      grpc_service: service,
      grpc_type: type,
    }));
  }
  grpcBytes(sent: number, received: number): void {
    this.grpcCounts.sent += sent;
    this.grpcCounts.received += received;
  }

  /**
   * The WAL's file layer with every fdatasync/fsync timed into etcd_disk_wal_fsync_duration_seconds, and every
   * write to a file opened O_DSYNC ('r+d': the WAL's appends, each a write and its sync in one call).
   */
  timedFs(fs: WalFs): WalFs {
    const observe = this.walFsync;
    const timed = (file: WalFile, durable: boolean): WalFile => ({
      write: durable
        ? async (data, position) => {
            const start = performance.now();
            await file.write(data, position);
            observe.observe((performance.now() - start) / 1000);
          }
        : (data, position) => file.write(data, position),
      datasync: async () => {
        const start = performance.now();
        await file.datasync();
        observe.observe((performance.now() - start) / 1000);
      },
      sync: async () => {
        const start = performance.now();
        await file.sync();
        observe.observe((performance.now() - start) / 1000);
      },
      truncate: (length) => file.truncate(length),
      size: () => file.size(),
      close: () => file.close(),
    });
    return {
      open: async (path, mode) => timed(await fs.open(path, mode), mode === 'r+d'),
      readFile: (path) => fs.readFile(path),
      ...(fs.openSequential ? { openSequential: fs.openSequential.bind(fs) } : {}),
      readdir: (path) => fs.readdir(path),
      mkdir: (path) => fs.mkdir(path),
      rename: (from, to) => fs.rename(from, to),
      unlink: (path) => fs.unlink(path),
      fsyncDir: (path) => fs.fsyncDir(path),
    };
  }
}

/**
 * etcd's --listen-metrics-urls: one more listener serving only GET /metrics and /health (https:// with the
 * client TLS settings). `fetch` is the client port's handler, whose answers these are.
 */
export async function serveMetricsUrl(
  url: string,
  fetch: (request: Request) => Promise<Response>,
  tlsOptions?: https.ServerOptions,
): Promise<{ readonly port: number; close(): Promise<void> }> {
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  if (!secure && u.protocol !== 'http:')
    throw new Error(`--listen-metrics-urls: unsupported scheme in "${url}"`);
  if (secure && !tlsOptions)
    throw new Error(`--listen-metrics-urls: "${url}" needs --cert-file and --key-file`);
  const serve = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://metrics').pathname;
    if (path !== '/metrics' && path !== '/health') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('404 page not found\n');
      return;
    }
    fetch(new Request(`http://metrics${path}`, { method: req.method === 'HEAD' ? 'HEAD' : 'GET' })).then(
      async (response) => {
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          headers[name] = value;
        });
        res.writeHead(response.status, headers).end(Buffer.from(await response.arrayBuffer()));
      },
      (error: unknown) => res.writeHead(500).end(String(error)),
    );
  };
  const server = secure ? https.createServer(tlsOptions ?? {}, serve) : http.createServer(serve);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(u.port || (secure ? 443 : 80)), host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
