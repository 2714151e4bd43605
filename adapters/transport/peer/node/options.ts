// The Node peer transport's options (TcpTransportOptions is this), its counters per peer, and its defaults: what
// its links are given.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import type { Clock, Logger, Random, TimerHandle } from '../../../../src/env.ts';
import type { NodeId } from '../../../../src/raft/types.ts';
import { type BackoffOptions, DEFAULT_BACKOFF } from '../backoff.ts';
import type { PeerDialer, PeerStream } from '../stream.ts';
import type { LinkKinds } from './links.ts';

export interface PeerTransportOptions {
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
  /** Timers: backoff, dial, handshake and request timeouts (default the wall clock). */
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
  /** How links connect (default TCP, TLS for https:// peers; the WebSocket transport dials WebSockets). */
  readonly dial?: PeerDialer;
  /** For tests: the protocol version this transport's dialers announce. */
  readonly protocolVersion?: number;
  /**
   * For tests: false acts as a member from before lease messages (../lease-codec.ts): its handshake replies do not
   * offer them, a connection that sends one is closed, and it sends none. Default true.
   */
  readonly leases?: boolean;
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
   * The cluster's shared peer secret (PEER_SECRET_HEADER in ../routes.ts): sent on HTTP batch links and required
   * of HTTP batches received. Absent: batches are checked by cluster and member ID only.
   */
  readonly peerSecret?: string;
}

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
export const DEFAULT_MAX_BATCH_BYTES = 256 * 1024;
export const DEFAULT_DIAL_TIMEOUT_MS = 5_000;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_HTTP_BATCH_BYTES = 4 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 5_000;

/** The settings of every link of a transport, its options' defaults applied. */
export function linkSettings(
  options: PeerTransportOptions,
  common: { readonly logger: Logger; readonly clock: Clock; readonly dial: PeerDialer },
  transport: { reportUnreachable(peer: NodeId): void; track(stream: PeerStream): void },
): LinkKinds {
  const dial = {
    clusterId: options.clusterId,
    memberId: options.memberId,
    logger: common.logger,
    clock: common.clock,
    random: options.random ?? { next: Math.random },
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
    maxQueuedMessages: options.maxQueuedMessages ?? DEFAULT_MAX_QUEUED_MESSAGES,
    maxQueuedBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
    maxBatchBytes: options.maxBatchBytes ?? DEFAULT_MAX_BATCH_BYTES,
    nextTurn,
    reportUnreachable: (peer: NodeId) => transport.reportUnreachable(peer),
    dialTimeoutMs: options.dialTimeoutMs ?? DEFAULT_DIAL_TIMEOUT_MS,
    protocolVersion: options.protocolVersion,
    dial: options.dial ?? common.dial,
    track: (stream: PeerStream) => transport.track(stream),
  };
  const http = {
    ...dial,
    maxCallBytes: options.maxHttpBatchBytes ?? DEFAULT_MAX_HTTP_BATCH_BYTES,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    fetch: options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init)),
    peerSecret: options.peerSecret,
  };
  return { dial, http };
}

/** Node's next turn of the event loop (setImmediate): after pending I/O, before later timers. */
export function nextTurn(callback: () => void): TimerHandle {
  const immediate = setImmediate(callback);
  return { cancel: () => clearImmediate(immediate) };
}
