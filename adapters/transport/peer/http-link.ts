// The link to a peer reached by HTTP batches instead of a connection: a member in a Durable Object behind a
// Worker (`https://edgecd.example.workers.dev?member=do-1`, as etcdctl member add takes it, or
// `…/edgecd/peer/do-1`) or any member serving PEER_FETCH_PATH (`http://host:port/edgecd/peer/batch`). Each call
// POSTs, to the batch URL of the address (httpBatchUrl in ./routes.ts), a batch body (./batch.ts). One call is in
// flight at a time, so the link keeps send order; what is queued meanwhile goes in the next call. A failed or
// refused call drops its batch and what is queued, reports the peer unreachable and backs off (./link.ts).
// Browser-safe: `fetch` and the timers come from the transport.

import type { NodeId } from '../../../src/raft/types.ts';
import { type DeliveryReply, decodeReply, encodeBatch } from './batch.ts';
import { type LinkSettings, QueuedLink } from './link.ts';
import { httpBatchUrl, PEER_CONTENT_TYPE, PEER_SECRET_HEADER } from './routes.ts';
import { FRAME_HEADER_BYTES } from './wire.ts';

export interface HttpLinkSettings extends LinkSettings {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  /** Largest batch body (sum of messages) in one call, unless one message alone is larger. */
  readonly maxCallBytes: number;
  /** A call must be answered within this. */
  readonly requestTimeoutMs: number;
  readonly fetch: typeof fetch;
  /** Sent with every call (PEER_SECRET_HEADER) when set. */
  readonly peerSecret?: string;
}

export class HttpLink extends QueuedLink {
  readonly url: string;
  /** Messages the peer acknowledged. */
  acknowledged = 0;
  private readonly ctx: HttpLinkSettings;
  private inFlight = 0;
  private controller: AbortController | undefined;
  private state: 'ready' | 'backoff' | 'closed' = 'ready';

  constructor(ctx: HttpLinkSettings, peer: NodeId, url: string) {
    super(ctx, peer);
    this.ctx = ctx;
    this.url = httpBatchUrl(url) ?? url;
  }

  /** Queued plus in flight: 0 once the link is quiet. */
  override get queued(): number {
    return this.queue.length + this.inFlight;
  }

  protected get accepting(): boolean {
    return this.state === 'ready';
  }

  /** Messages go in a batch body as frame payloads, without the length header. */
  protected override queueItem(frame: Uint8Array): Uint8Array {
    return frame.subarray(FRAME_HEADER_BYTES);
  }

  protected queuedOne(): void {
    this.scheduleFlush();
  }

  close(): void {
    this.state = 'closed';
    this.stop();
    this.controller?.abort();
  }

  protected flush(): void {
    if (this.state !== 'ready' || this.inFlight > 0 || this.queue.length === 0) return;
    const messages = this.queue.takeBatch(this.ctx.maxCallBytes);
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
    // One call at a time: what is queued meanwhile waits for this one's answer.
    this.blocked = true;
    this.sent += count;
    this.sentBytes += body.length;
    const controller = new AbortController();
    this.controller = controller;
    const timer = this.ctx.clock.setTimer(this.ctx.requestTimeoutMs, () => controller.abort());
    const settle = (reply: DeliveryReply) => {
      timer.cancel();
      if (this.controller === controller) this.controller = undefined;
      this.inFlight = 0;
      this.blocked = false;
      if (this.state === 'closed') return;
      if (reply.ok) {
        this.acknowledged += count;
        this.recovered('peer reachable over HTTP');
        this.scheduleFlush();
      } else {
        this.state = 'backoff';
        const failure = { message: 'peer batch not delivered', where: { url: this.url } };
        this.backOff({ ...failure, reason: `${reply.code}: ${reply.reason}`, lostInFlight: count }, () => {
          if (this.state === 'backoff') this.state = 'ready';
        });
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
}
