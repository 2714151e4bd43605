// Raft messages between members that cannot hold sockets open — Durable Objects above all — as request/response
// calls: one call carries a batch of messages for one peer. How a call reaches the peer is injected (`deliver`):
// a Durable Object stub's RPC method or `stub.fetch` (./durable-object in adapters/runtime/cloudflare), or an HTTP
// POST to a member's peer URL (`httpDeliver` below, for Workers and Node members that serve `PEER_FETCH_PATH`).
// It implements the Transport contract of src/transport.ts: `send` never blocks or throws; per-peer queues are
// bounded and drop (reporting the peer unreachable) rather than grow; nothing is delivered after close().
//
// Batching: messages sent during one turn of the event loop (one Raft Ready, usually) are encoded at once (the
// caller may reuse its arrays when `send` returns) and queued per destination; a microtask then sends each peer
// its queue as one call. One call per peer is in flight at a time, so a link delivers in send order; what is
// queued meanwhile goes in the next call (up to `maxBatchBytes` each).
//
// Body (protocol version 1): msgpack (@msgpack/msgpack, useBigInt64) of
//   { v: 1, cluster: bigint, from: bigint, to: bigint, msgs: Uint8Array[] }
// where each element of `msgs` is one Message as msgpack (the peer wire format of ../tcp, decoded by its
// decodeMessage: int64-coded number fields come back as numbers). Every call carries the handshake fields, so
// the receiver checks each batch on its own: another cluster, another target member or another protocol version
// is refused. Reply: { ok: true } | { ok: false, code, reason } (msgpack over HTTP; a plain object over RPC).

import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Logger } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import { decodeMessage, formatId } from '../tcp/wire.ts';

export const FETCH_PROTOCOL_VERSION = 1;
/** Where a member that takes peer batches over HTTP serves them (POST, msgpack body and reply). */
export const PEER_FETCH_PATH = '/edgecd/peer/batch';
export const PEER_CONTENT_TYPE = 'application/vnd.edgecd.peer+msgpack';
/**
 * The cluster's shared peer secret, when one is configured (Node --experimental-peer-secret, the Worker's
 * EDGECD_PEER_SECRET): HTTP batches carry it and receivers refuse a batch without it. Members that cannot present
 * a peer certificate (Durable Objects) prove membership this way.
 */
export const PEER_SECRET_HEADER = 'x-edgecd-peer-secret';

/**
 * The URL to POST a peer batch to, for a peer address that takes HTTP batches, else undefined (a Node member's
 * `http://host:port` takes TCP frames; it also serves `PEER_FETCH_PATH`). Two forms name a member behind a Worker:
 *   `https://edgecd.example.workers.dev?member=do-1`   what `etcdctl member add --peer-urls` accepts (etcd refuses
 *                                                       a peer URL with a path, not one with a query);
 *   `https://edgecd.example.workers.dev/edgecd/peer/do-1` the route itself; both are POSTed to the latter.
 */
export function httpBatchUrl(address: string): string | undefined {
  const m = /^(https?:\/\/[^/?#]+)(\/[^?#]*)?(?:\?([^#]*))?$/i.exec(address.trim());
  if (!m) return undefined;
  const [, origin, path = '', query = ''] = m;
  if (path.startsWith('/edgecd/peer/') && path.length > '/edgecd/peer/'.length) return `${origin}${path}`;
  const member = new URLSearchParams(query).get('member');
  if (member && (path === '' || path === '/')) return `${origin}/edgecd/peer/${encodeURIComponent(member)}`;
  return undefined;
}

/** Compares a presented secret with the configured one in time independent of where they differ. */
export function peerSecretMatches(
  expected: string | undefined,
  presented: string | null | undefined,
): boolean {
  if (expected === undefined || expected === '') return true;
  if (typeof presented !== 'string') return false;
  const a = new TextEncoder().encode(expected);
  const b = new TextEncoder().encode(presented);
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ (b[i % Math.max(1, b.length)] ?? 0);
  return diff === 0;
}

/** 'member' (the sender is not a peer of the receiver) comes from Node members' peer ports (../tcp). */
export type RefusalCode = 'version' | 'cluster' | 'target' | 'closed' | 'malformed' | 'member';

export type DeliveryReply =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: RefusalCode; readonly reason: string };

/**
 * Sends one encoded batch to the peer at `address` and resolves with its reply. Rejecting (or resolving a
 * refusal) makes the transport drop the batch and report the peer unreachable; Raft retransmits.
 */
export type PeerDeliver = (address: string, body: Uint8Array) => Promise<DeliveryReply>;

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
  messages: Uint8Array[];
  bytes: number;
  inFlight: boolean;
}

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

export interface Batch {
  readonly cluster: bigint;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly messages: readonly Uint8Array[];
}

/**
 * Decodes and checks a batch body as FetchTransport.receive does (version, cluster, target, each message's
 * from/to), for other receivers (a Node member's peer port). Never throws.
 */
export function decodeBatch(
  body: Uint8Array,
  self: { readonly clusterId: bigint; readonly id: NodeId },
): { ok: true; from: NodeId; messages: Message[] } | Exclude<DeliveryReply, { ok: true }> {
  let value: Record<string, unknown>;
  try {
    value = decoder.decode(body) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, code: 'malformed', reason: `undecodable batch: ${(error as Error).message}` };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, code: 'malformed', reason: 'not a batch' };
  }
  if (value.v !== FETCH_PROTOCOL_VERSION && value.v !== BigInt(FETCH_PROTOCOL_VERSION)) {
    return { ok: false, code: 'version', reason: `unsupported protocol version ${String(value.v)}` };
  }
  if (value.cluster !== self.clusterId) {
    return { ok: false, code: 'cluster', reason: `cluster ID mismatch (${String(value.cluster)})` };
  }
  if (value.to !== self.id) {
    return { ok: false, code: 'target', reason: `batch for ${String(value.to)} reached ${self.id}` };
  }
  const from = value.from;
  if (typeof from !== 'bigint' || !Array.isArray(value.msgs)) {
    return { ok: false, code: 'malformed', reason: 'malformed batch' };
  }
  const messages: Message[] = [];
  try {
    for (const raw of value.msgs) {
      if (!(raw instanceof Uint8Array)) throw new Error('message is not binary');
      const m = decodeMessage(raw);
      if (m.to !== self.id || m.from !== from) throw new Error('message from/to differ from the batch');
      messages.push(m);
    }
  } catch (error) {
    return { ok: false, code: 'malformed', reason: (error as Error).message };
  }
  return { ok: true, from, messages };
}

export function encodeBatch(batch: Batch): Uint8Array {
  return encoder.encode({
    v: FETCH_PROTOCOL_VERSION,
    cluster: batch.cluster,
    from: batch.from,
    to: batch.to,
    msgs: batch.messages,
  });
}

/** A message as it travels inside a batch (a fresh copy of every byte array it holds). */
export function encodeMessage(message: Message): Uint8Array {
  return encoder.encode(message);
}

export function encodeReply(reply: DeliveryReply): Uint8Array {
  return encoder.encode(reply);
}

export function decodeReply(body: Uint8Array): DeliveryReply {
  try {
    const value = decoder.decode(body) as Record<string, unknown> | null;
    if (value && value.ok === true) return { ok: true };
    if (value && value.ok === false) {
      return {
        ok: false,
        code: (typeof value.code === 'string' ? value.code : 'malformed') as RefusalCode,
        reason: typeof value.reason === 'string' ? value.reason : 'refused',
      };
    }
  } catch {}
  return { ok: false, code: 'malformed', reason: 'undecodable reply' };
}

/**
 * A PeerDeliver over HTTP: POSTs the batch to a member behind a Worker at its batch URL (httpBatchUrl), and
 * otherwise (a Node member's `http://host:port`) to `${address}${PEER_FETCH_PATH}`; with the peer secret when one
 * is given.
 */
export function httpDeliver(fetchFn: typeof fetch = fetch, timeoutMs = 5000, secret?: string): PeerDeliver {
  return async (address, body) => {
    const url = httpBatchUrl(address) ?? `${address.replace(/\/+$/, '')}${PEER_FETCH_PATH}`;
    const headers: Record<string, string> = { 'content-type': PEER_CONTENT_TYPE };
    if (secret) headers[PEER_SECRET_HEADER] = secret;
    const res = await fetchFn(url, {
      method: 'POST',
      headers,
      body: body as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const reply = new Uint8Array(await res.arrayBuffer());
    // A Node member's peer port (../tcp) answers an accepted batch with 204 and no body.
    if (res.status === 204) return { ok: true };
    if (!res.ok) {
      const refusal = reply.length > 0 ? decodeReply(reply) : undefined;
      if (refusal && !refusal.ok && refusal.reason !== 'undecodable reply') return refusal;
      return { ok: false, code: 'malformed', reason: `HTTP ${res.status}` };
    }
    return decodeReply(reply);
  };
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
  /** Unreachable reports waiting for the next microtask (never from inside `send`). */
  private unreachable = new Set<NodeId>();

  constructor(options: FetchTransportOptions) {
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.deliver = options.deliver;
    this.logger = options.logger ?? silentLogger;
    this.maxQueuedMessages = options.maxQueuedMessages ?? 16_384;
    this.maxQueuedBytes = options.maxQueuedBytes ?? 32 * 1024 * 1024;
    this.maxBatchBytes = options.maxBatchBytes ?? 4 * 1024 * 1024;
  }

  async start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
  }

  addPeer(peer: NodeId, address: string): void {
    const q = this.peers.get(peer);
    if (q) q.address = address;
    else this.peers.set(peer, { address, messages: [], bytes: 0, inFlight: false });
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
      if (q.messages.length >= this.maxQueuedMessages || q.bytes + bytes.length > this.maxQueuedBytes) {
        this.reportUnreachable(m.to);
        continue;
      }
      q.messages.push(bytes);
      q.bytes += bytes.length;
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
    let value: Record<string, unknown>;
    try {
      value = decoder.decode(body) as Record<string, unknown>;
    } catch (error) {
      return { ok: false, code: 'malformed', reason: `undecodable batch: ${(error as Error).message}` };
    }
    if (!value || typeof value !== 'object') return { ok: false, code: 'malformed', reason: 'not a batch' };
    if (value.v !== FETCH_PROTOCOL_VERSION && value.v !== BigInt(FETCH_PROTOCOL_VERSION)) {
      return { ok: false, code: 'version', reason: `unsupported protocol version ${String(value.v)}` };
    }
    if (value.cluster !== this.clusterId) {
      return { ok: false, code: 'cluster', reason: `cluster ID mismatch (${String(value.cluster)})` };
    }
    if (value.to !== this.id) {
      return { ok: false, code: 'target', reason: `batch for ${String(value.to)} reached ${this.id}` };
    }
    const from = value.from;
    if (typeof from !== 'bigint' || !Array.isArray(value.msgs)) {
      return { ok: false, code: 'malformed', reason: 'malformed batch' };
    }
    if (!this.peers.has(from)) {
      // Not a current member (never added, or removed): refused as the Node peer port refuses it.
      return { ok: false, code: 'member', reason: `member ${formatId(from)} is not a peer of this member` };
    }
    const decoded: Message[] = [];
    try {
      for (const raw of value.msgs) {
        if (!(raw instanceof Uint8Array)) throw new Error('message is not binary');
        const m = decodeMessage(raw);
        if (m.to !== this.id || m.from !== from) throw new Error('message from/to differ from the batch');
        decoded.push(m);
      }
    } catch (error) {
      return { ok: false, code: 'malformed', reason: (error as Error).message };
    }
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
    for (const q of this.peers.values()) {
      q.messages = [];
      q.bytes = 0;
    }
    this.unreachable.clear();
    this.checkIdle();
  }

  private isIdle(): boolean {
    if (this.flushScheduled || this.inFlight > 0 || this.unreachable.size > 0) return false;
    for (const q of this.peers.values()) if (q.messages.length > 0) return false;
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
    this.scheduleFlush();
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
    if (this.unreachable.size > 0) {
      const peers = [...this.unreachable];
      this.unreachable.clear();
      for (const peer of peers) {
        try {
          this.handler?.onUnreachable?.(peer);
        } catch (error) {
          this.logger.error('onUnreachable threw', { error: String(error) });
        }
      }
    }
    for (const [peer, q] of this.peers) {
      if (!q.inFlight && q.messages.length > 0) this.sendBatch(peer, q);
    }
    this.checkIdle();
  }

  private sendBatch(peer: NodeId, q: PeerQueue): void {
    let n = 0;
    let bytes = 0;
    while (n < q.messages.length && (n === 0 || bytes + q.messages[n].length <= this.maxBatchBytes)) {
      bytes += q.messages[n].length;
      n++;
    }
    const messages = q.messages.splice(0, n);
    q.bytes -= bytes;
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
      if (q.messages.length > 0 && this.peers.get(peer) === q) this.scheduleFlush();
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
