// Raft messages between a browser member and Node members, over the global WebSocket (no `ws`, no node:*). A
// browser cannot listen, so it dials each Node peer's ws://host:port/edgecd/peer (PEER_WEBSOCKET_PATH on the
// Node member's peer port) and both directions share that connection: the handshake announces `listens: false`,
// and the Node member answers with its own messages as frames on the same WebSocket (a reverse link; the peer
// protocol is in ../peer/README.md — preamble, length-prefixed msgpack frames, handshake and reply).
//
// Transport contract (src/transport.ts): `send` never blocks or throws; per-peer queues are bounded and drop
// (reporting the peer unreachable) rather than grow; nothing is delivered after close(). Connections are opened
// eagerly (on addPeer) and kept up, so that the peer can reach us; a failed or refused connection drops what is
// queued, reports the peer unreachable and redials after a backoff (exponential, with jitter). Messages sent while
// backing off are dropped, as the Node transport does. A peer whose address is not ws:// or http:// (e.g. another
// browser, `browser:…`) has no route: sends to it are dropped and reported.

import type { Clock, Logger, Random } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import { RealClock } from '../../runtime/clock.ts';
import { type BackoffOptions, DEFAULT_BACKOFF } from '../peer/backoff.ts';
import { type SendContext, sendFrames } from '../peer/send-frames.ts';
import { UnreachableReports } from '../peer/unreachable.ts';
import { DEFAULT_MAX_FRAME_BYTES, formatId } from '../peer/wire.ts';
import { BrowserLink, type BrowserLinkSettings } from './browser-link.ts';
import { browserPeerUrl, type WebSocketFactory, type WebSocketLike } from './browser-socket.ts';

export {
  BROWSER_PEER_PATH,
  browserPeerUrl,
  type WebSocketFactory,
  type WebSocketLike,
} from './browser-socket.ts';

export type BrowserBackoffOptions = BackoffOptions;

export interface BrowserWebSocketTransportOptions {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger?: Logger;
  /** Messages queued per peer beyond which sends to it drop (default 10,000). */
  readonly maxQueuedMessages?: number;
  /** Encoded bytes queued per peer beyond which sends to it drop (default 64 MiB). */
  readonly maxQueuedBytes?: number;
  /** Largest frame payload sent or accepted (default 64 MiB). */
  readonly maxFrameBytes?: number;
  /** Largest batch of frames in one WebSocket message (default 256 KiB). */
  readonly maxBatchBytes?: number;
  /** Bytes buffered in a WebSocket beyond which writing waits (default 1 MiB). */
  readonly highWaterMark?: number;
  /** Reconnect backoff (default 100 ms doubling up to 5 s, with jitter). */
  readonly backoff?: Partial<BrowserBackoffOptions>;
  /** Open plus handshake reply must complete within this (default 5 s). */
  readonly dialTimeoutMs?: number;
  readonly random?: Random;
  /** Timers: dial timeouts, backoff, flushes (default the wall clock). */
  readonly clock?: Clock;
  /** How to open a WebSocket (default `new WebSocket(url)`). */
  readonly webSocket?: WebSocketFactory;
}

export interface BrowserPeerStats {
  readonly sent: number;
  readonly received: number;
  readonly dropped: number;
  readonly queued: number;
  readonly connected: boolean;
}

export class BrowserWebSocketTransport implements Transport {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  private readonly settings: BrowserLinkSettings;
  private readonly links = new Map<NodeId, BrowserLink>();
  /** Peers with no route (not ws/http addresses): sends are dropped. */
  private readonly unroutable = new Set<NodeId>();
  private readonly droppedUnknown = new Map<NodeId, number>();
  private readonly sendContext: SendContext;
  private handler: TransportHandler | undefined;
  private started = false;
  private stopped = false;
  private readonly reports: UnreachableReports;

  constructor(options: BrowserWebSocketTransportOptions) {
    this.clusterId = options.clusterId;
    this.memberId = options.memberId;
    const clock = options.clock ?? new RealClock();
    this.settings = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      logger: options.logger ?? silentLogger,
      clock,
      nextTurn: (callback) => clock.setTimer(0, callback),
      maxQueuedMessages: options.maxQueuedMessages ?? 10_000,
      maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxBatchBytes: options.maxBatchBytes ?? 256 * 1024,
      highWaterMark: options.highWaterMark ?? 1024 * 1024,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      dialTimeoutMs: options.dialTimeoutMs ?? 5_000,
      random: options.random ?? { next: Math.random },
      webSocket: options.webSocket ?? ((url) => new WebSocket(url) as unknown as WebSocketLike),
      deliver: (message) => this.deliver(message),
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
    this.reports = new UnreachableReports({
      handler: () => (this.stopped ? undefined : this.handler),
      logger: this.settings.logger,
      schedule: (callback) => clock.setTimer(0, callback),
    });
    this.sendContext = {
      links: this.links,
      droppedUnknown: this.droppedUnknown,
      maxFrameBytes: this.settings.maxFrameBytes,
      logger: this.settings.logger,
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
  }

  async start(handler: TransportHandler): Promise<void> {
    if (this.stopped) throw new Error(`transport of member ${formatId(this.memberId)} is closed`);
    if (this.started) throw new Error(`transport of member ${formatId(this.memberId)} is already started`);
    this.started = true;
    this.handler = handler;
  }

  get closed(): boolean {
    return this.stopped;
  }

  send(messages: readonly Message[]): void {
    if (this.stopped) return;
    sendFrames(this.sendContext, messages);
  }

  /** Dials `peer` at `address` (ws://host:port or etcd's http://host:port) and keeps the connection up. */
  addPeer(peer: NodeId, address: string): void {
    if (this.stopped) return;
    const url = browserPeerUrl(address);
    const existing = this.links.get(peer);
    if (existing && existing.url === url) return;
    existing?.close();
    this.links.delete(peer);
    this.unroutable.delete(peer);
    if (url === undefined) {
      this.settings.logger.warn('no route to a peer that cannot be dialed from a browser', {
        peer: formatId(peer),
        address,
      });
      this.unroutable.add(peer);
      return;
    }
    this.links.set(peer, new BrowserLink(this.settings, peer, url));
  }

  removePeer(peer: NodeId): void {
    this.links.get(peer)?.close();
    this.links.delete(peer);
    this.unroutable.delete(peer);
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.handler = undefined;
    this.reports.clear();
    for (const link of this.links.values()) link.close();
  }

  /** Whether the connection to `peer` is up (handshake accepted). */
  connected(peer: NodeId): boolean {
    return this.links.get(peer)?.connected === true;
  }

  stats(peer: NodeId): BrowserPeerStats {
    const link = this.links.get(peer);
    return {
      sent: link?.sent ?? 0,
      received: link?.received ?? 0,
      dropped: (link?.dropped ?? 0) + (this.droppedUnknown.get(peer) ?? 0),
      queued: link?.queued ?? 0,
      connected: link?.connected === true,
    };
  }

  /** Messages queued on all links plus unreachable reports not yet made: 0 once this side is quiet. */
  get pending(): number {
    let queued = this.reports.size;
    for (const link of this.links.values()) queued += link.queued;
    return queued;
  }

  private deliver(message: Message): void {
    const handler = this.handler;
    if (this.stopped || !handler) return;
    try {
      handler.onMessage(message);
    } catch (error) {
      this.settings.logger.error('message handler threw', { error: (error as Error).message });
    }
  }

  /** Coalesced per peer and made on a later task, never from inside send (UnreachableReports). */
  private reportUnreachable(peer: NodeId): void {
    if (this.stopped) return;
    this.reports.add(peer);
  }
}
