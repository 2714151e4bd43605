// One browser member's link to one Node member over a WebSocket it dials (see browser.ts): hello with
// `listens: false`, handshake reply, then frames both ways (the Node member answers on this connection). The
// queue, counters, backoff and unreachable reports are every link's (../peer/link.ts); unlike a Node member's
// links, this one is dialed at once and redialed after each backoff, so that the peer can always reach us.

import type { Message, NodeId } from '../../../src/raft/types.ts';
import { concatFrames } from '../peer/frame-queue.ts';
import { type LinkSettings, QueuedLink } from '../peer/link.ts';
import {
  decodeHandshakeReply,
  decodeMessage,
  encodeHello,
  FrameReader,
  FrameTooLargeError,
  formatId,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_VERSION,
} from '../peer/wire.ts';
import { closeQuietly, OPEN, type WebSocketFactory, type WebSocketLike } from './browser-socket.ts';

/** What a link needs from its transport. */
export interface BrowserLinkSettings extends LinkSettings {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly maxFrameBytes: number;
  readonly highWaterMark: number;
  readonly dialTimeoutMs: number;
  readonly webSocket: WebSocketFactory;
  deliver(message: Message, from: NodeId): void;
}

type LinkState = 'connecting' | 'open' | 'backoff' | 'closed';

/** How soon a flush looks again while the WebSocket's buffer is full (it has no 'drain' event). */
const BUFFER_POLL_MS = 5;

export class BrowserLink extends QueuedLink {
  readonly url: string;
  received = 0;
  private readonly s: BrowserLinkSettings;
  private state: LinkState = 'backoff';
  private ws: WebSocketLike | undefined;
  private reader = new FrameReader(MAX_HANDSHAKE_BYTES);
  private handshaken = false;

  constructor(settings: BrowserLinkSettings, peer: NodeId, url: string) {
    super(settings, peer);
    this.s = settings;
    this.url = url;
    this.connect();
  }

  get connected(): boolean {
    return this.state === 'open';
  }

  protected get accepting(): boolean {
    return this.state !== 'backoff' && this.state !== 'closed';
  }

  protected queuedOne(): void {
    if (this.state === 'open') this.scheduleFlush();
  }

  close(): void {
    this.state = 'closed';
    this.stop();
    const ws = this.ws;
    this.ws = undefined;
    if (ws) closeQuietly(ws);
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
    this.timer = this.s.clock.setTimer(this.s.dialTimeoutMs, () => {
      this.timer = undefined;
      this.fail(ws, 'timed out connecting');
    });
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
    this.state = 'open';
    this.established();
  }

  private fail(ws: WebSocketLike | undefined, reason: string): void {
    if (this.state === 'closed' || this.ws !== ws) return;
    this.ws = undefined;
    if (ws) closeQuietly(ws);
    this.state = 'backoff';
    this.backOff({ message: 'peer connection failed', where: { url: this.url }, reason }, () => {
      if (this.state === 'backoff') this.connect();
    });
  }

  protected flush(): void {
    const ws = this.ws;
    if (this.state !== 'open' || !ws) return;
    if (ws.readyState !== OPEN) return;
    while (this.queue.length > 0) {
      if (ws.bufferedAmount >= this.s.highWaterMark) {
        // The browser WebSocket has no 'drain' event: look again shortly.
        this.scheduleFlush(BUFFER_POLL_MS);
        return;
      }
      const frames = this.queue.takeBatch(this.s.maxBatchBytes);
      const count = frames.length;
      const data = concatFrames(frames);
      try {
        ws.send(data as Uint8Array<ArrayBuffer>);
        this.sent += count;
        this.sentBytes += data.length;
      } catch (error) {
        this.dropped += count;
        this.fail(ws, `send failed: ${(error as Error).message}`);
        return;
      }
    }
  }
}
