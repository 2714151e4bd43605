// What every peer link shares (a connection we dial, a reverse link, an HTTP link, the browser's WebSocket): a
// bounded queue of encoded frames that drops rather than grows, counters, writes in batches on a later turn of
// the event loop, and after a failure: drop what is queued, report the peer unreachable and wait a backoff
// (exponential, with jitter) before trying again. Messages sent meanwhile are dropped, as etcd's peer streams
// do: Raft resends whatever matters once the peer answers again. Browser-safe: timers come from the transport.

import type { Clock, LogFields, Logger, Random, TimerHandle } from '../../../src/env.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import { type BackoffOptions, backoffDelay } from './backoff.ts';
import { concatFrames, FrameQueue } from './frame-queue.ts';
import { formatId } from './wire.ts';

/** What a link needs from its transport. */
export interface LinkSettings {
  readonly logger: Logger;
  /** Timers: dial timeouts, backoff, polling. */
  readonly clock: Clock;
  /** Backoff jitter. */
  readonly random: Random;
  readonly backoff: BackoffOptions;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  /** Largest batch of frames handed to one write. */
  readonly maxBatchBytes: number;
  /** Runs `callback` on a later turn of the event loop (setImmediate on Node, a 0 ms timer in browsers). */
  nextTurn(callback: () => void): TimerHandle;
  /** Coalesced by the transport and made on a later turn (./unreachable.ts). */
  reportUnreachable(peer: NodeId): void;
}

/** Why a link backs off, for its log line. */
export interface LinkFailure {
  /** The log message ('peer connection failed', …). */
  readonly message: string;
  /** Where the peer was tried (`address` or `url`), logged after the peer. */
  readonly where: LogFields;
  readonly reason: string;
  /** Messages lost beyond those queued (a batch in flight). */
  readonly lostInFlight?: number;
  /** The caller logged the failure already. */
  readonly logged?: boolean;
}

export abstract class QueuedLink {
  readonly peer: NodeId;
  /** Messages written to the connection (not necessarily received). */
  sent = 0;
  /** Bytes written (frames, as etcd_network_peer_sent_bytes_total counts them; batch bodies for HTTP). */
  sentBytes = 0;
  /** Messages dropped: queue full, not connected, backing off, lost with a failed connection. */
  dropped = 0;
  protected readonly settings: LinkSettings;
  protected readonly queue = new FrameQueue();
  /** Consecutive failures; 0 while the link works. */
  protected failures = 0;
  /** Writing must wait: the stream is above its high-water mark, or a call is in flight. */
  protected blocked = false;
  /** The dial timeout or the backoff in progress. */
  protected timer: TimerHandle | undefined;
  private flushTimer: TimerHandle | undefined;

  constructor(settings: LinkSettings, peer: NodeId) {
    this.settings = settings;
    this.peer = peer;
  }

  /** Messages waiting: 0 once the link is quiet. */
  get queued(): number {
    return this.queue.length;
  }

  get bytesQueued(): number {
    return this.queue.bytes;
  }

  /** Whether a frame would be refused now without looking at its size: not accepting, or full. */
  get refusing(): boolean {
    return !this.accepting || this.queue.length >= this.settings.maxQueuedMessages;
  }

  /** Queues one encoded frame; false when it was dropped (the caller reports it). */
  enqueue(frame: Uint8Array): boolean {
    const item = this.queueItem(frame);
    if (this.refusing || this.queue.bytes + item.length > this.settings.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(item);
    this.queuedOne();
    return true;
  }

  /** Whether the link takes frames now (not backing off, not closed, …). */
  protected abstract get accepting(): boolean;

  /** A frame was queued: dial, or schedule a flush. */
  protected abstract queuedOne(): void;

  /** Writes what is queued, if the link can. */
  protected abstract flush(): void;

  /** What the queue keeps of a frame (the whole frame; an HTTP link keeps the payload). */
  protected queueItem(frame: Uint8Array): Uint8Array {
    return frame;
  }

  /** Flushes on the next turn (or after `delayMs`), once however many frames are queued meanwhile. */
  protected scheduleFlush(delayMs?: number): void {
    if (this.flushTimer || this.blocked) return;
    const run = () => {
      this.flushTimer = undefined;
      this.flush();
    };
    this.flushTimer =
      delayMs === undefined ? this.settings.nextTurn(run) : this.settings.clock.setTimer(delayMs, run);
  }

  /** Writes queued frames, batched up to maxBatchBytes a write, until the queue is empty or `write` says full. */
  protected writeQueued(write: (data: Uint8Array) => boolean): void {
    while (this.queue.length > 0 && !this.blocked) {
      const frames = this.queue.takeBatch(this.settings.maxBatchBytes);
      this.sent += frames.length;
      const data = concatFrames(frames);
      this.sentBytes += data.length;
      if (!write(data)) this.blocked = true;
    }
  }

  /** Cancels the timers and drops what is queued (closing; the subclass closes its connection). */
  protected stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    this.queue.clear();
  }

  /** The link works (again); `message` is logged when it failed before. */
  protected recovered(message: string): void {
    if (this.failures > 0) this.settings.logger.info(message, { peer: formatId(this.peer) });
    this.failures = 0;
  }

  /** The connection is up (handshake accepted): the dial timer stops, a recovery is logged, the queue written. */
  protected established(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.recovered('peer connection established');
    this.scheduleFlush();
  }

  /** Drops what is queued (and what was in flight), reports the peer unreachable, calls `retry` after a backoff. */
  protected backOff(failure: LinkFailure, retry: () => void): void {
    this.timer?.cancel();
    const lost = (failure.lostInFlight ?? 0) + this.queue.length;
    this.dropped += lost;
    this.queue.clear();
    this.failures++;
    const { logger } = this.settings;
    const delay = backoffDelay(this.settings.backoff, this.failures, this.settings.random);
    if (!failure.logged) {
      // The first failure of a run is worth a warning; the retries after it are noise.
      const log = this.failures === 1 ? logger.warn : logger.debug;
      log.call(logger, failure.message, {
        peer: formatId(this.peer),
        ...failure.where,
        reason: failure.reason,
        dropped: lost,
        retryInMs: Math.round(delay),
      });
    }
    this.settings.reportUnreachable(this.peer);
    this.timer = this.settings.clock.setTimer(delay, () => {
      this.timer = undefined;
      retry();
    });
  }
}
