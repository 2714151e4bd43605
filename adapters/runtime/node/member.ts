// One edgecd member as a Node process: file WAL storage under --data-dir, TCP peers on the peer URL, and etcd's
// gRPC API plus the HTTP/JSON gateway on the client URL (one port, like etcd).

import { join } from 'node:path';
import { createGateway } from '../../../src/api/gateway/index.ts';
import { cryptoRandom, type Logger } from '../../../src/env.ts';
import { parseAutoCompaction } from '../../../src/server/auto-compaction.ts';
import { createNode, type EdgeNode } from '../../../src/server/node.ts';
import type { BootstrapMember } from '../../../src/server/replica.ts';
import { FileWalStorage } from '../../storage/file-wal/index.ts';
import { TcpTransport } from '../../transport/tcp/index.ts';
import { RealClock } from '../clock.ts';
import { startClientServer } from './client-server.ts';
import { computeClusterId, computeMemberId, hostPort, type MemberConfig } from './config.ts';
import { peerMembershipRoutes, promoteViaLeader, resolveExistingMember, watchForRemoval } from './join.ts';

export interface RunningMember {
  readonly node: EdgeNode;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly clientPort: number;
  /** Graceful stop: hand leadership over if we lead, finish, sync, close. */
  stop(): Promise<void>;
  /** Resolves when this member has applied its own removal (etcd then stops the process). */
  readonly removed: Promise<void>;
}

export async function startMember(config: MemberConfig, logger: Logger): Promise<RunningMember> {
  const token = config.initialClusterToken;
  const members: BootstrapMember[] = [...config.initialCluster].map(([name, peerURLs]) => ({
    id: computeMemberId(peerURLs, token),
    name,
    peerURLs,
  }));
  const self = members.find((m) => m.name === config.name);
  if (!self) {
    throw new Error(`couldn't find local name "${config.name}" in the initial cluster configuration`);
  }
  let memberId = self.id;
  let clusterId = computeClusterId(members.map((m) => m.id));
  // Joining (etcd: --initial-cluster-state existing): the ID MemberAdd chose and the cluster ID come from the
  // cluster itself (GET /members on the other members' peer URLs), and so do the other members' IDs.
  let peers = members.map((m) => ({ id: m.id, url: m.peerURLs[0] }));
  if (config.initialClusterState === 'existing') {
    const joined = await resolveExistingMember(config);
    memberId = joined.memberId;
    clusterId = joined.clusterId;
    peers = joined.members
      .filter((m) => m.peerURLs.length > 0)
      .map((m) => ({ id: m.ID, url: m.peerURLs[0] }));
    logger.info('joining an existing cluster', {
      memberId: memberId.toString(16),
      clusterId: clusterId.toString(16),
    });
  }
  let nodeRef: EdgeNode | undefined;
  let onRemoved = () => {};
  const removed = new Promise<void>((resolve) => {
    onRemoved = resolve;
  });
  const storage = await FileWalStorage.open(join(config.dataDir, 'member'), { logger });
  const peer = hostPort(config.listenPeerUrls[0]);
  const transport = new TcpTransport({
    clusterId,
    memberId,
    listen: peer,
    logger,
    onHttpRequest: peerMembershipRoutes(() => nodeRef),
  });
  const clock = new RealClock();
  const node = await createNode({
    id: memberId,
    name: config.name,
    clusterId,
    members: config.initialClusterState === 'new' ? members : undefined,
    clientURLs: config.advertiseClientUrls,
    storage,
    transport,
    clock,
    random: cryptoRandom,
    logger,
    tickMs: config.heartbeatIntervalMs,
    electionTimeoutMs: config.electionTimeoutMs,
    // etcd: 0 means the 2 GiB default.
    quotaBytes: config.quotaBackendBytes,
    snapshotCount: config.snapshotCount,
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    raft: { snapshotCatchUpEntries: config.snapshotCatchUpEntries },
    autoCompaction: parseAutoCompaction(config.autoCompactionMode, config.autoCompactionRetention),
    strictReconfigCheck: config.strictReconfigCheck,
    onRemoved: () => onRemoved(),
    promoteViaLeader: (leader, id) => {
      const url = nodeRef?.nodeStatus().members.find((m) => m.ID === leader)?.peerURLs[0];
      if (!url) return Promise.reject(new Error('etcdserver: no leader'));
      return promoteViaLeader(url, id);
    },
  });
  nodeRef = node;
  const stopWatch = watchForRemoval(node, () => onRemoved(), {
    intervalMs: Math.max(1000, 3 * config.electionTimeoutMs),
    logger,
  });
  // A member joining an existing cluster learns its peers from the log; until then it knows those given.
  for (const m of peers) if (m.id !== memberId) transport.addPeer(m.id, m.url);
  const client = hostPort(config.listenClientUrls[0]);
  const server = await startClientServer({
    node,
    host: client.host,
    port: client.port,
    gateway: createGateway(node, { maxRequestBytes: config.maxRequestBytes }),
    maxRequestBytes: config.maxRequestBytes,
    logger,
  });
  logger.info('serving client requests', {
    name: config.name,
    memberId: memberId.toString(16),
    clusterId: clusterId.toString(16),
    client: `${client.host}:${server.port}`,
    peer: `${peer.host}:${peer.port}`,
  });

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
      await server.close();
      await node.close();
      logger.info('stopped', { name: config.name });
    })();
    return stopping;
  };
  return { node, memberId, clusterId, clientPort: server.port, stop, removed };
}
