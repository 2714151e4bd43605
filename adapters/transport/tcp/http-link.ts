// The link to a peer reached by HTTP batches instead of a connection: a member in a Durable Object behind a
// Worker (`https://edgecd.example.workers.dev?member=do-1`, as etcdctl member add takes it, or
// `…/edgecd/peer/do-1`) or any member serving PEER_FETCH_PATH (`http://host:port/edgecd/peer/batch`). Each call
// POSTs, to the batch URL of the address (httpBatchUrl in ../fetch), the fetch transport's
// batch body ({ v, cluster, from, to, msgs[] }, see ../fetch). One call is in flight at a time, so the link keeps
// send order; what is queued meanwhile goes in the next call. A failed or refused call drops its batch and what is
// queued, reports the peer unreachable and backs off (sends meanwhile are dropped), as PeerLink does.

import type { Clock, Logger, Random, TimerHandle } from '../../../src/env.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import {
  type DeliveryReply,
  decodeReply,
  encodeBatch,
  httpBatchUrl,
  PEER_CONTENT_TYPE,
  PEER_SECRET_HEADER,
} from '../fetch/index.ts';
import { FrameQueue } from './frame-queue.ts';
import type { BackoffOptions } from './link.ts';
import { FRAME_HEADER_BYTES, formatId } from './wire.ts';

export interface HttpLinkContext {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: Random;
  readonly backoff: BackoffOptions;
  readonly maxQueuedMessages: number;
  readonly maxQueuedBytes: number;
  /** Largest batch body (sum of messages) in one call, unless one message alone is larger. */
  readonly maxBatchBytes: number;
  /** A call must be answered within this. */
  readonly requestTimeoutMs: number;
  readonly fetch: typeof fetch;
  /** Sent with every call (PEER_SECRET_HEADER) when set. */
  readonly peerSecret?: string;
  reportUnreachable(peer: NodeId): void;
}

/** Whether `address` names an HTTP batch endpoint (a member behind a Worker; see httpBatchUrl). */
export function isHttpBatchAddress(address: string): boolean {
  return httpBatchUrl(address) !== undefined;
}

export class HttpLink {
  readonly peer: NodeId;
  readonly url: string;
  sent = 0;
  sentBytes = 0;
  dropped = 0;
  /** Messages the peer acknowledged. */
  acknowledged = 0;
  private readonly ctx: HttpLinkContext;
  /** Encoded messages (frame payloads, without the length header). */
  private readonly queue = new FrameQueue();
  private inFlight = 0;
  private controller: AbortController | undefined;
  private state: 'ready' | 'backoff' | 'closed' = 'ready';
  private timer: TimerHandle | undefined;
  private flushScheduled: NodeJS.Immediate | undefined;
  private failures = 0;

  constructor(ctx: HttpLinkContext, peer: NodeId, url: string) {
    this.ctx = ctx;
    this.peer = peer;
    this.url = httpBatchUrl(url) ?? url;
  }

  /** Queued plus in flight: 0 once the link is quiet. */
  get queued(): number {
    return this.queue.length + this.inFlight;
  }

  get bytesQueued(): number {
    return this.queue.bytes;
  }

  get refusing(): boolean {
    return this.state !== 'ready' || this.queue.length >= this.ctx.maxQueuedMessages;
  }

  /** Takes one encoded frame (header included, as TcpTransport.send makes them). */
  enqueue(frame: Uint8Array): boolean {
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (this.refusing || this.queue.bytes + payload.length > this.ctx.maxQueuedBytes) {
      this.dropped++;
      return false;
    }
    this.queue.push(payload);
    this.scheduleFlush();
    return true;
  }

  close(): void {
    this.state = 'closed';
    this.timer?.cancel();
    this.timer = undefined;
    if (this.flushScheduled) clearImmediate(this.flushScheduled);
    this.flushScheduled = undefined;
    this.queue.clear();
    this.controller?.abort();
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.inFlight > 0) return;
    this.flushScheduled = setImmediate(() => {
      this.flushScheduled = undefined;
      this.post();
    });
  }

  private post(): void {
    if (this.state !== 'ready' || this.inFlight > 0 || this.queue.length === 0) return;
    const messages = this.queue.takeBatch(this.ctx.maxBatchBytes);
    const count = messages.length;
    let body: Uint8Array;
    try {
      body = encodeBatch({ cluster: this.ctx.clusterId, from: this.ctx.memberId, to: this.peer, messages });
    } catch (error) {
      this.dropped += count;
      this.ctx.logger.error('cannot encode a peer batch, dropping it', { error: (error as Error).message });
      this.ctx.reportUnreachable(this.peer);
      this.scheduleFlush();
      return;
    }
    this.inFlight = count;
    this.sent += count;
    this.sentBytes += body.length;
    const controller = new AbortController();
    this.controller = controller;
    const timer = this.ctx.clock.setTimer(this.ctx.requestTimeoutMs, () => controller.abort());
    const settle = (reply: DeliveryReply) => {
      timer.cancel();
      if (this.controller === controller) this.controller = undefined;
      this.inFlight = 0;
      if (this.state === 'closed') return;
      if (reply.ok) {
        this.acknowledged += count;
        if (this.failures > 0)
          this.ctx.logger.info('peer reachable over HTTP', { peer: formatId(this.peer) });
        this.failures = 0;
        this.scheduleFlush();
      } else {
        this.fail(count, `${reply.code}: ${reply.reason}`);
      }
    };
    let pending: Promise<DeliveryReply>;
    try {
      pending = this.call(body, controller.signal);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(settle, (error: unknown) =>
      settle({
        ok: false,
        code: 'closed',
        reason: controller.signal.aborted ? 'timed out' : String((error as Error)?.message ?? error),
      }),
    );
  }

  private async call(body: Uint8Array, signal: AbortSignal): Promise<DeliveryReply> {
    const res = await this.ctx.fetch(this.url, {
      method: 'POST',
      headers: this.ctx.peerSecret
        ? { 'content-type': PEER_CONTENT_TYPE, [PEER_SECRET_HEADER]: this.ctx.peerSecret }
        : { 'content-type': PEER_CONTENT_TYPE },
      body: body as Uint8Array<ArrayBuffer>,
      signal,
    });
    const reply = new Uint8Array(await res.arrayBuffer());
    if (res.status === 204) return { ok: true };
    const decoded = reply.length > 0 ? decodeReply(reply) : undefined;
    if (res.ok) return decoded ?? { ok: true };
    if (decoded && !decoded.ok) return decoded;
    return { ok: false, code: 'malformed', reason: `HTTP ${res.status}` };
  }

  private fail(lostInFlight: number, reason: string): void {
    const lost = lostInFlight + this.queue.length;
    this.dropped += lost;
    this.queue.clear();
    this.failures++;
    const { initialMs, maxMs, multiplier } = this.ctx.backoff;
    const step = Math.min(maxMs, initialMs * multiplier ** Math.min(this.failures - 1, 64));
    const delay = step / 2 + (step / 2) * this.ctx.random.next();
    const log = this.failures === 1 ? this.ctx.logger.warn : this.ctx.logger.debug;
    log.call(this.ctx.logger, 'peer batch not delivered', {
      peer: formatId(this.peer),
      url: this.url,
      reason,
      dropped: lost,
      retryInMs: Math.round(delay),
    });
    this.ctx.reportUnreachable(this.peer);
    this.state = 'backoff';
    this.timer = this.ctx.clock.setTimer(delay, () => {
      this.timer = undefined;
      if (this.state === 'backoff') this.state = 'ready';
    });
  }
}
