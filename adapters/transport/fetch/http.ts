// Peer batches over HTTP: the route a member serves them on, the peer secret that guards it, and a PeerDeliver that
// POSTs batches (for Durable Objects and Workers calling Node members or members behind a Worker).

import { decodeReply, type PeerDeliver } from './batch.ts';

/** Where a member that takes peer batches over HTTP serves them (POST, msgpack body and reply). */
export const PEER_FETCH_PATH = '/edgecd/peer/batch';
export const PEER_CONTENT_TYPE = 'application/vnd.edgecd.peer+msgpack';
/**
 * The cluster's shared peer secret, when one is configured (Node --experimental-peer-secret, the Worker's
 * EDGECD_PEER_SECRET): HTTP batches carry it and receivers refuse a batch without it. Members that cannot present
 * a peer certificate (Durable Objects) prove membership this way.
 */
export const PEER_SECRET_HEADER = 'x-edgecd-peer-secret';

/**
 * The URL to POST a peer batch to, for a peer address that takes HTTP batches, else undefined (a Node member's
 * `http://host:port` takes TCP frames; it also serves `PEER_FETCH_PATH`). Two forms name a member behind a Worker:
 *   `https://edgecd.example.workers.dev?member=do-1`   what `etcdctl member add --peer-urls` accepts (etcd refuses
 *                                                       a peer URL with a path, not one with a query);
 *   `https://edgecd.example.workers.dev/edgecd/peer/do-1` the route itself; both are POSTed to the latter.
 */
export function httpBatchUrl(address: string): string | undefined {
  const m = /^(https?:\/\/[^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(address.trim());
  if (!m) return undefined;
  const [, origin, path = '', query = ''] = m;
  if (path.startsWith('/edgecd/peer/') && path.length > '/edgecd/peer/'.length) return `${origin}${path}`;
  const member = new URLSearchParams(query).get('member');
  if (member && (path === '' || path === '/')) return `${origin}/edgecd/peer/${encodeURIComponent(member)}`;
  return undefined;
}

/** Compares a presented secret with the configured one in time independent of where they differ. */
export function peerSecretMatches(
  expected: string | undefined,
  presented: string | null | undefined,
): boolean {
  if (expected === undefined || expected === '') return true;
  if (typeof presented !== 'string') return false;
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(presented);
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ (b[i % Math.max(1, b.length)] ?? 0);
  return diff === 0;
}

/**
 * A PeerDeliver over HTTP: POSTs the batch to a member behind a Worker at its batch URL (httpBatchUrl), and
 * otherwise (a Node member's `http://host:port`) to `${address}${PEER_FETCH_PATH}`; with the peer secret when one
 * is given.
 */
export function httpDeliver(fetchFn: typeof fetch = fetch, timeoutMs = 5000, secret?: string): PeerDeliver {
  return async (address, body) => {
    const url = httpBatchUrl(address) ?? `${address.replace(/\/+$/, '')}${PEER_FETCH_PATH}`;
    const headers: Record<string, string> = { 'content-type': PEER_CONTENT_TYPE };
    if (secret) headers[PEER_SECRET_HEADER] = secret;
    const res = await fetchFn(url, {
      method: 'POST',
      headers,
      body: body as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const reply = new Uint8Array(await res.arrayBuffer());
    // A Node member's peer port (../tcp) answers an accepted batch with 204 and no body.
    if (res.status === 204) return { ok: true };
    if (!res.ok) {
      const refusal = reply.length > 0 ? decodeReply(reply) : undefined;
      if (refusal && !refusal.ok && refusal.reason !== 'undecodable reply') return refusal;
      return { ok: false, code: 'malformed', reason: `HTTP ${res.status}` };
    }
    return decodeReply(reply);
  };
}
