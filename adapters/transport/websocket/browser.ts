// Raft messages between a browser member and Node members, over the global WebSocket (no `ws`, no node:*). A
// browser cannot listen, so it dials each Node peer's ws://host:port/edgecd/peer (PEER_WEBSOCKET_PATH on the
// peer port of ../tcp) and both directions share that connection: the handshake announces `listens: false`, and
// the Node member answers with its own messages as frames on the same WebSocket (a reverse link; see the wire
// format at the top of ../tcp/index.ts — preamble, length-prefixed msgpack frames, handshake and reply).
//
// Transport contract (src/transport.ts): `send` never blocks or throws; per-peer queues are bounded and drop
// (reporting the peer unreachable) rather than grow; nothing is delivered after close(). Connections are opened
// eagerly (on addPeer) and kept up, so that the peer can reach us; a failed or refused connection drops what is
// queued, reports the peer unreachable and redials after a backoff (exponential, with jitter). Messages sent while
// backing off are dropped, as the Node transport does. A peer whose address is not ws:// or http:// (e.g. another
// browser, `browser:…`) has no route: sends to it are dropped and reported.

import type { Logger, Random } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import { concatFrames, FrameQueue } from '../tcp/frame-queue.ts';
import { type SendContext, sendFrames } from '../tcp/send-frames.ts';
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeHandshakeReply,
  decodeMessage,
  encodeHello,
  FrameReader,
  FrameTooLargeError,
  formatId,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_VERSION,
} from '../tcp/wire.ts';

/** The path on a Node member's peer port that upgrades to the peer protocol (PEER_WEBSOCKET_PATH). */
export const BROWSER_PEER_PATH = '/edgecd/peer';

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

export interface BrowserBackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
  readonly multiplier: number;
}

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

interface Settings {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxFrameBytes: number;
  readonly maxBatchBytes: number;
  readonly highWaterMark: number;
  readonly backoff: BrowserBackoffOptions;
  readonly dialTimeoutMs: number;
  readonly random: Random;
  readonly webSocket: WebSocketFactory;
  deliver(message: Message, from: NodeId): void;
  reportUnreachable(peer: NodeId): void;
}

const OPEN = 1;

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

type LinkState = 'connecting' | 'open' | 'backoff' | 'closed';

class BrowserLink {
  readonly peer: NodeId;
  readonly url: string;
  sent = 0;
  received = 0;
  dropped = 0;
  private readonly s: Settings;
  private state: LinkState = 'backoff';
  private ws: WebSocketLike | undefined;
  private reader = new FrameReader(MAX_HANDSHAKE_BYTES);
  private handshaken = false;
  private readonly queue = new FrameQueue();
  private flushScheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;

  constructor(settings: Settings, peer: NodeId, url: string) {
    this.s = settings;
    this.peer = peer;
    this.url = url;
    this.connect();
  }

  get queued(): number {
    return this.queue.length;
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  get refusing(): boolean {
    return (
      this.state === 'backoff' || this.state === 'closed' || this.queue.length >= this.s.maxQueuedMessages
    );
  }

  enqueue(frame: Uint8Array): boolean {
    if (this.refusing || this.queue.bytes + frame.length > this.s.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(frame);
    if (this.state === 'open') this.scheduleFlush();
    return true;
  }

  close(): void {
    this.state = 'closed';
    this.clearTimer();
    this.queue.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) closeQuietly(ws);
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private connect(): void {
    this.state = 'connecting';
    this.handshaken = false;
    this.reader = new FrameReader(MAX_HANDSHAKE_BYTES);
    let ws: WebSocketLike;
    try {
      ws = this.s.webSocket(this.url);
      ws.binaryType = 'arraybuffer';
    } catch (error) {
      this.ws = undefined;
      this.fail(undefined, `cannot open ${this.url}: ${(error as Error).message}`);
      return;
    }
    this.ws = ws;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.fail(ws, 'timed out connecting');
    }, this.s.dialTimeoutMs);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      try {
        ws.send(
          encodeHello(
            { cluster: this.s.clusterId, from: this.s.memberId, to: this.peer, listens: false },
            PROTOCOL_VERSION,
          ) as Uint8Array<ArrayBuffer>,
        );
      } catch (error) {
        this.fail(ws, `cannot send the handshake: ${(error as Error).message}`);
      }
    };
    ws.onmessage = (event) => {
      if (this.ws !== ws) return;
      const data = event.data;
      if (!(data instanceof ArrayBuffer)) {
        this.fail(ws, 'non-binary message on a peer WebSocket');
        return;
      }
      this.receive(ws, new Uint8Array(data));
    };
    ws.onerror = () => {};
    ws.onclose = (event) => {
      if (this.ws === ws) this.fail(ws, `connection closed (${event.code}) ${event.reason}`.trim());
    };
  }

  private receive(ws: WebSocketLike, chunk: Uint8Array): void {
    let frames: Uint8Array[];
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      const reason =
        error instanceof FrameTooLargeError ? error.message : `bad data: ${(error as Error).message}`;
      this.fail(ws, reason);
      return;
    }
    for (const frame of frames) {
      if (this.ws !== ws) return;
      if (!this.handshaken) {
        let reply: ReturnType<typeof decodeHandshakeReply>;
        try {
          reply = decodeHandshakeReply(frame);
        } catch (error) {
          this.fail(ws, `bad handshake reply: ${(error as Error).message}`);
          return;
        }
        if (!reply.ok) {
          this.fail(ws, `refused (${reply.code}): ${reply.reason}`);
          return;
        }
        this.handshaken = true;
        this.reader.maxFrameBytes = this.s.maxFrameBytes;
        this.open();
        continue;
      }
      let message: Message;
      try {
        message = decodeMessage(frame);
      } catch (error) {
        this.fail(ws, (error as Error).message);
        return;
      }
      if (message.to !== this.s.memberId || message.from !== this.peer) {
        this.s.logger.warn('dropping a misaddressed peer message', {
          peer: formatId(this.peer),
          from: formatId(message.from),
          to: formatId(message.to),
          type: message.type,
        });
        continue;
      }
      this.received++;
      this.s.deliver(message, this.peer);
    }
  }

  private open(): void {
    this.clearTimer();
    if (this.failures > 0) this.s.logger.info('peer connection established', { peer: formatId(this.peer) });
    this.failures = 0;
    this.state = 'open';
    this.scheduleFlush();
  }

  private fail(ws: WebSocketLike | undefined, reason: string): void {
    if (this.state === 'closed' || this.ws !== ws) return;
    this.ws = undefined;
    if (ws) closeQuietly(ws);
    this.clearTimer();
    const lost = this.queue.length;
    this.dropped += lost;
    this.queue.clear();
    this.failures++;
    const { initialMs, maxMs, multiplier } = this.s.backoff;
    const step = Math.min(maxMs, initialMs * multiplier ** Math.min(this.failures - 1, 64));
    const delay = step / 2 + (step / 2) * this.s.random.next();
    const log = this.failures === 1 ? this.s.logger.warn : this.s.logger.debug;
    log.call(this.s.logger, 'peer connection failed', {
      peer: formatId(this.peer),
      url: this.url,
      reason,
      dropped: lost,
      retryInMs: Math.round(delay),
    });
    this.s.reportUnreachable(this.peer);
    this.state = 'backoff';
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.state === 'backoff') this.connect();
    }, delay);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setTimeout(() => {
      this.flushScheduled = false;
      this.flush();
    }, 0);
  }

  private flush(): void {
    const ws = this.ws;
    if (this.state !== 'open' || !ws) return;
    if (ws.readyState !== OPEN) return;
    while (this.queue.length > 0) {
      if (ws.bufferedAmount >= this.s.highWaterMark) {
        // The browser WebSocket has no 'drain' event: look again shortly.
        this.flushScheduled = true;
        setTimeout(() => {
          this.flushScheduled = false;
          this.flush();
        }, 5);
        return;
      }
      const frames = this.queue.takeBatch(this.s.maxBatchBytes);
      const count = frames.length;
      const data = concatFrames(frames);
      try {
        ws.send(data as Uint8Array<ArrayBuffer>);
        this.sent += count;
      } catch (error) {
        this.dropped += count;
        this.fail(ws, `send failed: ${(error as Error).message}`);
        return;
      }
    }
  }
}

function closeQuietly(ws: WebSocketLike): void {
  ws.onopen = null;
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
  try {
    ws.close(1000);
  } catch {}
}

export class BrowserWebSocketTransport implements Transport {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  private readonly settings: Settings;
  private readonly links = new Map<NodeId, BrowserLink>();
  /** Peers with no route (not ws/http addresses): sends are dropped. */
  private readonly unroutable = new Set<NodeId>();
  private readonly droppedUnknown = new Map<NodeId, number>();
  private readonly sendContext: SendContext;
  private handler: TransportHandler | undefined;
  private started = false;
  private stopped = false;
  private readonly pendingReports = new Set<NodeId>();
  private reportScheduled = false;

  constructor(options: BrowserWebSocketTransportOptions) {
    this.clusterId = options.clusterId;
    this.memberId = options.memberId;
    this.settings = {
      clusterId: options.clusterId,
      memberId: options.memberId,
      logger: options.logger ?? silentLogger,
      maxQueuedMessages: options.maxQueuedMessages ?? 10_000,
      maxQueuedBytes: options.maxQueuedBytes ?? 64 * 1024 * 1024,
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      maxBatchBytes: options.maxBatchBytes ?? 256 * 1024,
      highWaterMark: options.highWaterMark ?? 1024 * 1024,
      backoff: { initialMs: 100, maxMs: 5_000, multiplier: 2, ...options.backoff },
      dialTimeoutMs: options.dialTimeoutMs ?? 5_000,
      random: options.random ?? { next: Math.random },
      webSocket: options.webSocket ?? ((url) => new WebSocket(url) as unknown as WebSocketLike),
      deliver: (message) => this.deliver(message),
      reportUnreachable: (peer) => this.reportUnreachable(peer),
    };
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
    this.pendingReports.clear();
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
    let queued = this.pendingReports.size;
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

  /** Coalesced per peer and made on a later task, never from inside send. */
  private reportUnreachable(peer: NodeId): void {
    if (this.stopped) return;
    this.pendingReports.add(peer);
    if (this.reportScheduled) return;
    this.reportScheduled = true;
    setTimeout(() => {
      this.reportScheduled = false;
      const peers = [...this.pendingReports];
      this.pendingReports.clear();
      for (const p of peers) {
        const handler = this.handler;
        if (this.stopped || !handler?.onUnreachable) return;
        try {
          handler.onUnreachable(p);
        } catch (error) {
          this.settings.logger.error('unreachable handler threw', {
            peer: formatId(p),
            error: (error as Error).message,
          });
        }
      }
    }, 0);
  }
}
