// edgecd's client port on Node, as etcd serves it: gRPC and HTTP/1.1 (the JSON gateway, /health, /version) on one
// port. The first bytes decide: the HTTP/2 preface goes to the gRPC server (grpc/server.ts), anything else to the
// gateway.
//
// With TLS (an https:// client URL, etcd's --cert-file/--key-file) the port is a TLS server announcing ALPN
// `http/1.1` and `h2`, in that order of preference (the server's preference decides): gRPC clients (grpc-go as in
// etcdctl, grpc-js) offer only `h2` and get it; curl, browsers and fetch offer `http/1.1` and get the gateway.
// After the handshake `h2` goes to gRPC (a call's getAuthContext() sees the verified client certificate),
// `http/1.1` to the HTTP/1.1 server; without ALPN the HTTP/2 preface decides. With --client-cert-auth (or
// --trusted-ca-file) client certificates are required; their CN is the caller's identity when a request has no
// token (etcd's mTLS auth): gRPC handlers read it from the call's auth context, the gateway gets
// `handler(request, { commonName })`.

import http from 'node:http';
import type net from 'node:net';
import tls from 'node:tls';
import { type Logger, silentLogger } from '../../../src/env.ts';
import { type EdgeNode, ETCD_VERSION } from '../../../src/server/node.ts';
import { bindClientListener, type ClientListener } from './client-listener.ts';
import { clusterStateUpgrade } from './cluster-state-ws.ts';
import type { KeepaliveOptions } from './grpc/http2/keepalive.ts';
import type { GrpcRecorder } from './grpc/metrics.ts';
import { createGrpcServer, type GrpcServerKind } from './grpc/server.ts';
import { type FetchHandler, serveFetch } from './serve-fetch.ts';

export type { ClientIdentity, FetchHandler } from './serve-fetch.ts';
export { peerCommonName } from './serve-fetch.ts';

export interface ClientServerOptions {
  readonly node: EdgeNode;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Listen on this Unix socket instead of host:port (etcd's unix:// client URLs); a stale file is removed. */
  readonly path?: string;
  /** Serve the connections of this port bound earlier (then host, port and path are not used). */
  readonly listener?: ClientListener;
  /** Serves HTTP/1.1; without one, only GET /health and GET /version answer. */
  readonly gateway?: FetchHandler;
  /** etcd --max-request-bytes. Default: the node's (EdgeNode.limits). */
  readonly maxRequestBytes?: number;
  readonly logger?: Logger;
  /** See GrpcServerOptions.noLeaderTimeoutMs. */
  readonly noLeaderTimeoutMs?: number;
  /** Serve TLS with these (key, cert, ca, requestCert/rejectUnauthorized: see tls.ts); absent = plaintext. */
  readonly tls?: tls.TlsOptions;
  /** Counts gRPC calls and bytes for /metrics. */
  readonly metrics?: GrpcRecorder;
  /** etcd --max-concurrent-streams (GrpcServerOptions.maxConcurrentStreams). */
  readonly maxConcurrentStreams?: number;
  /** etcd's --grpc-keepalive-* (GrpcServerOptions.keepalive). */
  readonly keepalive?: KeepaliveOptions;
  /**
   * A connection that has not shown what it speaks by then — HTTP/1.1 bytes, or the HTTP/2 preface and SETTINGS — is
   * closed. Default 120 s: grpc-go's ConnectionTimeout, which etcd's gRPC server applies to the preface and SETTINGS.
   */
  readonly handshakeTimeoutMs?: number;
  /** An HTTP/1.1 request whose headers are not complete by then gets 408 and is closed (Node's 60 s default). */
  readonly headersTimeoutMs?: number;
  /** Which gRPC server carries the calls (GrpcServerOptions.grpcServer). Default: $EDGECD_GRPC_SERVER, else edgecd. */
  readonly grpcServer?: GrpcServerKind;
}

/** EDGECD_GRPC_SERVER=edgecd|h2|grpc-js chooses the gRPC server of every client port in the process. */
function grpcServerFromEnv(): GrpcServerKind | undefined {
  const v = process.env.EDGECD_GRPC_SERVER;
  return v === 'edgecd' || v === 'h2' || v === 'grpc-js' ? v : undefined;
}

export interface ClientServer {
  readonly port: number;
  /** Ends gRPC streams and HTTP connections, stops listening. */
  close(): Promise<void>;
}

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const HANDSHAKE_TIMEOUT_MS = 120_000;
const HEADERS_TIMEOUT_MS = 60_000;

export async function startClientServer(options: ClientServerOptions): Promise<ClientServer> {
  const { node } = options;
  const logger = options.logger ?? silentLogger;
  const grpc = createGrpcServer({
    node,
    logger,
    maxRequestBytes: options.maxRequestBytes,
    noLeaderTimeoutMs: options.noLeaderTimeoutMs,
    maxConcurrentStreams: options.maxConcurrentStreams,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    grpcServer: options.grpcServer ?? grpcServerFromEnv(),
    ...(options.keepalive ? { keepalive: options.keepalive } : {}),
  });
  const handshakeMs = options.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS;
  /** Closes the socket unless the returned function is called in time (see handshakeTimeoutMs). */
  const deadline = (socket: net.Socket) => {
    const timer = setTimeout(() => socket.destroy(), handshakeMs);
    socket.once('close', () => clearTimeout(timer));
    return () => clearTimeout(timer);
  };
  const toGrpc = (socket: net.Socket, handshaken: () => void) => grpc.injectConnection(socket, handshaken);
  const handler = options.gateway ?? minimalHandler(node);
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const http1 = http.createServer(
    {
      headersTimeout,
      // No limit on a whole request: the gateway's watch and keep-alive stream their request bodies for as long
      // as they live (etcd's HTTP server has no timeouts at all).
      requestTimeout: 0,
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, headersTimeout / 4)),
    },
    (req, res) => {
      serveFetch(handler, req, res).catch((err: unknown) => {
        logger.warn('http request failed', { url: req.url ?? '', error: String(err) });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end();
      });
    },
  );
  // This server never listens (connections are handed to it), and Node starts enforcing headersTimeout when a
  // server starts listening: without this, half-sent headers (slowloris) would hold a connection forever.
  http1.emit('listening');

  http1.on('upgrade', clusterStateUpgrade(node));

  const sockets = new Set<net.Socket>();
  const route = (socket: net.Socket) => {
    const handshaken = deadline(socket);
    sniff(socket, (isHttp2) => {
      if (isHttp2) {
        // Node's HTTP/2 server turns away a TLSSocket whose ALPN found nothing (alpnProtocol false); this one
        // spoke HTTP/2 anyway (a client without ALPN), so say so.
        if (socket instanceof tls.TLSSocket && socket.alpnProtocol === false) socket.alpnProtocol = 'h2';
        toGrpc(socket, handshaken);
      } else {
        handshaken(); // from here on, headersTimeout
        http1.emit('connection', socket);
        socket.resume();
      }
    });
  };
  const onConnection = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  };
  let listener: ClientListener;
  try {
    listener = options.listener ?? (await bindClientListener(options));
  } catch (err) {
    await grpc.close(); // e.g. EADDRINUSE: leave nothing behind
    throw err;
  }
  if (options.tls) {
    // TLS over the listener's sockets: a TLS server that never listens itself is handed each connection.
    const secure = tls.createServer({ ...options.tls, ALPNProtocols: ['http/1.1', 'h2'] }, (socket) => {
      onConnection(socket);
      if (socket.alpnProtocol === 'h2') toGrpc(socket, deadline(socket));
      else if (socket.alpnProtocol === 'http/1.1') http1.emit('connection', socket);
      else route(socket); // no ALPN: the first bytes decide
    });
    secure.on('tlsClientError', (err, socket) => {
      logger.debug('client TLS handshake failed', {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        error: err.message,
      });
      socket.destroy();
    });
    listener.take((socket) => {
      onConnection(socket);
      secure.emit('connection', socket);
    });
  } else {
    listener.take((socket) => {
      onConnection(socket);
      route(socket);
      socket.resume();
    });
  }

  let closing: Promise<void> | undefined;
  return {
    port: listener.port,
    close: () => {
      closing ??= (async () => {
        const stopped = listener.close();
        await grpc.close();
        http1.close(); // stops its headersTimeout checks
        http1.closeAllConnections();
        for (const s of sockets) s.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

/** Reads until the first bytes match or rule out the HTTP/2 preface, puts them back and hands the socket on. */
function sniff(socket: net.Socket, route: (isHttp2: boolean) => void): void {
  let seen: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, HTTP2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
    if (matches && n < HTTP2_PREFACE.length) return; // need more bytes
    socket.off('data', onData);
    socket.pause();
    socket.unshift(seen);
    route(matches);
  };
  socket.on('data', onData);
}

/** GET /health and GET /version, as etcd answers them, when no gateway is configured. */
function minimalHandler(node: EdgeNode): FetchHandler {
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (request.method === 'GET' && pathname === '/version') {
      return json(200, { etcdserver: ETCD_VERSION, etcdcluster: '3.4.0' });
    }
    if (request.method === 'GET' && pathname === '/health') {
      return (await node.health()) ? json(200, { health: 'true' }) : json(503, { health: 'false' });
    }
    return new Response('404 page not found\n', { status: 404, headers: { 'content-type': 'text/plain' } });
  };
}
