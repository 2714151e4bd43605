// etcd's membership workflow on the peer port, as etcd 3.4 serves it (etcdserver/api/etcdhttp/peer.go):
//   GET  /members               the member list (JSON, IDs as uint64 numbers) and X-Etcd-Cluster-ID (hex):
//                               a member started with --initial-cluster-state existing learns its ID and the
//                               cluster ID there, picking the member whose peer URLs match its own.
//   POST /members/promote/<id>  a follower forwards MemberPromote to the leader, which checks the learner is in
//                               sync and proposes it (etcd answers 412 when it is not).
// The member ID and cluster ID found at the first join are kept in the data dir (etcd keeps them in its WAL), so
// a restart does not need the other members. https:// peer URLs are reached with the peer TLS options (etcd's
// --peer-trusted-ca-file to check the server, --peer-cert-file/--peer-key-file as the client certificate).

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { EtcdError } from '../../../src/etcd/errors.ts';
import type { Member } from '../../../src/etcd/types.ts';
import { CLUSTER_ID_HEADER, membersJson, parseMembersJson } from '../../../src/server/members-json.ts';
import type { EdgeNode } from '../../../src/server/node.ts';
import type { MemberConfig } from './config.ts';

export { CLUSTER_ID_HEADER, membersJson, parseMembersJson } from '../../../src/server/members-json.ts';

export const JOIN_FILE = 'join.json';

/** The peer port's membership routes; returns true when it took the request. */
export function peerMembershipRoutes(
  getNode: () => EdgeNode | undefined,
): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://peer').pathname;
    const node = getNode();
    if (path === '/members') {
      if (!node) {
        res.writeHead(503).end();
        return true;
      }
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end('Method Not Allowed');
        return true;
      }
      res
        .writeHead(200, {
          'content-type': 'application/json',
          [CLUSTER_ID_HEADER]: node.clusterId.toString(16),
        })
        .end(`${membersJson(node.nodeStatus().members)}\n`);
      return true;
    }
    const promote = /^\/members\/promote\/([0-9]+)$/.exec(path);
    if (promote) {
      req.resume();
      if (!node) {
        res.writeHead(503).end();
        return true;
      }
      if (req.method !== 'POST') {
        res.writeHead(405, { allow: 'POST' }).end('Method Not Allowed');
        return true;
      }
      const id = BigInt(promote[1]);
      // Only the leader checks and proposes; a follower that got this (leadership moved) says so.
      if (node.nodeStatus().role !== 'leader') {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('etcdserver: not leader');
        return true;
      }
      node.memberPromote({ ID: id }).then(
        (r) => {
          res
            .writeHead(200, {
              'content-type': 'application/json',
              [CLUSTER_ID_HEADER]: node.clusterId.toString(16),
            })
            .end(`${membersJson(r.members)}\n`);
        },
        (e: unknown) => {
          const message = e instanceof Error ? e.message : String(e);
          const status = e instanceof EtcdError && e.codeName === 'NotFound' ? 404 : 412;
          res.writeHead(status, { 'content-type': 'text/plain' }).end(message);
        },
      );
      return true;
    }
    return false;
  };
}

/**
 * An HTTP request to a member's peer port: the global fetch for http://, node:https with the peer TLS options for
 * https:// (fetch cannot take a CA or client certificate on Node 20 without undici).
 */
export async function peerFetch(
  url: URL,
  init: { readonly method?: string; readonly timeoutMs: number; readonly tls?: ConnectionOptions },
): Promise<Response> {
  if (url.protocol !== 'https:') {
    return fetch(url, { method: init.method ?? 'GET', signal: AbortSignal.timeout(init.timeoutMs) });
  }
  return new Promise<Response>((resolve, reject) => {
    const req = httpsRequest(
      url,
      { ...init.tls, method: init.method ?? 'GET', agent: false, timeout: init.timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (typeof v === 'string') headers.set(k, v);
            else if (Array.isArray(v)) for (const x of v) headers.append(k, x);
          }
          const body = Buffer.concat(chunks);
          const status = res.statusCode ?? 500;
          const nullBody = status === 204 || status === 304 || body.length === 0;
          resolve(new Response(nullBody ? null : body, { status, headers }));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('The operation was aborted due to timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** Asks the leader (by its peer URL) to promote learner `id`; rejects with etcd's error when it refuses. */
export async function promoteViaLeader(
  leaderPeerURL: string,
  id: bigint,
  tls?: ConnectionOptions,
): Promise<void> {
  const r = await peerFetch(new URL(`/members/promote/${id.toString()}`, leaderPeerURL), {
    method: 'POST',
    timeoutMs: 10_000,
    tls,
  });
  if (r.ok) return;
  const text = (await r.text()).trim();
  throw EtcdError.fromMessage(text) ?? new EtcdError('Unavailable', text || `promote: HTTP ${r.status}`);
}

export interface JoinIdentity {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** The members as the cluster listed them (real IDs, for dialing the leader before the log is applied). */
  readonly members: readonly Member[];
}

/**
 * --initial-cluster-state existing: this member's ID and the cluster ID, from the data dir if it joined before,
 * else from the other members' GET /members (the member whose peer URLs match ours).
 */
export async function resolveExistingMember(
  config: MemberConfig,
  opts: { timeoutMs?: number; retryMs?: number; tls?: ConnectionOptions } = {},
): Promise<JoinIdentity> {
  const dir = join(config.dataDir, 'member');
  const file = join(dir, JOIN_FILE);
  if (existsSync(file)) {
    const d = JSON.parse(readFileSync(file, 'utf8')) as {
      memberId: string;
      clusterId: string;
      members?: string;
    };
    return {
      memberId: BigInt(`0x${d.memberId}`),
      clusterId: BigInt(`0x${d.clusterId}`),
      members: d.members ? parseMembersJson(d.members) : [],
    };
  }
  const own = config.initialCluster.get(config.name);
  if (!own) {
    throw new Error(`couldn't find local name "${config.name}" in the initial cluster configuration`);
  }
  const ownURLs = new Set([...own, ...config.initialAdvertisePeerUrls]);
  const others = [...config.initialCluster]
    .filter(([name]) => name !== config.name)
    .flatMap(([, urls]) => urls);
  if (others.length === 0) {
    throw new Error('cannot join an existing cluster: --initial-cluster names no other member');
  }
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  const errorsSeen: string[] = [];
  for (;;) {
    for (const url of others) {
      let members: Member[];
      let clusterHex: string | null;
      try {
        const r = await peerFetch(new URL('/members', url), { timeoutMs: 2000, tls: opts.tls });
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        clusterHex = r.headers.get(CLUSTER_ID_HEADER);
        members = parseMembersJson(await r.text());
      } catch (e) {
        errorsSeen.push(`${url}: ${(e as Error).message}`);
        continue;
      }
      if (!clusterHex) {
        errorsSeen.push(`${url}: no ${CLUSTER_ID_HEADER}`);
        continue;
      }
      const self = members.find((m) => m.peerURLs.some((u) => ownURLs.has(u)));
      if (!self) {
        throw new Error(
          `error validating peerURLs: member with peer URLs ${[...ownURLs].join(',')} is not in the cluster ` +
            `(add it first: etcdctl member add ${config.name} --peer-urls=${own.join(',')})`,
        );
      }
      if (self.name !== '' && self.name !== config.name) {
        throw new Error(
          `member ${self.ID.toString(16)} with peer URLs ${self.peerURLs.join(',')} is named "${self.name}", not "${config.name}"`,
        );
      }
      const identity = { memberId: self.ID, clusterId: BigInt(`0x${clusterHex}`), members };
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        file,
        JSON.stringify({
          memberId: identity.memberId.toString(16),
          clusterId: identity.clusterId.toString(16),
          members: membersJson(members),
        }),
      );
      return identity;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `cannot fetch cluster info from peer urls: could not retrieve cluster information from the given URLs (${errorsSeen.slice(-others.length).join('; ')})`,
      );
    }
    await new Promise((r) => setTimeout(r, opts.retryMs ?? 500));
  }
}

/**
 * The fallback for a removed member that never learned the commit of its own removal (the leader stops talking to
 * it): while it has no leader, it asks the other members' GET /members; when every one that answers for our
 * cluster leaves it out, it was removed (etcd learns the same from its peers' 410 Gone). Returns a stop function.
 */
export function watchForRemoval(
  node: EdgeNode,
  onRemoved: () => void,
  opts: {
    intervalMs: number;
    logger?: { warn(msg: string, fields?: object): void };
    tls?: ConnectionOptions;
  },
): () => void {
  let busy = false;
  let leaderless = 0;
  const timer = setInterval(async () => {
    if (busy) return;
    const status = node.nodeStatus();
    if (status.leader !== 0n) {
      leaderless = 0;
      return;
    }
    // Two intervals in a row without a leader before asking (elections are normal).
    if (++leaderless < 2) return;
    busy = true;
    try {
      const urls = status.members.filter((m) => m.ID !== node.id).flatMap((m) => m.peerURLs.slice(0, 1));
      let answered = 0;
      let listed = false;
      await Promise.all(
        urls.map(async (url) => {
          try {
            const r = await peerFetch(new URL('/members', url), { timeoutMs: 1000, tls: opts.tls });
            if (!r.ok || r.headers.get(CLUSTER_ID_HEADER) !== node.clusterId.toString(16)) return;
            const members = parseMembersJson(await r.text());
            answered++;
            if (members.some((m) => m.ID === node.id)) listed = true;
          } catch {
            // unreachable: says nothing
          }
        }),
      );
      if (answered > 0 && !listed && answered * 2 > urls.length) {
        opts.logger?.warn('the other members no longer list this member', { answered });
        clearInterval(timer);
        onRemoved();
      }
    } finally {
      busy = false;
    }
  }, opts.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
