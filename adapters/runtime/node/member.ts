// One edgecd member as a Node process: file WAL storage under --data-dir, TCP peers on the peer URL, and etcd's
// gRPC API plus the HTTP/JSON gateway on the client URL (one port, like etcd).

import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { createGateway } from '../../../src/api/gateway/index.ts';
import { cryptoRandom, type Logger } from '../../../src/env.ts';
import { parseAutoCompaction } from '../../../src/server/auto-compaction.ts';
import { createNode, type EdgeNode, type NodeOptions } from '../../../src/server/node.ts';
import { FileWalStorage, nodeFs } from '../../storage/file-wal/index.ts';
import { abstractSocketLock } from '../../storage/file-wal/lock.ts';
import { TcpTransport } from '../../transport/tcp/index.ts';
import { RealClock } from '../clock.ts';
import { bindClientListener, type ClientListener } from './client-listener.ts';
import { startClientServer } from './client-server.ts';
import { hostPort, type MemberConfig } from './config.ts';
import { checkInitialHashKV, peerHashKVRoute } from './corrupt-check.ts';
import { directorySize } from './disk-usage.ts';
import { prepareGrpcServer } from './grpc/server.ts';
import { effectiveQuota } from './heap.ts';
import { memberIdentity } from './identity.ts';
import { memberMayPause, startIdleCollection } from './idle-gc.ts';
import { peerMembershipRoutes, promoteViaLeader, watchForRemoval } from './join.ts';
import { NodeMetrics, serveMetricsUrl } from './metrics.ts';
import { ignoredTlsWarnings, memberTls } from './tls.ts';

export interface RunningMember {
  readonly node: EdgeNode;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly clientPort: number;
  /** Graceful stop: hand leadership over if we lead, finish, sync, close. */
  stop(): Promise<void>;
  /** Resolves when this member has applied its own removal (etcd then stops the process). */
  readonly removed: Promise<void>;
  /** Resolves with the error when storage failed and the member stopped (etcd panics: the CLI exits 1). */
  readonly failed: Promise<unknown>;
}

/**
 * NodeOptions.auth from etcd's --auth-token, --auth-token-ttl and --bcrypt-cost; JWT key files are read here so
 * that the node gets PEM text. As etcd's NewAuthStore, a bcrypt cost outside 4..31 falls back to the default.
 */
export function authOptions(config: MemberConfig, logger: Logger): NodeOptions['auth'] {
  let bcryptCost = config.bcryptCost;
  if (!Number.isInteger(bcryptCost) || bcryptCost < 4 || bcryptCost > 31) {
    logger.warn('use default bcrypt cost instead of the invalid given cost', { 'given-cost': bcryptCost });
    bcryptCost = 10;
  }
  const spec = config.authToken;
  if (spec.type === 'simple') return { bcryptCost, tokenTtlSeconds: config.authTokenTtl };
  const read = (path: string | undefined) => (path ? readFileSync(path, 'utf8') : undefined);
  const privateKeyPem = read(spec.privKeyPath);
  // Only a private key given: its public half verifies.
  const publicKeyPem =
    read(spec.pubKeyPath) ??
    (privateKeyPem && !spec.signMethod.startsWith('HS')
      ? String(createPublicKey(privateKeyPem).export({ type: 'spki', format: 'pem' }))
      : (privateKeyPem ?? ''));
  return {
    bcryptCost,
    tokenTtlSeconds: config.authTokenTtl,
    jwt: {
      signMethod: spec.signMethod,
      publicKeyPem,
      ...(privateKeyPem !== undefined ? { privateKeyPem } : {}),
      ttlSeconds: spec.ttlSeconds,
    },
  };
}

export async function startMember(config: MemberConfig, logger: Logger): Promise<RunningMember> {
  // TLS flags first: a bad combination must stop the member before it touches its data dir.
  const tls = memberTls(config);
  // Then the client ports, before the data is loaded, as etcd binds them (./client-listener.ts).
  const listeners: ClientListener[] = [];
  try {
    for (const url of config.listenClientUrls) listeners.push(await bindClientListener(clientAddress(url)));
    return await startBound(config, logger, tls, listeners);
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    throw error;
  }
}

function clientAddress(url: string): { path: string } | { host: string; port: number } {
  const unix = /^unixs?:\/\//.exec(url);
  return unix ? { path: url.slice(unix[0].length) } : hostPort(url);
}

async function startBound(
  config: MemberConfig,
  logger: Logger,
  tls: ReturnType<typeof memberTls>,
  listeners: readonly ClientListener[],
): Promise<RunningMember> {
  if (config.configFileOverrides) {
    logger.warn(
      '--config-file is given: other command-line flags and ETCD_* variables are ignored, as in etcd',
    );
  }
  for (const flag of config.ignoredFlags ?? []) {
    logger.warn('flag accepted for compatibility with etcd, not acted on by edgecd', { flag: `--${flag}` });
  }
  for (const w of ignoredTlsWarnings(config)) logger.warn(w.message, { url: w.url });
  const { memberId, clusterId, bootstrap, peers, persist } = await memberIdentity(config, {
    tls: tls.peerClient,
  });
  const ids = { memberId: memberId.toString(16), clusterId: clusterId.toString(16) };
  if (config.initialClusterState === 'existing') logger.info('joining an existing cluster', ids);
  let nodeRef: EdgeNode | undefined;
  const membershipRoutes = peerMembershipRoutes(() => nodeRef);
  const hashKVRoute = peerHashKVRoute(() => nodeRef);
  let onRemoved = () => {};
  let onFatal: (error: unknown) => void = () => {};
  const failed = new Promise<unknown>((resolve) => {
    onFatal = resolve;
  });
  const removed = new Promise<void>((resolve) => {
    onRemoved = resolve;
  });
  const metrics = new NodeMetrics();
  const memberDir = join(config.dataDir, 'member');
  // The real file system with its fsyncs timed (and the kernel lock and value spill a wrapped file layer does not
  // get by default).
  const storage = await FileWalStorage.open(memberDir, {
    logger,
    fs: metrics.timedFs(nodeFs),
    kernelLock: abstractSocketLock,
    valueSpill: true,
  });
  persist();
  const peer = hostPort(config.listenPeerUrls[0]);
  const transport = new TcpTransport({
    clusterId,
    memberId,
    listen: peer,
    logger,
    onHttpRequest: (req, res) => membershipRoutes(req, res) || hashKVRoute(req, res),
    tls: { ...(tls.peerServer ? { server: tls.peerServer } : {}), client: tls.peerClient },
    ...(config.peerSecret ? { peerSecret: config.peerSecret } : {}),
  });
  const clock = new RealClock();
  setImmediate(prepareGrpcServer); // runs while createNode waits for the data files (the thread pool reads them)
  const node = await createNode({
    id: memberId,
    name: config.name,
    clusterId,
    members: bootstrap,
    clientURLs: config.advertiseClientUrls,
    storage,
    transport,
    clock,
    random: cryptoRandom,
    logger,
    tickMs: config.heartbeatIntervalMs,
    electionTimeoutMs: config.electionTimeoutMs,
    // etcd: 0 means the 2 GiB default; no more than the heap can hold (heap.ts).
    quotaBytes: effectiveQuota(config.quotaBackendBytes, logger),
    snapshotCount: config.snapshotCount,
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    raft: { snapshotCatchUpEntries: config.snapshotCatchUpEntries },
    autoCompaction: parseAutoCompaction(config.autoCompactionMode, config.autoCompactionRetention),
    strictReconfigCheck: config.strictReconfigCheck,
    auth: authOptions(config, logger),
    onRemoved: () => onRemoved(),
    onFatal: (error) => onFatal(error),
    browserLearners: !!config.browserLearners,
    valueCacheBytes: config.valueCacheBytes,
    metrics,
    diskSize: () => directorySize(memberDir),
    ...(config.corruptCheckTimeMs ? { corruptCheckIntervalMs: config.corruptCheckTimeMs } : {}),
    ...(config.watchProgressNotifyIntervalMs !== undefined
      ? { watchProgressNotifyIntervalMs: config.watchProgressNotifyIntervalMs }
      : {}),
    promoteViaLeader: (leader, id) => {
      const url = nodeRef?.nodeStatus().members.find((m) => m.ID === leader)?.peerURLs[0];
      if (!url) return Promise.reject(new Error('etcdserver: no leader'));
      return promoteViaLeader(url, id, tls.peerClient);
    },
  });
  nodeRef = node;
  startIdleCollection(memberMayPause(() => node.serving().leader === node.id, config.electionTimeoutMs));
  metrics.attach(node, transport);
  if (config.initialCorruptCheck) {
    // etcd runs it before serving clients; a member whose data differs from its peers' does not start.
    try {
      await checkInitialHashKV(node, {
        logger,
        timeoutMs: 5000 + 2 * config.electionTimeoutMs,
        tls: tls.peerClient,
      });
    } catch (error) {
      await node.close();
      throw error;
    }
  }
  const stopWatch = watchForRemoval(node, () => onRemoved(), {
    intervalMs: Math.max(1000, 3 * config.electionTimeoutMs),
    logger,
    tls: tls.peerClient,
  });
  // A member joining an existing cluster learns its peers from the log; until then it knows those given.
  for (const m of peers) if (m.id !== memberId) transport.addPeer(m.id, m.url);
  // Every --listen-client-urls URL is served (etcd: one listener each): http(s)://host:port, and unix://NAME
  // (unixs:// with TLS), a Unix socket named NAME in the working directory, as etcd names it.
  const gateway = createGateway(node, {
    maxRequestBytes: config.maxRequestBytes,
    extraMetrics: () => metrics.text(),
  });
  const servers: Awaited<ReturnType<typeof startClientServer>>[] = [];
  try {
    for (const [i, url] of config.listenClientUrls.entries()) {
      const secure = /^(https|unixs):/.test(url);
      const where = clientAddress(url);
      servers.push(
        await startClientServer({
          node,
          listener: listeners[i],
          gateway,
          maxRequestBytes: config.maxRequestBytes,
          maxConcurrentStreams: config.maxConcurrentStreams,
          keepalive: {
            minTimeMs: config.grpcKeepaliveMinTimeMs,
            intervalMs: config.grpcKeepaliveIntervalMs,
            timeoutMs: config.grpcKeepaliveTimeoutMs,
          },
          logger,
          ...(secure && tls.client ? { tls: tls.client } : {}),
          metrics,
        }),
      );
      logger.info('serving client requests', {
        name: config.name,
        ...ids,
        client: 'path' in where ? url : `${where.host}:${servers.at(-1)?.port}`,
        peer: `${peer.host}:${peer.port}`,
      });
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    await node.close();
    throw error;
  }
  // etcd --listen-metrics-urls: /metrics and /health on listeners of their own.
  try {
    for (const url of config.listenMetricsUrls ?? []) {
      const m = await serveMetricsUrl(url, (request) => gateway(request), tls.client);
      servers.push(m);
      logger.info('serving metrics', { url, port: m.port });
    }
  } catch (error) {
    await Promise.all(servers.map((s) => s.close()));
    await node.close();
    throw error;
  }
  const server = servers[0];
  // Every further --listen-peer-urls URL: its connections go to the same transport (the first one it binds itself).
  const peerListeners: Server[] = [];
  for (const url of config.listenPeerUrls.slice(1)) {
    const extra = hostPort(url);
    const listener = createServer((socket) => transport.takeConnection(socket));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(extra.port, extra.host, () => resolve());
    });
    peerListeners.push(listener);
    logger.info('serving peer traffic', { peer: `${extra.host}:${extra.port}` });
  }

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const status = node.nodeStatus();
      if (status.role === 'leader') {
        // Like etcd on SIGTERM: hand leadership to the most caught-up voter before leaving.
        const target = status.members.find((m) => m.ID !== memberId && !m.isLearner);
        if (target) {
          try {
            await node.moveLeader({ targetID: target.ID });
            logger.info('transferred leadership before stopping', { to: target.ID.toString(16) });
          } catch (e) {
            logger.warn('leadership transfer before stopping failed', { error: String(e) });
          }
        }
      }
      stopWatch();
      for (const l of peerListeners) l.close();
      await Promise.all(servers.map((s) => s.close()));
      await node.close();
      logger.info('stopped', { name: config.name });
    })();
    return stopping;
  };
  return { node, memberId, clusterId, clientPort: server.port, stop, removed, failed };
}
