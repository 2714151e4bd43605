// One browser member's link to one Node member over a WebSocket it dials (see browser.ts): hello, handshake reply,
// then frames both ways; a queue that drops rather than grows; on failure, a report and a redial after backoff.

import type { Logger, Random } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import { type BackoffOptions, backoffDelay } from '../peer/backoff.ts';
import { concatFrames, FrameQueue } from '../tcp/frame-queue.ts';
import {
  decodeHandshakeReply,
  decodeMessage,
  encodeHello,
  FrameReader,
  FrameTooLargeError,
  formatId,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_VERSION,
} from '../tcp/wire.ts';
import { closeQuietly, OPEN, type WebSocketFactory, type WebSocketLike } from './browser-socket.ts';

/** What a link needs from its transport. */
export interface BrowserLinkSettings {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxFrameBytes: number;
  readonly maxBatchBytes: number;
  readonly highWaterMark: number;
  readonly backoff: BackoffOptions;
  readonly dialTimeoutMs: number;
  readonly random: Random;
  readonly webSocket: WebSocketFactory;
  deliver(message: Message, from: NodeId): void;
  reportUnreachable(peer: NodeId): void;
}

type LinkState = 'connecting' | 'open' | 'backoff' | 'closed';

export class BrowserLink {
  readonly peer: NodeId;
  readonly url: string;
  sent = 0;
  received = 0;
  dropped = 0;
  private readonly s: BrowserLinkSettings;
  private state: LinkState = 'backoff';
  private ws: WebSocketLike | undefined;
  private reader = new FrameReader(MAX_HANDSHAKE_BYTES);
  private handshaken = false;
  private readonly queue = new FrameQueue();
  private flushScheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;

  constructor(settings: BrowserLinkSettings, peer: NodeId, url: string) {
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
    const delay = backoffDelay(this.s.backoff, this.failures, this.s.random);
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
