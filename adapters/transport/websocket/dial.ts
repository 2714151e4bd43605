// Dialing a Node member's peer port over WebSocket from Node (the `ws` package): ws://host:port/edgecd/peer, the
// peer protocol's byte stream in binary messages (../peer/node/ws-stream.ts).

import WebSocket from 'ws';
import { webSocketStream } from '../peer/node/ws-stream.ts';
import { PEER_WEBSOCKET_PATH } from '../peer/routes.ts';
import type { PeerAddress, PeerDialer } from '../peer/stream.ts';

export interface WebSocketDialerOptions {
  /** Largest WebSocket message accepted (the acceptor only sends its handshake reply). */
  readonly maxPayload?: number;
  readonly path?: string;
}

/** Dials peers at ws://host:port/edgecd/peer. */
export function webSocketDialer(options: WebSocketDialerOptions = {}): PeerDialer {
  return ({ host, port }: PeerAddress) => {
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const ws = new WebSocket(`ws://${hostPart}:${port}${options.path ?? PEER_WEBSOCKET_PATH}`, {
      perMessageDeflate: false,
      maxPayload: options.maxPayload ?? 64 * 1024,
    });
    return webSocketStream(ws, `${host}:${port}`);
  };
}
