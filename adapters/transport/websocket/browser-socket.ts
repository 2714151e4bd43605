// How a browser reaches a Node member's peer port: the URL it dials and the part of the WHATWG WebSocket it uses.
// Browser-safe: no Node APIs.

import { PEER_WEBSOCKET_PATH } from '../peer/routes.ts';

/** The path on a Node member's peer port that upgrades to the peer protocol. */
export const BROWSER_PEER_PATH = PEER_WEBSOCKET_PATH;

/** The part of the WHATWG WebSocket this transport uses. */
export interface WebSocketLike {
  binaryType: string;
  readonly bufferedAmount: number;
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

/** WebSocket.OPEN */
export const OPEN = 1;

/** ws://host:port/edgecd/peer for `ws://host:port`, `http://host:port` (etcd's peer URL) or wss/https. */
export function browserPeerUrl(address: string): string | undefined {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return undefined;
  }
  const scheme = { 'ws:': 'ws:', 'http:': 'ws:', 'wss:': 'wss:', 'https:': 'wss:' }[url.protocol];
  if (!scheme || !url.host) return undefined;
  // A member behind a Worker (`…?member=<name>`, `…/edgecd/peer/<name>`) takes HTTP batches only.
  if (url.searchParams.has('member') || /^\/edgecd\/peer\/./.test(url.pathname)) return undefined;
  const path = url.pathname === '/' || url.pathname === '' ? BROWSER_PEER_PATH : url.pathname;
  return `${scheme}//${url.host}${path}`;
}

/** Closes `ws` after detaching every handler, so that its last events reach no link. */
export function closeQuietly(ws: WebSocketLike): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
  try {
    ws.close(1000);
  } catch {}
}
