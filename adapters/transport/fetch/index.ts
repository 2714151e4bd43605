// Raft messages between members that cannot hold sockets open — Durable Objects above all — as request/response
// calls: one call carries a batch of messages for one peer. How a call reaches the peer is injected (`deliver`):
// a Durable Object stub's RPC method or `stub.fetch` (./durable-object in adapters/runtime/cloudflare), or an HTTP
// POST to a member's peer URL (`httpDeliver` in http.ts, for Workers and Node members that serve `PEER_FETCH_PATH`).
// It implements the Transport contract of src/transport.ts: `send` never blocks or throws; per-peer queues are
// bounded and drop (reporting the peer unreachable) rather than grow; nothing is delivered after close().
//
// Batching: messages sent during one turn of the event loop (one Raft Ready, usually) are encoded at once (the
// caller may reuse its arrays when `send` returns) and queued per destination; a microtask then sends each peer
// its queue as one call. One call per peer is in flight at a time, so a link delivers in send order; what is
// queued meanwhile goes in the next call (up to `maxBatchBytes` each).
//
// The body of a call and its reply are the peer protocol's (../peer/batch.ts); an HTTP PeerDeliver is in http.ts.

import type { Logger } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import {
  type DeliveryReply,
  decodeBatch,
  encodeBatch,
  encodeMessage,
  type PeerDeliver,
} from '../peer/batch.ts';
import { FrameQueue } from '../peer/frame-queue.ts';
import { UnreachableReports } from '../peer/unreachable.ts';
import { formatId } from '../peer/wire.ts';

export * from '../peer/batch.ts';
export * from './http.ts';

export interface FetchTransportOptions {
  readonly id: NodeId;
  readonly clusterId: bigint;
  readonly deliver: PeerDeliver;
  /** Most messages waiting for one peer; more are dropped (and the peer reported unreachable). Default 16,384. */
  readonly maxQueuedMessages?: number;
  /** Most bytes waiting for one peer. Default 32 MiB. */
  readonly maxQueuedBytes?: number;
  /** Largest batch (sum of encoded messages) in one call, unless one message alone is larger. Default 4 MiB. */
  readonly maxBatchBytes?: number;
  readonly logger?: Logger;
}

interface PeerQueue {
  address: string;
  /** Encoded messages. */
  readonly queue: FrameQueue;
  inFlight: boolean;
}

export class FetchTransport implements Transport {
  readonly id: NodeId;
  readonly clusterId: bigint;
  private readonly deliver: PeerDeliver;
  private readonly logger: Logger;
  private readonly maxQueuedMessages: number;
  private readonly maxQueuedBytes: number;
  private readonly maxBatchBytes: number;
  private readonly peers = new Map<NodeId, PeerQueue>();
  private handler?: TransportHandler;
  private closed = false;
  private flushScheduled = false;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];
  /** Unreachable reports, made on a microtask (never from inside `send`). */
  private readonly unreachable: UnreachableReports;

  constructor(options: FetchTransportOptions) {
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.deliver = options.deliver;
    this.logger = options.logger ?? silentLogger;
    this.maxQueuedMessages = options.maxQueuedMessages ?? 16_384;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 * 1024;
    this.maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
    this.unreachable = new UnreachableReports({
      handler: () => (this.closed ? undefined : this.handler),
      logger: this.logger,
      schedule: (callback) =>
        queueMicrotask(() => {
          callback();
          this.checkIdle();
        }),
    });
  }

  async start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
  }

  addPeer(peer: NodeId, address: string): void {
    const q = this.peers.get(peer);
    if (q) q.address = address;
    else this.peers.set(peer, { address, queue: new FrameQueue(), inFlight: false });
  }

  removePeer(peer: NodeId): void {
    this.peers.delete(peer);
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const q = this.peers.get(m.to);
      if (!q) {
        this.reportUnreachable(m.to);
        continue;
      }
      let bytes: Uint8Array;
      try {
        bytes = encodeMessage(m);
      } catch (error) {
        this.logger.warn('peer message not encodable; dropped', { error: String(error) });
        continue;
      }
      if (q.queue.length >= this.maxQueuedMessages || q.queue.bytes + bytes.length > this.maxQueuedBytes) {
        this.reportUnreachable(m.to);
        continue;
      }
      q.queue.push(bytes);
    }
    this.scheduleFlush();
  }

  /**
   * Takes a batch that arrived for this member (from a peer's `deliver`) and hands its messages to the handler.
   * Never throws: a batch that is malformed, from another cluster, for another member, or arrives while closed
   * is refused as a whole.
   */
  receive(body: Uint8Array): DeliveryReply {
    if (this.closed || !this.handler) return { ok: false, code: 'closed', reason: 'transport closed' };
    const batch = decodeBatch(body, this, (from) => this.peers.has(from));
    if (!batch.ok) return batch;
    const decoded = batch.messages;
    const handler = this.handler;
    for (const m of decoded) {
      try {
        handler.onMessage(m);
      } catch (error) {
        this.logger.error('message handler threw', { error: String(error) });
      }
    }
    return { ok: true };
  }

  /** Resolves once nothing is queued or in flight (tests, and a host that wants to drain before closing). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
    for (const q of this.peers.values()) q.queue.clear();
    this.unreachable.clear();
    this.checkIdle();
  }

  private isIdle(): boolean {
    if (this.flushScheduled || this.inFlight > 0 || this.unreachable.size > 0) return false;
    for (const q of this.peers.values()) if (q.queue.length > 0) return false;
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private reportUnreachable(peer: NodeId): void {
    if (this.closed) return;
    this.unreachable.add(peer);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.closed) return this.checkIdle();
    for (const [peer, q] of this.peers) {
      if (!q.inFlight && q.queue.length > 0) this.sendBatch(peer, q);
    }
    this.checkIdle();
  }

  private sendBatch(peer: NodeId, q: PeerQueue): void {
    const messages = q.queue.takeBatch(this.maxBatchBytes);
    let body: Uint8Array;
    try {
      body = encodeBatch({ cluster: this.clusterId, from: this.id, to: peer, messages });
    } catch (error) {
      this.logger.error('peer batch not encodable; dropped', { error: String(error) });
      return;
    }
    q.inFlight = true;
    this.inFlight++;
    const done = (reply: DeliveryReply | undefined, error?: unknown) => {
      q.inFlight = false;
      this.inFlight--;
      if (!reply?.ok) {
        this.logger.debug('peer batch not delivered', {
          peer: formatId(peer),
          reason: reply && !reply.ok ? `${reply.code}: ${reply.reason}` : String(error),
        });
        this.reportUnreachable(peer);
      }
      if (q.queue.length > 0 && this.peers.get(peer) === q) this.scheduleFlush();
      this.checkIdle();
    };
    let pending: Promise<DeliveryReply>;
    try {
      pending = this.deliver(q.address, body);
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (reply) => done(reply),
      (error) => done(undefined, error),
    );
  }
}
