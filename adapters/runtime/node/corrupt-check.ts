// etcd's initial corruption check (--experimental-initial-corrupt-check, etcdserver/corrupt.go): before a member
// serves clients it hashes its own keyspace at its current revision and asks every peer, on the peer port, for
// its hash at that revision (GET /members/hashkv with a JSON HashKVRequest body, as etcd 3.4 does). A peer with
// the same compact revision and a different hash means this member's data is not the cluster's: it refuses to
// start ("found data inconsistency with peers"). A peer that cannot answer, is behind, or compacted differently
// is logged and skipped, as in etcd.

import http from 'node:http';
import https from 'node:https';
import type { ConnectionOptions } from 'node:tls';
import type { Logger } from '../../../src/env.ts';
import { EtcdError } from '../../../src/etcd/errors.ts';
import type { EdgeNode } from '../../../src/server/node.ts';
import { CLUSTER_ID_HEADER } from './join.ts';

export const PEER_HASHKV_PATH = '/members/hashkv';

/** mvcc's error text without the gRPC layer's `etcdserver: ` prefix, as Go's mvcc.ErrCompacted.Error() reads. */
const mvccText = (e: EtcdError) => e.message.replace(/^etcdserver: /, '');

/** The peer port's GET /members/hashkv (etcd's hashKVHandler); true when it took the request. */
export function peerHashKVRoute(getNode: () => EdgeNode | undefined) {
  return (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
    if (new URL(req.url ?? '/', 'http://peer').pathname !== PEER_HASHKV_PATH) return false;
    const node = getNode();
    /** Go's http.Error: the text and a newline; true (the route took the request). */
    const text = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`${body}\n`);
      return true;
    };
    if (!node) return text(503, 'not ready');
    if (req.method !== 'GET') return text(405, 'Method Not Allowed', { allow: 'GET' });
    const cid = req.headers[CLUSTER_ID_HEADER.toLowerCase()];
    if (typeof cid === 'string' && cid !== '' && cid !== node.clusterId.toString(16)) {
      return text(412, 'cluster ID mismatch');
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= 4096) chunks.push(c);
    });
    req.on('end', () => {
      let revision = 0;
      try {
        const body = Buffer.concat(chunks).toString('utf8');
        const parsed = body.trim() === '' ? {} : (JSON.parse(body) as { revision?: unknown });
        revision = Number(parsed.revision ?? 0);
        if (size > 4096 || !Number.isSafeInteger(revision)) throw new Error('bad revision');
      } catch {
        text(400, 'error unmarshalling request');
        return;
      }
      try {
        const r = node.peerHashKV(revision);
        res
          .writeHead(200, {
            'content-type': 'application/json',
            [CLUSTER_ID_HEADER]: node.clusterId.toString(16),
          })
          .end(
            JSON.stringify({
              header: { revision: r.header.revision },
              hash: r.hash,
              compact_revision: r.compactRevision,
            }),
          );
      } catch (e) {
        text(400, e instanceof EtcdError ? mvccText(e) : String(e));
      }
    });
    return true;
  };
}

interface PeerHash {
  readonly revision: number;
  readonly hash: number;
  readonly compactRevision: number;
}

/** GET <peerURL>/members/hashkv with a body, which fetch cannot send; https:// with the peer TLS options. */
function getPeerHash(
  peerURL: string,
  clusterId: bigint,
  revision: number,
  timeoutMs: number,
  tls?: ConnectionOptions,
): Promise<PeerHash> {
  const url = new URL(PEER_HASHKV_PATH, peerURL);
  const body = JSON.stringify({ revision });
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      url,
      {
        ...(secure ? tls : {}),
        method: 'GET',
        agent: false,
        timeout: timeoutMs,
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          [CLUSTER_ID_HEADER]: clusterId.toString(16),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) return reject(new Error(text.trim() || `HTTP ${res.statusCode}`));
          try {
            const j = JSON.parse(text) as {
              header?: { revision?: number };
              hash?: number;
              compact_revision?: number;
            };
            resolve({
              revision: j.header?.revision ?? 0,
              hash: j.hash ?? 0,
              compactRevision: j.compact_revision ?? 0,
            });
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * etcd's CheckInitialHashKV. Waits until the member has applied what its own log says is committed (its keyspace
 * is then what it had when it stopped), then compares. Throws when a peer with the same compact revision has a
 * different hash.
 */
export async function checkInitialHashKV(
  node: EdgeNode,
  options: { readonly logger: Logger; readonly timeoutMs: number; readonly tls?: ConnectionOptions },
): Promise<void> {
  const { logger, timeoutMs } = options;
  const self = node.id.toString(16);
  logger.info('starting initial corruption check', { 'local-member-id': self, timeout: `${timeoutMs}ms` });
  const committed = node.nodeStatus().commit;
  const deadline = Date.now() + timeoutMs;
  while (node.nodeStatus().applied < committed && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const local = node.peerHashKV(0);
  const rev = local.header.revision;
  const crev = local.compactRevision;
  const h = local.hash;
  const fields = {
    'local-member-id': self,
    'local-member-revision': rev,
    'local-member-compact-revision': crev,
    'local-member-hash': h,
  };
  let mismatch = 0;
  for (const m of node.nodeStatus().members) {
    if (m.ID === node.id || m.peerURLs.length === 0) continue;
    let answer: PeerHash | undefined;
    let lastError = '';
    for (const url of m.peerURLs) {
      try {
        answer = await getPeerHash(url, node.clusterId, rev, timeoutMs, options.tls);
        break;
      } catch (e) {
        lastError = (e as Error).message;
        logger.warn('failed hash kv request', {
          'local-member-id': self,
          'requested-revision': rev,
          'remote-peer-endpoint': url,
          error: lastError,
        });
      }
    }
    const peer = { 'remote-peer-id': m.ID.toString(16), 'remote-peer-endpoints': m.peerURLs };
    if (!answer) {
      if (lastError.includes('required revision is a future revision')) {
        logger.warn('cannot fetch hash from slow remote peer', { ...fields, ...peer });
      } else if (lastError.includes('required revision has been compacted')) {
        logger.warn('cannot fetch hash from remote peer; local member is behind', { ...fields, ...peer });
      } else if (lastError.includes('cluster ID mismatch')) {
        logger.warn('cluster ID mismatch', { ...fields, ...peer });
      }
      continue;
    }
    if (answer.hash === h) continue;
    const remote = {
      ...peer,
      'remote-peer-revision': answer.revision,
      'remote-peer-compact-revision': answer.compactRevision,
      'remote-peer-hash': answer.hash,
    };
    if (answer.compactRevision === crev) {
      logger.warn('found different hash values from remote peer', { ...fields, ...remote });
      mismatch++;
    } else {
      logger.warn('found different compact revision values from remote peer', { ...fields, ...remote });
    }
  }
  if (mismatch > 0) throw new Error(`${self} found data inconsistency with peers`);
  logger.info('initial corruption checking passed; no corruption', { 'local-member-id': self });
}
