// A Node member's peer port: one listener for every medium. It binds (or takes the caller's net.Server), runs the
// TLS handshake first when the port is TLS, then tells each connection apart by its first bytes (./sniff.ts): the
// peer preamble → a peer connection over TCP; an HTTP method → HTTP (batches, WebSocket upgrades, more routes:
// ./port-http.ts, or the caller's own server).

import type { Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type Server as TlsServer } from 'node:tls';
import type { Clock, Logger } from '../../../../src/env.ts';
import type { PeerAddress, PeerStream } from '../stream.ts';
import type { PeerTransportOptions } from './options.ts';
import { createPeerHttpServer, type PeerHttpContext } from './port-http.ts';
import { sniffConnection } from './sniff.ts';
import { socketStream } from './socket-stream.ts';

/** What the port needs from its transport. */
export interface PortContext extends PeerHttpContext {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly handshakeTimeoutMs: number;
  /** Registers a stream so that the transport's close() ends it and waits for it. */
  track(stream: PeerStream): void;
  /** A connection that starts with the peer preamble; `head` holds the bytes read so far. */
  acceptPeerStream(stream: PeerStream, head?: Uint8Array): void;
}

export class PeerPort {
  private readonly ctx: PortContext;
  private readonly options: PeerTransportOptions;
  private readonly ownsServer: boolean;
  private server: Server | undefined;
  /** Runs the TLS handshakes of accepted connections (never listens itself) when the peer port is TLS. */
  private tls: TlsServer | undefined;
  /** Serves HTTP on the peer port when no onHttpConnection is given. */
  private http: HttpServer | undefined;
  private readonly onConnection = (socket: Socket) => this.accept(socket);

  constructor(ctx: PortContext, options: PeerTransportOptions) {
    this.ctx = ctx;
    this.options = options;
    this.ownsServer = !isServer(options.listen);
  }

  /** Binds the listener, or starts taking the given server's connections. */
  async start(): Promise<void> {
    const listen = this.options.listen;
    const server = isServer(listen) ? listen : createServer();
    this.server = server;
    server.on('connection', this.onConnection);
    if (!isServer(listen)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        server.once('error', onError);
        server.listen({ host: listen.host, port: listen.port }, () => {
          server.off('error', onError);
          resolve();
        });
      });
      server.on('error', (error) => this.ctx.logger.error('peer listener error', { error: error.message }));
    }
    // Closed while binding: close() found nothing listening yet.
    if (this.ctx.closed() && this.ownsServer) server.close();
  }

  /** The bound address (after start); useful with port 0. */
  address(): PeerAddress {
    const address = this.server?.address();
    if (!address || typeof address === 'string')
      throw new Error('the peer listener is not bound to a TCP port');
    return { host: address.address, port: address.port };
  }

  /** Stops taking connections; resolves once a listener this port created is closed. */
  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    server.off('connection', this.onConnection);
    if (!this.ownsServer || !server.listening) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Takes one accepted connection (also from another listener of this member). */
  accept(socket: Socket): void {
    if (this.ctx.closed()) {
      socket.destroy();
      return;
    }
    const tls = this.options.tls?.server;
    if (tls) {
      // Until the handshake is done only the raw socket exists: track it so that close() ends it.
      this.ctx.track(socketStream(socket));
      socket.on('error', () => socket.destroy());
      this.tlsServer(tls).emit('connection', socket);
      return;
    }
    this.acceptStream(socket);
  }

  private tlsServer(options: NonNullable<PeerTransportOptions['tls']>['server']): TlsServer {
    if (this.tls) return this.tls;
    const server = createTlsServer(
      { handshakeTimeout: this.ctx.handshakeTimeoutMs, ...options },
      (socket: TLSSocket) => {
        if (this.ctx.closed()) socket.destroy();
        else this.acceptStream(socket);
      },
    );
    server.on('tlsClientError', (error, socket) => {
      this.ctx.logger.warn('peer TLS handshake failed', {
        remote: `${socket.remoteAddress}:${socket.remotePort}`,
        error: error.message,
      });
      socket.destroy();
    });
    this.tls = server;
    return server;
  }

  /** A connection ready to speak (plain TCP, or TLS after its handshake): sniff and route it. */
  private acceptStream(socket: Socket): void {
    const { ctx } = this;
    const stream = socketStream(socket);
    ctx.track(stream);
    socket.setNoDelay(true);
    socket.on('error', (error) =>
      ctx.logger.debug('peer socket error', { remote: stream.remote, error: error.message }),
    );
    const routes = {
      peer: (_: Socket, head: Uint8Array) => {
        if (!ctx.closed()) ctx.acceptPeerStream(stream, head);
      },
      http: (s: Socket) => {
        if (this.options.onHttpConnection) this.options.onHttpConnection(s);
        else this.httpServer().emit('connection', s);
        // Node's HTTP/1.1 server does not resume a socket handed to it paused (see PLATFORM-NOTES.md).
        s.resume();
      },
    };
    sniffConnection(socket, routes, ctx.logger, ctx.clock, ctx.handshakeTimeoutMs);
  }

  private httpServer(): HttpServer {
    this.http ??= createPeerHttpServer(this.ctx);
    return this.http;
  }
}

function isServer(listen: PeerTransportOptions['listen']): listen is Server {
  return typeof (listen as Server).listen === 'function';
}
