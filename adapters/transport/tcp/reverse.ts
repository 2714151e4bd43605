// The link to a peer that cannot be dialed (a browser member): it dials us, announcing `listens: false` in its
// handshake, and we send it our messages as frames on that same inbound connection. While no such connection is
// up, sends to the peer are dropped and the peer is reported unreachable; it reconnects on its own (with backoff),
// and the newest connection wins. Queues are bounded and written in batches as PeerLink's.

import type { Logger } from '../../../src/env.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import { concatFrames, FrameQueue } from './frame-queue.ts';
import type { InboundConnection } from './inbound.ts';
import { formatId } from './wire.ts';

export interface ReverseLinkContext {
  readonly logger: Logger;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  readonly maxBatchBytes: number;
  reportUnreachable(peer: NodeId): void;
}

export class ReverseLink {
  readonly peer: NodeId;
  /** What addPeer was given (e.g. `browser:` or the peer's unusable URL). */
  readonly addressText: string;
  sent = 0;
  sentBytes = 0;
  dropped = 0;
  private readonly ctx: ReverseLinkContext;
  private connection: InboundConnection | undefined;
  private readonly queue = new FrameQueue();
  private blocked = false;
  private flushScheduled: NodeJS.Immediate | undefined;
  private closedForGood = false;

  constructor(ctx: ReverseLinkContext, peer: NodeId, addressText: string) {
    this.ctx = ctx;
    this.peer = peer;
    this.addressText = addressText;
  }

  get queued(): number {
    return this.queue.length;
  }

  get bytesQueued(): number {
    return this.queue.bytes;
  }

  /** Whether the peer currently has a connection to send on. */
  get connected(): boolean {
    return this.connection?.open === true;
  }

  get refusing(): boolean {
    return this.closedForGood || !this.connected || this.queue.length >= this.ctx.maxQueuedMessages;
  }

  enqueue(frame: Uint8Array): boolean {
    if (this.refusing || this.queue.bytes + frame.length > this.ctx.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(frame);
    this.scheduleFlush();
    return true;
  }

  /** The peer (re)connected: send on this connection from now on (an older one is closed). */
  attach(connection: InboundConnection): void {
    if (this.closedForGood) return;
    const previous = this.connection;
    if (previous === connection) return;
    this.connection = connection;
    this.blocked = false;
    connection.onDrain = () => {
      if (this.connection !== connection) return;
      this.blocked = false;
      this.flush();
    };
    if (previous) {
      previous.onDrain = undefined;
      previous.close();
    } else {
      this.ctx.logger.info('reverse peer connection established', { peer: formatId(this.peer) });
    }
    this.scheduleFlush();
  }

  /** `connection` closed: if it was ours, what is queued is dropped and the peer reported unreachable. */
  detach(connection: InboundConnection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    connection.onDrain = undefined;
    const lost = this.queue.length;
    this.dropped += lost;
    this.clearQueue();
    this.ctx.logger.warn('reverse peer connection lost', { peer: formatId(this.peer), dropped: lost });
    if (!this.closedForGood) this.ctx.reportUnreachable(this.peer);
  }

  close(): void {
    this.closedForGood = true;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.clearQueue();
    if (this.connection) this.connection.onDrain = undefined;
    this.connection = undefined;
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.blocked) return;
    this.flushScheduled = setImmediate(() => {
      this.flushScheduled = undefined;
      this.flush();
    });
  }

  private flush(): void {
    const connection = this.connection;
    if (this.closedForGood || !connection?.open) return;
    while (this.queue.length > 0 && !this.blocked) {
      const frames = this.queue.takeBatch(this.ctx.maxBatchBytes);
      this.sent += frames.length;
      const data = concatFrames(frames);
      this.sentBytes += data.length;
      if (!connection.write(data)) this.blocked = true;
    }
  }

  private clearQueue(): void {
    this.queue.clear();
  }
}
