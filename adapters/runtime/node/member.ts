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

export interface RunningMember {
  readonly node: EdgeNode;
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly clientPort: number;
  /** Graceful stop: hand leadership over if we lead, finish, sync, close. */
  stop(): Promise<void>;
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
  const memberId = self.id;
  const clusterId = computeClusterId(members.map((m) => m.id));
  const storage = await FileWalStorage.open(join(config.dataDir, 'member'), { logger });
  const peer = hostPort(config.listenPeerUrls[0]);
  const transport = new TcpTransport({ clusterId, memberId, listen: peer, logger });
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
    snapshotCount: config.snapshotCount,
    maxRequestBytes: config.maxRequestBytes,
    maxTxnOps: config.maxTxnOps,
    raft: { snapshotCatchUpEntries: config.snapshotCatchUpEntries },
    autoCompaction: parseAutoCompaction(config.autoCompactionMode, config.autoCompactionRetention),
  });
  // A member joining an existing cluster learns its peers from the log; until then it knows those given.
  for (const m of members) if (m.id !== memberId) transport.addPeer(m.id, m.peerURLs[0]);
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
      await server.close();
      await node.close();
      logger.info('stopped', { name: config.name });
    })();
    return stopping;
  };
  return { node, memberId, clusterId, clientPort: server.port, stop };
}
