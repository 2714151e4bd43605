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
// The acceptor learns its peers from addPeer/removePeer: removing a peer also closes its inbound connections.

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Clock, Logger, Random } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import { RealClock } from '../../runtime/clock.ts';
import { PEER_WEBSOCKET_PATH, webSocketStream } from '../websocket/stream.ts';
import { type AcceptContext, InboundConnection } from './inbound.ts';
import { type BackoffOptions, type LinkContext, type PeerAddress, PeerLink } from './link.ts';
import { sniffConnection } from './sniff.ts';
import { type PeerDialer, type PeerStream, socketStream, tcpDialer } from './stream.ts';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES, formatId } from './wire.ts';

export type { BackoffOptions, PeerAddress } from './link.ts';
export type { PeerDialer, PeerStream } from './stream.ts';
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
  /** How links connect (default TCP; the WebSocket transport dials WebSockets). */
  readonly dial?: PeerDialer;
  /** For tests: the protocol version this transport's dialers announce. */
  readonly protocolVersion?: number;
}

export interface PeerStats {
  /** Messages written to the connection to this peer. */
  readonly sent: number;
  /** Messages from this peer delivered to the handler. */
  readonly received: number;
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
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Set<InboundConnection>();
  /** Every stream (dialled or accepted) not yet closed. */
  private readonly streams = new Set<PeerStream>();
  /** Serves HTTP on the peer port when no onHttpConnection is given: WebSocket peers, else 404. */
  private http: HttpServer | undefined;
  private readonly received = new Map<NodeId, number>();
  private readonly droppedUnknown = new Map<NodeId, number>();
  private handler: TransportHandler | undefined;
  private server: Server | undefined;
  private readonly ownsServer: boolean;
  private started = false;
  private stopped = false;
  private closing: Promise<void> | undefined;
  private readonly pendingReports = new Set<NodeId>();
  private reportTimer: NodeJS.Immediate | undefined;
  private readonly onConnection = (socket: Socket) => this.accept(socket);

  constructor(options: TcpTransportOptions) {
    this.options = options;
    this.clusterId = options.clusterId;
    this.memberId = options.memberId;
    this.logger = options.logger ?? silentLogger;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
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
      dial: options.dial ?? tcpDialer,
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
      deliver: (message, from) => this.deliver(message, from),
      accepted: (connection) => {
        if (this.stopped) connection.close();
        else this.inbound.add(connection);
      },
      closed: (connection) => this.inbound.delete(connection),
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
    for (const message of messages) {
      const link = this.links.get(message.to);
      if (!link) {
        this.droppedUnknown.set(message.to, (this.droppedUnknown.get(message.to) ?? 0) + 1);
        this.reportUnreachable(message.to);
        continue;
      }
      // Check before encoding, so that a flood to a full or down peer costs little.
      if (link.refusing) {
        link.dropped++;
        this.reportUnreachable(message.to);
        continue;
      }
      let frame: Uint8Array;
      try {
        // Encoding here also copies: the caller may reuse its arrays once send returns.
        frame = encodeFrame(message);
      } catch (error) {
        link.dropped++;
        this.logger.error('cannot encode a peer message, dropping it', {
          peer: formatId(message.to),
          type: message.type,
          error: (error as Error).message,
        });
        this.reportUnreachable(message.to);
        continue;
      }
      if (frame.length - FRAME_HEADER_BYTES > this.maxFrameBytes) {
        link.dropped++;
        this.logger.error('peer message exceeds the frame limit, dropping it', {
          peer: formatId(message.to),
          type: message.type,
          bytes: frame.length - FRAME_HEADER_BYTES,
          max: this.maxFrameBytes,
        });
        this.reportUnreachable(message.to);
        continue;
      }
      if (!link.enqueue(frame)) this.reportUnreachable(message.to);
    }
  }

  /**
   * Makes `peer` reachable at `address` (etcd's peer URL form `http://host:port`, or `host:port`) and lets it
   * connect to us. Throws on an address it cannot use.
   */
  addPeer(peer: NodeId, address: string): void {
    if (this.stopped) return;
    const parsed = parsePeerAddress(address);
    const existing = this.links.get(peer);
    if (existing && existing.address.host === parsed.host && existing.address.port === parsed.port) return;
    existing?.close();
    this.links.set(peer, new PeerLink(this.linkContext, peer, parsed));
  }

  /** Stops sending to `peer` and closes (and from now on refuses) its connections to us. */
  removePeer(peer: NodeId): void {
    const link = this.links.get(peer);
    if (!link) return;
    link.close();
    this.links.delete(peer);
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

  private accept(socket: Socket): void {
    if (this.stopped) {
      socket.destroy();
      return;
    }
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
    const http = createHttpServer((_req, res) => res.writeHead(404, { connection: 'close' }).end());
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

  private deliver(message: Message, from: NodeId): void {
    const handler = this.handler;
    if (this.stopped || !handler) return;
    this.received.set(from, (this.received.get(from) ?? 0) + 1);
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
  if (!['http:', 'ws:', 'tcp:'].includes(url.protocol)) {
    throw new Error(`unsupported peer URL scheme in ${address} (want http://host:port or host:port)`);
  }
  // URL elides a scheme's default port.
  const port = url.port === '' && url.protocol !== 'tcp:' ? 80 : Number(url.port);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65_535) {
    throw new Error(`peer address ${address} needs a host and a port`);
  }
  return { host, port };
}

function isServer(listen: TcpTransportOptions['listen']): listen is Server {
  return typeof (listen as Server).listen === 'function';
}
