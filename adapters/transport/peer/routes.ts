// Where a peer is reached: the forms a peer address takes (TCP host:port, an HTTP batch URL, a member that cannot
// be dialed) and the paths a Node member's peer port serves beside TCP frames. Browser-safe.

import type { PeerAddress } from './stream.ts';

/** The path on the peer port that upgrades to the peer protocol over WebSocket. */
export const PEER_WEBSOCKET_PATH = '/edgecd/peer';
/** Where a member that takes peer batches over HTTP serves them (POST, msgpack body and reply; ./batch.ts). */
export const PEER_FETCH_PATH = '/edgecd/peer/batch';
export const PEER_CONTENT_TYPE = 'application/vnd.edgecd.peer+msgpack';
/**
 * The cluster's shared peer secret, when one is configured (Node --experimental-peer-secret, the Worker's
 * EDGECD_PEER_SECRET): HTTP batches carry it and receivers refuse a batch without it. Members that cannot present
 * a peer certificate (Durable Objects) prove membership this way.
 */
export const PEER_SECRET_HEADER = 'x-edgecd-peer-secret';

/** The address scheme of a peer that cannot be dialed: it connects to us and we answer on its connection. */
export const BROWSER_ADDRESS_PREFIX = 'browser:';

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

/** Whether `address` names an HTTP batch endpoint (a member behind a Worker; see httpBatchUrl). */
export function isHttpBatchAddress(address: string): boolean {
  return httpBatchUrl(address) !== undefined;
}

/** `http://host:port` (etcd's peer URL), `ws://host:port`, `tcp://host:port` or `host:port`; IPv6 in brackets. */
export function parsePeerAddress(address: string): PeerAddress {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `tcp://${address}`);
  if (!['http:', 'https:', 'ws:', 'tcp:'].includes(url.protocol)) {
    throw new Error(`unsupported peer URL scheme in ${address} (want http(s)://host:port or host:port)`);
  }
  const tls = url.protocol === 'https:';
  // URL elides a scheme's default port.
  const port = url.port === '' && url.protocol !== 'tcp:' ? (tls ? 443 : 80) : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`peer address ${address} needs a host and a port`);
  }
  return tls ? { host, port, tls } : { host, port };
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
