// Raft messages between Node members over TCP (node:net), implementing the Transport contract of
// src/transport.ts: `send` never blocks or throws, per-peer queues are bounded and drop (reporting the peer
// unreachable) rather than grow, and nothing is delivered after close().
//
// Wire format (protocol version 1). All integers are big-endian.
//
//   Connection: the dialer opens one TCP connection per peer and only sends on it; the acceptor only receives
//   (apart from its handshake reply). Two members talking both ways therefore use two connections.
//
//   Preamble, dialer → acceptor, 8 bytes:
//     magic   4 bytes  0x89 'E' 'D' 'C'   (a high first byte: never the start of "GET " or another text protocol,
//                                          so the peer port can also take HTTP upgrades for WebSocket peers)
//     version u32      PROTOCOL_VERSION (1)
//
//   Frame: every later unit in either direction.
//     length  u32      payload length, at most maxFrameBytes (default 64 MiB; 4 KiB until the handshake is
//                      accepted). A larger length closes the connection (logged); nothing of that size is allocated.
//     payload          msgpack (@msgpack/msgpack, useBigInt64: bigints travel as int64/uint64, undefined fields
//                      are omitted)
//
//   Handshake, dialer → acceptor, the first frame:   { cluster: bigint, from: bigint, to: bigint }
//     `from` is the dialer's member ID, `to` the member ID it expects to reach.
//   Reply, acceptor → dialer, one frame:             { ok: true }
//                                                  | { ok: false, code, reason: string }
//     code: 'version' (unsupported protocol version; the reply is still in version 1 framing), 'cluster'
//     (another cluster ID), 'target' (`to` is not this member), 'member' (`from` is not a current peer: unknown or
//     removed), 'malformed'. After a refusal the acceptor closes the connection; the dialer logs the reason,
//     reports the peer unreachable and backs off.
//   Messages, dialer → acceptor, one frame each: a Message (src/raft/types.ts) as a msgpack map. Number fields
//     that msgpack carried as 64-bit integers are turned back into numbers on receipt. A message whose `to` is
//     not the acceptor or whose `from` is not the handshake's sender is dropped (logged); an undecodable frame
//     closes the connection.
//
//   WebSocket: the same port answers HTTP (told apart by the first bytes). An upgrade to /edgecd/peer
//     (PEER_WEBSOCKET_PATH) carries exactly the byte stream above, preamble included, in binary WebSocket messages
//     (message boundaries mean nothing; text messages close the connection). Other HTTP requests get a 404 unless
//     onHttpConnection takes them.
//
//   Reverse links (members that cannot listen: browsers). The handshake may carry `listens: false`
//     ({ cluster, from, to, listens: false }; acceptors that predate it ignore the field). The acceptor then sends
//     its own messages to that member as frames (same encoding) on this same connection, after its reply, instead
//     of dialing it; the dialer reads them as an acceptor would (to = itself, from = the acceptor). Such a peer is
//     added with an address `browser:<anything>` (or any address: the handshake flag wins). While it has no
//     connection up, sends to it are dropped and it is reported unreachable; it redials (with backoff) on its own.
//     The newest connection from the peer replaces an older one.
//
//   HTTP batches (members in Durable Objects, see ../fetch). The peer port takes `POST /edgecd/peer/batch`
//     (PEER_FETCH_PATH) with the fetch transport's body, msgpack { v: 1, cluster, from, to, msgs: bin[] }, each
//     element one Message as above. It is checked like a handshake (version, cluster, target, `from` a current
//     peer) plus each message's from/to, then delivered whole. Reply: 204 (no body) when delivered; otherwise an
//     error status with a msgpack body { ok: false, code, reason } (400 malformed / version, 403 cluster / member,
//     421 target, 413 too large, 405 not POST, 503 closed). A peer whose address is an http(s) URL with a path
//     under /edgecd/peer/ (e.g. https://edgecd.example.workers.dev/edgecd/peer/member-2, or
//     http://host:port/edgecd/peer/batch) is sent such batches by POST to that URL (see ./http-link.ts); one
//     without a path (http://host:port) gets TCP frames as above. A 204, or a 200 with a msgpack { ok: true }
//     (the Durable Object member's reply), acknowledges a batch.
//
//   TLS (etcd's --peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth). With
//     `tls.server` the whole peer port is TLS: every accepted connection completes a TLS handshake first (client
//     certificates required and verified when the options say so), then the decrypted stream is told apart as
//     above (frames, HTTP batches, GET /members, WebSocket upgrades). Peers added with an https:// address
//     (`https://host:port`) are dialed with TLS using `tls.client` (the CA that must have signed their server
//     certificate, which must name the URL's host; the client certificate to present). Inside TLS the protocol
//     is unchanged. http:// peers and a transport without `tls` are plain TCP, exactly as before.
//
// The acceptor learns its peers from addPeer/removePeer: removing a peer also closes its inbound connections.

import {
  createServer as createHttpServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import {
  type ConnectionOptions,
  createServer as createTlsServer,
  type TLSSocket,
  type TlsOptions,
  type Server as TlsServer,
} from 'node:tls';
import { WebSocketServer } from 'ws';
import type { Clock, Logger, Random } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import { RealClock } from '../../runtime/clock.ts';
import {
  type DeliveryReply,
  decodeBatch,
  encodeReply,
  httpBatchUrl,
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
  PEER_SECRET_HEADER,
  peerSecretMatches,
} from '../fetch/index.ts';
import { PEER_WEBSOCKET_PATH, webSocketStream } from '../websocket/stream.ts';
import { HttpLink, type HttpLinkContext, isHttpBatchAddress } from './http-link.ts';
import { type AcceptContext, InboundConnection } from './inbound.ts';
import { type BackoffOptions, type LinkContext, type PeerAddress, PeerLink } from './link.ts';
import { ReverseLink, type ReverseLinkContext } from './reverse.ts';
import { type SendContext, sendFrames } from './send-frames.ts';
import { sniffConnection } from './sniff.ts';
import { type PeerDialer, type PeerStream, socketStream, tcpDialer, tlsDialer } from './stream.ts';
import { DEFAULT_MAX_FRAME_BYTES, formatId } from './wire.ts';

export { isHttpBatchAddress } from './http-link.ts';
export type { BackoffOptions, PeerAddress } from './link.ts';
export type { PeerDialer, PeerStream } from './stream.ts';
export { tlsDialer } from './stream.ts';
export { DEFAULT_MAX_FRAME_BYTES, MAGIC, PROTOCOL_VERSION } from './wire.ts';

export interface TcpTransportOptions {
  /** Connections from members of another cluster are refused. */
  readonly clusterId: bigint;
  /** This member's ID. */
  readonly memberId: NodeId;
  /**
   * Where to accept peer connections: an address to bind in start() (port 0 picks a free port; see address()), or
   * a net.Server owned by the caller, whose connections this transport takes from start() until close() (close()
   * does not close a server it did not create).
   */
  readonly listen: { readonly host: string; readonly port: number } | Server;
  readonly logger?: Logger;
  /** Messages queued per peer beyond which sends to it drop (default 10,000, as the memory network). */
  readonly maxQueuedMessages?: number;
  /** Encoded bytes queued per peer beyond which sends to it drop (default 64 MiB). */
  readonly maxQueuedBytes?: number;
  /** Largest frame payload sent or accepted (default 64 MiB). Larger messages are dropped and logged. */
  readonly maxFrameBytes?: number;
  /** Reconnect backoff (default 100 ms doubling up to 5 s, with jitter). */
  readonly backoff?: Partial<BackoffOptions>;
  /** Connect plus handshake reply must complete within this (default 5 s). */
  readonly dialTimeoutMs?: number;
  /** An accepted connection must complete its preamble and handshake within this (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /** Largest batch of frames handed to one socket.write (default 256 KiB). */
  readonly maxBatchBytes?: number;
  /** Backoff jitter (default Math.random). */
  readonly random?: Random;
  /** Timers for backoff and dial timeouts (default the wall clock). */
  readonly clock?: Clock;
  /**
   * Connections on the peer port that start with an HTTP method. They are handed over with the bytes read so far
   * pushed back, e.g. `(s) => httpServer.emit('connection', s)` (an HTTP/1.1 server: the socket is resumed right
   * after); such a server can pass WebSocket peers on with acceptPeerStream(webSocketStream(ws, remote)). Without
   * it, upgrades to PEER_WEBSOCKET_PATH become WebSocket peer connections and other requests get a 404.
   */
  readonly onHttpConnection?: (socket: Socket) => void;
  /**
   * More HTTP routes on the peer port (when onHttpConnection is not given), e.g. etcd's `GET /members`: return
   * true when the request was taken. Asked before the 404.
   */
  readonly onHttpRequest?: (req: IncomingMessage, res: ServerResponse) => boolean;
  /** How links connect (default TCP; the WebSocket transport dials WebSockets). */
  readonly dial?: PeerDialer;
  /** For tests: the protocol version this transport's dialers announce. */
  readonly protocolVersion?: number;
  /** HTTP batch links (peers at http(s)://…/edgecd/peer/…): the fetch to use (default the global fetch). */
  readonly fetch?: typeof fetch;
  /** HTTP batch links: a call must be answered within this (default 5 s). */
  readonly requestTimeoutMs?: number;
  /** HTTP batch links: largest batch in one call (default 4 MiB). */
  readonly maxHttpBatchBytes?: number;
  /**
   * Peer TLS. `server`: serve the peer port over TLS with these options (certificate, key, CA, requestCert /
   * rejectUnauthorized); absent = plaintext. `client`: how https:// peers are dialed (CA, client certificate).
   */
  readonly tls?: { readonly server?: TlsOptions; readonly client?: ConnectionOptions };
  /**
   * The cluster's shared peer secret (../fetch PEER_SECRET_HEADER): sent on HTTP batch links and required of
   * HTTP batches received. Absent: batches are checked by cluster and member ID only.
   */
  readonly peerSecret?: string;
}

/** The address scheme of a peer that cannot be dialed: it connects to us and we answer on its connection. */
export const BROWSER_ADDRESS_PREFIX = 'browser:';

type Link = PeerLink | ReverseLink | HttpLink;

export interface PeerStats {
  /** Messages written to the connection to this peer. */
  readonly sent: number;
  /** Messages from this peer delivered to the handler. */
  readonly received: number;
  /** Bytes of frames (or batch bodies) sent to / delivered from this peer. */
  readonly sentBytes: number;
  readonly receivedBytes: number;
  /** Messages to this peer dropped (queue full, disconnected, backing off, too large). */
  readonly dropped: number;
  /** Messages waiting in this peer's queue. */
  readonly queued: number;
  readonly queuedBytes: number;
}

export const DEFAULT_MAX_QUEUED_MESSAGES = 10_000;
export const DEFAULT_MAX_QUEUED_BYTES = 64 * 1024 * 1024;
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000, multiplier: 2 };

export class TcpTransport implements Transport {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  private readonly options: TcpTransportOptions;
  private readonly logger: Logger;
  private readonly maxFrameBytes: number;
  private readonly linkContext: LinkContext;
  private readonly acceptContext: AcceptContext;
  private readonly links = new Map<NodeId, Link>();
  /** The address each peer was last added with. */
  private readonly peerAddresses = new Map<NodeId, string>();
  private readonly reverseContext: ReverseLinkContext;
  private readonly httpContext: HttpLinkContext;
  private readonly inbound = new Set<InboundConnection>();
  /** Every stream (dialled or accepted) not yet closed. */
  private readonly streams = new Set<PeerStream>();
  /** Serves HTTP on the peer port when no onHttpConnection is given: WebSocket peers, else 404. */
  private http: HttpServer | undefined;
  private readonly received = new Map<NodeId, number>();
  private readonly receivedBytes = new Map<NodeId, number>();
  private readonly droppedUnknown = new Map<NodeId, number>();
  private readonly sendContext: SendContext;
  private handler: TransportHandler | undefined;
  private server: Server | undefined;
  private readonly ownsServer: boolean;
  private started = false;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private readonly pendingReports = new Set<NodeId>();
  private reportTimer: NodeJS.Immediate | undefined;
  private readonly onConnection = (socket: Socket) => this.accept(socket);
  /** Runs the TLS handshakes of accepted connections (never listens itself) when the peer port is TLS. */
  private tls: TlsServer | undefined;

  constructor(options: TcpTransportOptions) {
    this.options = options;
    this.clusterId = options.clusterId;
    this.memberId = options.memberId;
    this.logger = options.logger ?? silentLogger;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.sendContext = {
      links: this.links,
      droppedUnknown: this.droppedUnknown,
      maxFrameBytes: this.maxFrameBytes,
      logger: this.logger,
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
    this.ownsServer = !isServer(options.listen);
    this.linkContext = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      logger: this.logger,
      clock: options.clock ?? new RealClock(),
      random: options.random ?? { next: Math.random },
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      maxQueuedMessages: options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
      maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      maxBatchBytes: options.maxBatchBytes ?? 256 * 1024,
      dialTimeoutMs: options.dialTimeoutMs ?? 5_000,
      protocolVersion: options.protocolVersion,
      dial: options.dial ?? defaultDialer(options.tls?.client),
      reportUnreachable: (peer) => this.reportUnreachable(peer),
      track: (stream) => this.track(stream),
    };
    this.acceptContext = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      logger: this.logger,
      maxFrameBytes: this.maxFrameBytes,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
      isPeer: (member) => this.links.has(member),
      mayReverse: (member) => (this.peerAddresses.get(member) ?? '').startsWith(BROWSER_ADDRESS_PREFIX),
      deliver: (message, from, bytes) => this.deliver(message, from, bytes),
      accepted: (connection) => {
        if (this.stopped) connection.close();
        else {
          this.inbound.add(connection);
          if (!connection.listens) this.attachReverse(connection);
        }
      },
      closed: (connection) => {
        this.inbound.delete(connection);
        const link = connection.peer === undefined ? undefined : this.links.get(connection.peer);
        if (link instanceof ReverseLink) link.detach(connection);
      },
    };
    this.reverseContext = {
      logger: this.logger,
      maxQueuedMessages: this.linkContext.maxQueuedMessages,
      maxQueuedBytes: this.linkContext.maxQueuedBytes,
      maxBatchBytes: this.linkContext.maxBatchBytes,
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
    this.httpContext = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      logger: this.logger,
      clock: this.linkContext.clock,
      random: this.linkContext.random,
      backoff: this.linkContext.backoff,
      maxQueuedMessages: this.linkContext.maxQueuedMessages,
      maxQueuedBytes: this.linkContext.maxQueuedBytes,
      maxBatchBytes: options.maxHttpBatchBytes ?? 4 * 1024 * 1024,
      requestTimeoutMs: options.requestTimeoutMs ?? 5_000,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      peerSecret: options.peerSecret,
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
  }

  /** Binds the listener (or takes the given server's connections) and begins delivering to `handler`. */
  async start(handler: TransportHandler): Promise<void> {
    if (this.stopped) throw new Error(`transport of member ${formatId(this.memberId)} is closed`);
    if (this.started) throw new Error(`transport of member ${formatId(this.memberId)} is already started`);
    this.started = true;
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
      server.on('error', (error) => this.logger.error('peer listener error', { error: error.message }));
    }
    if (this.stopped) {
      // Closed while binding: close() found nothing listening yet.
      if (this.ownsServer) server.close();
      return;
    }
    this.handler = handler;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.stopped;
  }

  /** The bound address (after start); useful with port 0. */
  address(): PeerAddress {
    const address = this.server?.address();
    if (!address || typeof address === 'string')
      throw new Error('the peer listener is not bound to a TCP port');
    return { host: address.address, port: address.port };
  }

  send(messages: readonly Message[]): void {
    if (this.stopped) return;
    sendFrames(this.sendContext, messages);
  }

  /**
   * Makes `peer` reachable at `address` (etcd's peer URL form `http://host:port`, or `host:port`) and lets it
   * connect to us. Throws on an address it cannot use.
   */
  addPeer(peer: NodeId, address: string): void {
    if (this.stopped) return;
    const existing = this.links.get(peer);
    this.peerAddresses.set(peer, address);
    if (address.startsWith(BROWSER_ADDRESS_PREFIX)) {
      if (existing instanceof ReverseLink) return;
      existing?.close();
      this.links.set(peer, new ReverseLink(this.reverseContext, peer, address));
      return;
    }
    if (isHttpBatchAddress(address)) {
      if (existing instanceof HttpLink && existing.url === (httpBatchUrl(address) ?? address)) return;
      existing?.close();
      this.links.set(peer, new HttpLink(this.httpContext, peer, address));
      return;
    }
    const parsed = parsePeerAddress(address);
    // A peer that announced it cannot be dialed keeps its reverse link for the address it was added with.
    if (existing instanceof ReverseLink && existing.addressText === address) return;
    if (
      existing instanceof PeerLink &&
      existing.address.host === parsed.host &&
      existing.address.port === parsed.port &&
      !!existing.address.tls === !!parsed.tls
    ) {
      return;
    }
    existing?.close();
    this.links.set(peer, new PeerLink(this.linkContext, peer, parsed));
  }

  /** Whether `peer` (one that cannot be dialed) has a connection up that we can send to it on. */
  reverseConnected(peer: NodeId): boolean {
    const link = this.links.get(peer);
    return link instanceof ReverseLink && link.connected;
  }

  /**
   * Takes one peer batch body (the fetch transport's format) POSTed to PEER_FETCH_PATH, delivers its messages and
   * returns the HTTP status and reply body (empty for 204). For callers serving the peer port's HTTP themselves.
   */
  receiveBatch(body: Uint8Array): { status: number; body?: Uint8Array } {
    const reply = this.acceptBatch(body);
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

  /** Serves `POST PEER_FETCH_PATH` on a node:http request (what the peer port does for HTTP batches). */
  handleBatchRequest(req: IncomingMessage, res: ServerResponse): void {
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
    if (!peerSecretMatches(this.options.peerSecret, req.headers[PEER_SECRET_HEADER] as string | undefined)) {
      this.logger.warn('refusing a peer batch', { code: 'member', reason: 'missing or wrong peer secret' });
      res.setHeader('connection', 'close');
      respond(403, encodeReply({ ok: false, code: 'member', reason: 'missing or wrong peer secret' }));
      req.resume();
      return;
    }
    const limit = this.maxFrameBytes + 1024 * 1024;
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
      const result = this.receiveBatch(Buffer.concat(chunks, length));
      respond(result.status, result.body);
    });
    req.on('error', () => res.destroy());
  }

  /** Stops sending to `peer` and closes (and from now on refuses) its connections to us. */
  removePeer(peer: NodeId): void {
    const link = this.links.get(peer);
    if (!link) return;
    link.close();
    this.links.delete(peer);
    this.peerAddresses.delete(peer);
    for (const connection of this.inbound) if (connection.peer === peer) connection.close();
  }

  /** Closes the listener (if this transport created it) and every connection; resolves once all are closed. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.stopped = true;
    this.handler = undefined;
    if (this.reportTimer) clearImmediate(this.reportTimer);
    this.reportTimer = undefined;
    this.pendingReports.clear();
    for (const link of this.links.values()) link.close();
    for (const connection of this.inbound) connection.close();
    for (const stream of this.streams) stream.destroy();
    const waits = [...this.streams].map((stream) => stream.closed);
    const server = this.server;
    if (server) {
      server.off('connection', this.onConnection);
      if (this.ownsServer && server.listening) {
        waits.push(new Promise<void>((resolve) => server.close(() => resolve())));
      }
    }
    this.closing = Promise.all(waits).then(() => undefined);
    return this.closing;
  }

  /** Counters for `peer` (zeros for one never seen). */
  stats(peer: NodeId): PeerStats {
    const link = this.links.get(peer);
    return {
      sent: link?.sent ?? 0,
      received: this.received.get(peer) ?? 0,
      sentBytes: link?.sentBytes ?? 0,
      receivedBytes: this.receivedBytes.get(peer) ?? 0,
      dropped: (link?.dropped ?? 0) + (this.droppedUnknown.get(peer) ?? 0),
      queued: link?.queued ?? 0,
      queuedBytes: link?.bytesQueued ?? 0,
    };
  }

  /** Messages queued on all links plus unreachable reports not yet made: 0 once this side is quiet. */
  get pending(): number {
    let queued = this.pendingReports.size;
    for (const link of this.links.values()) queued += link.queued;
    return queued;
  }

  /** Takes a connection that starts with the peer preamble, e.g. a WebSocket accepted by the caller's server. */
  acceptPeerStream(stream: PeerStream, head: Uint8Array = new Uint8Array(0)): void {
    if (this.stopped) {
      stream.destroy();
      return;
    }
    this.track(stream);
    new InboundConnection(this.acceptContext, stream, head);
  }

  private acceptBatch(body: Uint8Array): DeliveryReply {
    if (this.stopped || !this.handler) return { ok: false, code: 'closed', reason: 'transport closed' };
    const batch = decodeBatch(body, { clusterId: this.clusterId, id: this.memberId });
    if (!batch.ok) {
      this.logger.warn('refusing a peer batch', { code: batch.code, reason: batch.reason });
      return batch;
    }
    if (!this.links.has(batch.from)) {
      const reason = `member ${formatId(batch.from)} is not a peer of this member (unknown or removed)`;
      this.logger.warn('refusing a peer batch', { code: 'member', reason });
      return { ok: false, code: 'member', reason };
    }
    let bytes = body.length;
    for (const message of batch.messages) {
      this.deliver(message, batch.from, bytes);
      bytes = 0;
    }
    return { ok: true };
  }

  /** A peer announced it cannot be dialed: send to it on this connection. */
  private attachReverse(connection: InboundConnection): void {
    const peer = connection.peer;
    if (peer === undefined) return;
    let link = this.links.get(peer);
    if (!(link instanceof ReverseLink)) {
      const address = this.peerAddresses.get(peer) ?? BROWSER_ADDRESS_PREFIX;
      link?.close();
      link = new ReverseLink(this.reverseContext, peer, address);
      this.links.set(peer, link);
    }
    link.attach(connection);
  }

  /** Takes a connection accepted by another listener of this member (etcd serves every --listen-peer-urls URL). */
  takeConnection(socket: Socket): void {
    this.accept(socket);
  }

  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
    if (this.options.tls?.server) {
      // Until the handshake is done only the raw socket exists: track it so that close() ends it.
      this.track(socketStream(socket));
      socket.on('error', () => socket.destroy());
      this.tlsServer(this.options.tls.server).emit('connection', socket);
      return;
    }
    this.acceptStream(socket);
  }

  private tlsServer(options: TlsOptions): TlsServer {
    if (this.tls) return this.tls;
    const server = createTlsServer(
      { handshakeTimeout: this.acceptContext.handshakeTimeoutMs, ...options },
      (socket: TLSSocket) => {
        if (this.stopped) socket.destroy();
        else this.acceptStream(socket);
      },
    );
    server.on('tlsClientError', (error, socket) => {
      this.logger.warn('peer TLS handshake failed', {
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
    const stream = socketStream(socket);
    this.track(stream);
    socket.setNoDelay(true);
    socket.on('error', (error) =>
      this.logger.debug('peer socket error', { remote: stream.remote, error: error.message }),
    );
    sniffConnection(
      socket,
      {
        peer: (_, head) => {
          if (!this.stopped) new InboundConnection(this.acceptContext, stream, head);
        },
        http: (s) => {
          if (this.options.onHttpConnection) this.options.onHttpConnection(s);
          else this.httpServer().emit('connection', s);
          // Node's HTTP/1.1 server does not resume a socket handed to it paused (see PLATFORM-NOTES.md).
          s.resume();
        },
      },
      this.logger,
      this.acceptContext.handshakeTimeoutMs,
    );
  }

  private httpServer(): HttpServer {
    if (this.http) return this.http;
    const wss = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: this.maxFrameBytes + 1024 * 1024,
    });
    const http = createHttpServer((req, res) => {
      if (new URL(req.url ?? '/', 'http://peer').pathname === PEER_FETCH_PATH) {
        this.handleBatchRequest(req, res);
        return;
      }
      if (this.options.onHttpRequest?.(req, res)) return;
      res.writeHead(404, { connection: 'close' }).end();
    });
    http.on('upgrade', (req, socket, head) => {
      if (this.stopped || new URL(req.url ?? '/', 'http://peer').pathname !== PEER_WEBSOCKET_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      const remote = `${(socket as Socket).remoteAddress}:${(socket as Socket).remotePort}`;
      wss.handleUpgrade(req, socket, head, (ws) => this.acceptPeerStream(webSocketStream(ws, remote)));
    });
    this.http = http;
    return http;
  }

  private track(stream: PeerStream): void {
    if (this.streams.has(stream)) return;
    this.streams.add(stream);
    stream.closed.then(() => this.streams.delete(stream));
  }

  private deliver(message: Message, from: NodeId, bytes: number): void {
    const handler = this.handler;
    if (this.stopped || !handler) return;
    this.received.set(from, (this.received.get(from) ?? 0) + 1);
    this.receivedBytes.set(from, (this.receivedBytes.get(from) ?? 0) + bytes);
    try {
      handler.onMessage(message);
    } catch (error) {
      this.logger.error('message handler threw', { from: formatId(from), error: (error as Error).message });
    }
  }

  /** Coalesced per peer and made on a later turn, never from inside send (the handler may be sending). */
  private reportUnreachable(peer: NodeId): void {
    if (this.stopped) return;
    this.pendingReports.add(peer);
    this.reportTimer ??= setImmediate(() => {
      this.reportTimer = undefined;
      const peers = [...this.pendingReports];
      this.pendingReports.clear();
      for (const p of peers) {
        const handler = this.handler;
        if (this.stopped || !handler?.onUnreachable) return;
        try {
          handler.onUnreachable(p);
        } catch (error) {
          this.logger.error('unreachable handler threw', {
            peer: formatId(p),
            error: (error as Error).message,
          });
        }
      }
    });
  }
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

/** TCP, or TLS for https:// peers. */
function defaultDialer(client: ConnectionOptions | undefined): PeerDialer {
  const secure = tlsDialer(client);
  return (address) => (address.tls ? secure(address) : tcpDialer(address));
}

function isServer(listen: TcpTransportOptions['listen']): listen is Server {
  return typeof (listen as Server).listen === 'function';
}
