// The HTTP side of a Node member's peer port: POST PEER_FETCH_PATH takes HTTP batches (../batch.ts), an upgrade to
// PEER_WEBSOCKET_PATH becomes a peer connection over WebSocket, the caller's routes (etcd's GET /members) come
// next, anything else gets a 404.

import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Logger } from '../../../../src/env.ts';
import { type DeliveryReply, decodeBatch, encodeReply } from '../batch.ts';
import type { AcceptContext } from '../inbound.ts';
import {
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
  PEER_SECRET_HEADER,
  PEER_WEBSOCKET_PATH,
  peerSecretMatches,
} from '../routes.ts';
import type { PeerStream } from '../stream.ts';
import { formatId } from '../wire.ts';
import { webSocketStream } from './ws-stream.ts';

/** What serving batches needs from the transport. */
export interface BatchRoute {
  readonly logger: Logger;
  readonly maxFrameBytes: number;
  /** Required of every batch when set. */
  readonly peerSecret?: string;
  /** Delivers one batch body; the status and reply body (none for 204). */
  receiveBatch(body: Uint8Array): { status: number; body?: Uint8Array };
}

/** What the peer port's HTTP server needs from the transport. */
export interface PeerHttpContext extends BatchRoute {
  /** Whether the transport closed: upgrades are then refused. */
  closed(): boolean;
  /** A WebSocket peer connection (it starts with the peer preamble). */
  acceptPeerStream(stream: PeerStream): void;
  readonly onHttpRequest?: (req: IncomingMessage, res: ServerResponse) => boolean;
}

/** Checks a batch body as a handshake is checked (version, cluster, target, a current peer), then delivers it whole. */
export function acceptBatch(ctx: AcceptContext, body: Uint8Array): DeliveryReply {
  const batch = decodeBatch(body, { clusterId: ctx.clusterId, id: ctx.memberId });
  if (!batch.ok) {
    ctx.logger.warn('refusing a peer batch', { code: batch.code, reason: batch.reason });
    return batch;
  }
  if (!ctx.isPeer(batch.from)) {
    const reason = `member ${formatId(batch.from)} is not a peer of this member (unknown or removed)`;
    ctx.logger.warn('refusing a peer batch', { code: 'member', reason });
    return { ok: false, code: 'member', reason };
  }
  let bytes = body.length;
  for (const message of batch.messages) {
    ctx.deliver(message, batch.from, bytes);
    bytes = 0;
  }
  return { ok: true };
}

/** The HTTP status and body that answer a batch: 204 when delivered, else the refusal. */
export function batchResponse(reply: DeliveryReply): { status: number; body?: Uint8Array } {
  if (reply.ok) return { status: 204 };
  const status =
    reply.code === 'cluster' || reply.code === 'member'
      ? 403
      : reply.code === 'target'
        ? 421
        : reply.code === 'closed'
          ? 503
          : 400;
  return { status, body: encodeReply(reply) };
}

/** Serves `POST PEER_FETCH_PATH` on a node:http request. */
export function serveBatchRequest(route: BatchRoute, req: IncomingMessage, res: ServerResponse): void {
  const respond = (status: number, body?: Uint8Array) => {
    if (res.headersSent) return;
    if (!body) res.writeHead(status).end();
    else res.writeHead(status, { 'content-type': PEER_CONTENT_TYPE }).end(body);
  };
  if (req.method !== 'POST') {
    respond(405, encodeReply({ ok: false, code: 'malformed', reason: 'POST only' }));
    req.resume();
    return;
  }
  if (!peerSecretMatches(route.peerSecret, req.headers[PEER_SECRET_HEADER] as string | undefined)) {
    route.logger.warn('refusing a peer batch', { code: 'member', reason: 'missing or wrong peer secret' });
    res.setHeader('connection', 'close');
    respond(403, encodeReply({ ok: false, code: 'member', reason: 'missing or wrong peer secret' }));
    req.resume();
    return;
  }
  const limit = route.maxFrameBytes + 1024 * 1024;
  const chunks: Buffer[] = [];
  let length = 0;
  let tooLarge = false;
  req.on('data', (chunk: Buffer) => {
    if (tooLarge) return;
    length += chunk.length;
    if (length > limit) {
      tooLarge = true;
      chunks.length = 0;
      res.setHeader('connection', 'close');
      respond(413, encodeReply({ ok: false, code: 'malformed', reason: `batch exceeds ${limit} bytes` }));
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => {
    if (tooLarge) return;
    const result = route.receiveBatch(Buffer.concat(chunks, length));
    respond(result.status, result.body);
  });
  req.on('error', () => res.destroy());
}

/** The HTTP/1.1 server the peer port hands HTTP connections to when the caller does not take them. */
export function createPeerHttpServer(ctx: PeerHttpContext): HttpServer {
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: ctx.maxFrameBytes + 1024 * 1024,
  });
  const http = createHttpServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://peer').pathname === PEER_FETCH_PATH) {
      serveBatchRequest(ctx, req, res);
      return;
    }
    if (ctx.onHttpRequest?.(req, res)) return;
    res.writeHead(404, { connection: 'close' }).end();
  });
  http.on('upgrade', (req, socket, head) => {
    if (ctx.closed() || new URL(req.url ?? '/', 'http://peer').pathname !== PEER_WEBSOCKET_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const remote = `${(socket as Socket).remoteAddress}:${(socket as Socket).remotePort}`;
    wss.handleUpgrade(req, socket, head, (ws) => ctx.acceptPeerStream(webSocketStream(ws, remote)));
  });
  return http;
}
