// One outbound connection to one peer: dialled lazily on the first send, handshake first, then a bounded queue of
// encoded frames written in batches, at most once per turn of the event loop and never past socket backpressure.
// A failed or refused connection drops what is queued, reports the peer unreachable, and backs off (exponential,
// with jitter) before the next send may dial again. Messages sent while backing off are dropped, as etcd's peer
// streams do: Raft resends whatever matters once the peer answers again.

import type { Clock, Logger, Random, TimerHandle } from '../../../src/env.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import { concatFrames, FrameQueue } from './frame-queue.ts';
import type { PeerDialer, PeerStream } from './stream.ts';
import {
  decodeHandshakeReply,
  encodeHello,
  FrameReader,
  formatId,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_VERSION,
} from './wire.ts';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** Dial with TLS (the peer URL is https://). */
  readonly tls?: boolean;
}

export interface BackoffOptions {
  /** First retry delay after a failure. */
  readonly initialMs: number;
  /** Cap on the delay. */
  readonly maxMs: number;
  /** Growth per consecutive failure. */
  readonly multiplier: number;
}

/** What a link needs from its transport. */
export interface LinkContext {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: Random;
  readonly backoff: BackoffOptions;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  /** Largest batch handed to one socket.write. */
  readonly maxBatchBytes: number;
  /** Connect plus handshake reply must complete within this. */
  readonly dialTimeoutMs: number;
  /** For tests only: the protocol version the hello claims. */
  readonly protocolVersion?: number;
  reportUnreachable(peer: NodeId): void;
  /** Opens the connection: TCP, or a WebSocket for the WebSocket transport. */
  readonly dial: PeerDialer;
  /** Registers a stream so that the transport's close() waits for it. */
  track(stream: PeerStream): void;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

export class PeerLink {
  readonly peer: NodeId;
  readonly address: PeerAddress;
  /** Messages written to the socket (not necessarily received). */
  sent = 0;
  /** Bytes written to the connection (frames, as etcd_network_peer_sent_bytes_total counts them). */
  sentBytes = 0;
  dropped = 0;
  private readonly ctx: LinkContext;
  private state: LinkState = 'idle';
  private socket: PeerStream | undefined;
  private readonly queue = new FrameQueue();
  /** The socket's buffer is above its high-water mark: wait for 'drain'. */
  private blocked = false;
  private flushScheduled: NodeJS.Immediate | undefined;
  private timer: TimerHandle | undefined;
  private failures = 0;

  constructor(ctx: LinkContext, peer: NodeId, address: PeerAddress) {
    this.ctx = ctx;
    this.peer = peer;
    this.address = address;
  }

  get queued(): number {
    return this.queue.length;
  }

  get bytesQueued(): number {
    return this.queue.bytes;
  }

  /** Whether a frame would be refused now without looking at its size: backing off, closed or full. */
  get refusing(): boolean {
    return (
      this.state === 'backoff' || this.state === 'closed' || this.queue.length >= this.ctx.maxQueuedMessages
    );
  }

  /** Queues one encoded frame; false when it was dropped (the caller reports it). */
  enqueue(frame: Uint8Array): boolean {
    if (this.refusing || this.queue.bytes + frame.length > this.ctx.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(frame);
    if (this.state === 'idle') this.dial();
    else if (this.state === 'open') this.scheduleFlush();
    return true;
  }

  /** Drops everything and closes the socket; resolves nothing (the transport waits on tracked sockets). */
  close(): void {
    this.state = 'closed';
    this.timer?.cancel();
    this.timer = undefined;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.clearQueue();
    this.socket?.destroy();
    this.socket = undefined;
  }

  private dial(): void {
    const { host, port } = this.address;
    this.state = 'connecting';
    this.blocked = false;
    const socket = this.ctx.dial(this.address);
    this.socket = socket;
    this.ctx.track(socket);
    this.timer = this.ctx.clock.setTimer(this.ctx.dialTimeoutMs, () => {
      this.timer = undefined;
      this.fail(socket, 'timed out connecting');
    });
    const reader = new FrameReader(MAX_HANDSHAKE_BYTES);
    socket.listen({
      open: () => {
        socket.write(
          encodeHello(
            { cluster: this.ctx.clusterId, from: this.ctx.memberId, to: this.peer },
            this.ctx.protocolVersion ?? PROTOCOL_VERSION,
          ),
        );
      },
      data: (chunk) => {
        if (this.socket !== socket) return;
        if (this.state !== 'connecting') {
          // The acceptor sends nothing after its reply.
          this.fail(socket, 'unexpected data from the acceptor');
          return;
        }
        let frames: Uint8Array[];
        let reply: ReturnType<typeof decodeHandshakeReply>;
        try {
          frames = reader.push(chunk);
          if (frames.length === 0) return;
          reply = decodeHandshakeReply(frames[0]);
        } catch (error) {
          this.fail(socket, `bad handshake reply: ${(error as Error).message}`);
          return;
        }
        if (!reply.ok) {
          this.ctx.logger.warn('peer refused our connection', {
            peer: formatId(this.peer),
            address: `${host}:${port}`,
            code: reply.code,
            reason: reply.reason,
          });
          this.fail(socket, `refused (${reply.code}): ${reply.reason}`, true);
          return;
        }
        if (frames.length > 1 || reader.bufferedBytes > 0) {
          this.fail(socket, 'unexpected data after the handshake reply');
          return;
        }
        this.open();
      },
      drain: () => {
        if (this.socket !== socket) return;
        this.blocked = false;
        this.flush();
      },
      close: (reason) => {
        if (this.socket === socket) this.fail(socket, reason ?? 'connection closed');
      },
    });
  }

  private open(): void {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.failures > 0) {
      this.ctx.logger.info('peer connection established', { peer: formatId(this.peer) });
    }
    this.failures = 0;
    this.state = 'open';
    this.scheduleFlush();
  }

  private fail(socket: PeerStream, reason: string, alreadyLogged = false): void {
    if (this.socket !== socket || this.state === 'closed') return;
    this.socket = undefined;
    socket.destroy();
    this.timer?.cancel();
    const lost = this.queue.length;
    this.dropped += lost;
    this.clearQueue();
    this.failures++;
    const delay = this.backoffDelay();
    if (!alreadyLogged) {
      // The first failure of a run is worth a warning; the retries after it are noise.
      const log = this.failures === 1 ? this.ctx.logger.warn : this.ctx.logger.debug;
      log.call(this.ctx.logger, 'peer connection failed', {
        peer: formatId(this.peer),
        address: `${this.address.host}:${this.address.port}`,
        reason,
        dropped: lost,
        retryInMs: Math.round(delay),
      });
    }
    this.ctx.reportUnreachable(this.peer);
    this.state = 'backoff';
    this.timer = this.ctx.clock.setTimer(delay, () => {
      this.timer = undefined;
      if (this.state === 'backoff') this.state = 'idle';
    });
  }

  /** Exponential backoff with "equal jitter": half the step is fixed, half is random. */
  private backoffDelay(): number {
    const { initialMs, maxMs, multiplier } = this.ctx.backoff;
    const step = Math.min(maxMs, initialMs * multiplier ** Math.min(this.failures - 1, 64));
    return step / 2 + (step / 2) * this.ctx.random.next();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.blocked) return;
    this.flushScheduled = setImmediate(() => {
      this.flushScheduled = undefined;
      this.flush();
    });
  }

  /** Writes queued frames, batched up to maxBatchBytes a write, until the queue is empty or the socket is full. */
  private flush(): void {
    const socket = this.socket;
    if (this.state !== 'open' || !socket) return;
    while (this.queue.length > 0 && !this.blocked) {
      const frames = this.queue.takeBatch(this.ctx.maxBatchBytes);
      this.sent += frames.length;
      const data = concatFrames(frames);
      this.sentBytes += data.length;
      if (!socket.write(data)) this.blocked = true;
    }
  }

  private clearQueue(): void {
    this.queue.clear();
  }
}
