// The peer protocol's Transport for Node members (../README.md). Per peer, the link its address calls for: one
// we dial (TCP, TLS or WebSocket: the dialer is the subclass's, ../../tcp and ../../websocket), a reverse link to
// a member that cannot listen (`browser:`), HTTP batches to a member behind a Worker. Beside them the peer port
// (./port.ts) takes inbound connections and batches. It keeps the contract of src/transport.ts: `send` never
// blocks or throws, per-peer queues are bounded and drop (reporting the peer unreachable) rather than grow, and
// nothing is delivered after close().

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../../../../src/env.ts';
import { silentLogger } from '../../../../src/env.ts';
import type { Message, NodeId } from '../../../../src/raft/types.ts';
import type {
  LeaseMessage,
  LeaseSendResult,
  Transport,
  TransportHandler,
} from '../../../../src/transport.ts';
import { RealClock } from '../../../runtime/clock.ts';
import { type AcceptContext, InboundConnection } from '../inbound.ts';
import { ReverseLink } from '../reverse-link.ts';
import { BROWSER_ADDRESS_PREFIX } from '../routes.ts';
import { type SendContext, sendFrames, sendLeaseFrame } from '../send-frames.ts';
import type { PeerAddress, PeerDialer, PeerStream } from '../stream.ts';
import { UnreachableReports } from '../unreachable.ts';
import { DEFAULT_MAX_FRAME_BYTES, formatId } from '../wire.ts';
import { type Link, type LinkKinds, linkFor } from './links.ts';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  linkSettings,
  nextTurn,
  type PeerStats,
  type PeerTransportOptions,
} from './options.ts';
import { PeerPort } from './port.ts';
import { acceptBatch, type BatchRoute, batchResponse, serveBatchRequest } from './port-http.ts';

export class PeerTransport implements Transport {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  private readonly logger: Logger;
  private readonly linkKinds: LinkKinds;
  private readonly acceptContext: AcceptContext;
  private readonly batchRoute: BatchRoute;
  private readonly port: PeerPort;
  private readonly links = new Map<NodeId, Link>();
  /** The address each peer was last added with. */
  private readonly peerAddresses = new Map<NodeId, string>();
  private readonly inbound = new Set<InboundConnection>();
  /** Every stream (dialled or accepted) not yet closed. */
  private readonly streams = new Set<PeerStream>();
  private readonly received = new Map<NodeId, number>();
  private readonly receivedBytes = new Map<NodeId, number>();
  private readonly droppedUnknown = new Map<NodeId, number>();
  private readonly sendContext: SendContext;
  private readonly reports: UnreachableReports;
  private handler: TransportHandler | undefined;
  private started = false;
  private stopped = false;
  private closing: Promise<void> | undefined;

  /** `dial`: how links to peers at host:port connect (the options' `dial` wins). */
  protected constructor(options: PeerTransportOptions, dial: PeerDialer) {
    this.clusterId = options.clusterId;
    this.memberId = options.memberId;
    const logger = options.logger ?? silentLogger;
    this.logger = logger;
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const clock = options.clock ?? new RealClock();
    const reportUnreachable = (peer: NodeId) => this.reportUnreachable(peer);
    const track = (stream: PeerStream) => this.track(stream);
    this.reports = new UnreachableReports({
      handler: () => (this.stopped ? undefined : this.handler),
      logger,
      schedule: nextTurn,
    });
    this.sendContext = {
      links: this.links,
      droppedUnknown: this.droppedUnknown,
      maxFrameBytes,
      logger,
      reportUnreachable,
    };
    this.linkKinds = linkSettings(options, { logger, clock, dial }, { reportUnreachable, track });
    const handshakeTimeoutMs = options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.acceptContext = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      logger,
      clock,
      maxFrameBytes,
      handshakeTimeoutMs,
      leases: options.leases !== false,
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
    this.batchRoute = {
      logger,
      maxFrameBytes,
      peerSecret: options.peerSecret,
      receiveBatch: (body) => this.receiveBatch(body),
    };
    this.port = new PeerPort(
      {
        ...this.batchRoute,
        clock,
        handshakeTimeoutMs,
        onHttpRequest: options.onHttpRequest,
        closed: () => this.stopped,
        track,
        acceptPeerStream: (stream, head) => this.acceptPeerStream(stream, head),
      },
      options,
    );
  }

  /** Binds the listener (or takes the given server's connections) and begins delivering to `handler`. */
  async start(handler: TransportHandler): Promise<void> {
    if (this.stopped) throw new Error(`transport of member ${formatId(this.memberId)} is closed`);
    if (this.started) throw new Error(`transport of member ${formatId(this.memberId)} is already started`);
    this.started = true;
    await this.port.start();
    if (!this.stopped) this.handler = handler;
  }

  /** Whether close() was called. */
  get closed(): boolean {
    return this.stopped;
  }

  /** The bound address (after start); useful with port 0. */
  address(): PeerAddress {
    return this.port.address();
  }

  send(messages: readonly Message[]): void {
    if (this.stopped) return;
    sendFrames(this.sendContext, messages);
  }

  /** To a peer whose handshake reply offered lease messages (src/transport.ts's LeaseSendResult). */
  sendLease(message: LeaseMessage): LeaseSendResult {
    if (this.stopped || !this.acceptContext.leases) return 'never';
    return sendLeaseFrame(this.sendContext, message);
  }

  /**
   * Makes `peer` reachable at `address` (etcd's peer URL form `http://host:port`, or `host:port`) and lets it
   * connect to us. Throws on an address it cannot use.
   */
  addPeer(peer: NodeId, address: string): void {
    if (this.stopped) return;
    const existing = this.links.get(peer);
    this.peerAddresses.set(peer, address);
    const link = linkFor(existing, peer, address, this.linkKinds);
    if (!link) return;
    existing?.close();
    this.links.set(peer, link);
  }

  /** Whether `peer` (one that cannot be dialed) has a connection up that we can send to it on. */
  reverseConnected(peer: NodeId): boolean {
    const link = this.links.get(peer);
    return link instanceof ReverseLink && link.connected;
  }

  /**
   * Takes one peer batch body (../batch.ts) POSTed to PEER_FETCH_PATH, delivers its messages and returns the HTTP
   * status and reply body (empty for 204). For callers serving the peer port's HTTP themselves.
   */
  receiveBatch(body: Uint8Array): { status: number; body?: Uint8Array } {
    if (this.stopped || !this.handler)
      return batchResponse({ ok: false, code: 'closed', reason: 'transport closed' });
    return batchResponse(acceptBatch(this.acceptContext, body));
  }

  /** Serves `POST PEER_FETCH_PATH` on a node:http request (what the peer port does for HTTP batches). */
  handleBatchRequest(req: IncomingMessage, res: ServerResponse): void {
    serveBatchRequest(this.batchRoute, req, res);
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
    this.reports.clear();
    for (const link of this.links.values()) link.close();
    for (const connection of this.inbound) connection.close();
    for (const stream of this.streams) stream.destroy();
    const waits = [...this.streams].map((stream) => stream.closed);
    waits.push(this.port.close());
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
    let queued = this.reports.size;
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

  /** Takes a connection accepted by another listener of this member (etcd serves every --listen-peer-urls URL). */
  takeConnection(socket: Socket): void {
    this.port.accept(socket);
  }

  /** A peer announced it cannot be dialed: send to it on this connection. */
  private attachReverse(connection: InboundConnection): void {
    const peer = connection.peer;
    if (peer === undefined) return;
    let link = this.links.get(peer);
    if (!(link instanceof ReverseLink)) {
      const address = this.peerAddresses.get(peer) ?? BROWSER_ADDRESS_PREFIX;
      link?.close();
      link = new ReverseLink(this.linkKinds.dial, peer, address);
      this.links.set(peer, link);
    }
    link.attach(connection);
  }

  private track(stream: PeerStream): void {
    if (this.streams.has(stream)) return;
    this.streams.add(stream);
    stream.closed.then(() => this.streams.delete(stream));
  }

  private deliver(message: Message | LeaseMessage, from: NodeId, bytes: number): void {
    const handler = this.handler;
    if (this.stopped || !handler) return;
    this.received.set(from, (this.received.get(from) ?? 0) + 1);
    this.receivedBytes.set(from, (this.receivedBytes.get(from) ?? 0) + bytes);
    try {
      if ('request' in message) handler.onLeaseMessage?.(message);
      else handler.onMessage(message);
    } catch (error) {
      this.logger.error('message handler threw', { from: formatId(from), error: (error as Error).message });
    }
  }

  /** Coalesced per peer and made on a later turn, never from inside send (the handler may be sending). */
  private reportUnreachable(peer: NodeId): void {
    if (this.stopped) return;
    this.reports.add(peer);
  }
}
