// An in-page network for members running in Web Workers (the browser demo): each member's InPageTransport
// talks over a MessagePort (one end of a MessageChannel) to one InPageHub in the page, which decides each
// message's fate with the same FaultModel as the memory transport and the simulator (drop rate, delays, slow
// links, partitions, one-way cuts) and forwards it to the receiver's port. Structured clone copies messages
// (bigints and Uint8Arrays included), so no side can corrupt what the other holds.
//
// The hub keeps every message in flight in one queue on a PausableClock: pausing it freezes the network, and
// `step()` then delivers the next message by hand. Observers (`onEvent`) see each message sent, dropped and
// delivered, with its type, which the demo animates.
//
// Wire format on a port: member → hub `{ kind: 'send', messages }` and `{ kind: 'close' }`;
// hub → member `{ kind: 'deliver', message }` and `{ kind: 'unreachable', peer }`.

import type { Clock } from '../../../src/env.ts';
import type { Message, MessageType, NodeId } from '../../../src/raft/types.ts';
import type { FaultModel } from '../../../src/sim/fault-model.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import { PausableClock } from './clock.ts';

export { PausableClock } from './clock.ts';

/** What the transport and the hub need of a MessagePort (also fits a Worker or a worker's global scope). */
export interface PortLike {
  postMessage(data: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** MessagePort needs it when listening through addEventListener. */
  start?(): void;
}

type ToHub = { kind: 'send'; messages: Message[] } | { kind: 'close' };
type ToMember = { kind: 'deliver'; message: Message } | { kind: 'unreachable'; peer: NodeId };

/** One message on the wire, as the hub's observers see it. */
export interface WireMessage {
  readonly seq: number;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly type: MessageType;
  /** Hub clock times. */
  readonly sentAt: number;
  readonly dueAt: number;
  /** Entries carried (MsgApp) or snapshot bytes (MsgSnap), for labels. */
  readonly entries: number;
  readonly reject: boolean;
}

export type HubEvent =
  | { readonly kind: 'sent'; readonly message: WireMessage }
  | { readonly kind: 'delivered'; readonly message: WireMessage }
  | {
      readonly kind: 'dropped';
      readonly message: WireMessage;
      /** `fault`: the FaultModel lost it; `down`: no member attached at the receiving end; `full`: link queue full. */
      readonly reason: 'fault' | 'down' | 'full';
    };

export interface InPageHubOptions {
  /** Messages in flight on one directed link beyond which sends to it drop. Default 10,000 (as the memory transport). */
  readonly maxInFlightPerLink?: number;
}

interface Queued {
  readonly wire: WireMessage;
  readonly message: Message;
}

export class InPageHub {
  readonly faults: FaultModel;
  readonly clock: PausableClock;
  private readonly maxInFlightPerLink: number;
  private readonly ports = new Map<NodeId, { port: PortLike; listener: (e: { data: unknown }) => void }>();
  private readonly listeners = new Set<(event: HubEvent) => void>();
  /** In flight, ordered by (dueAt, seq). */
  private queue: Queued[] = [];
  private readonly inFlightByLink = new Map<string, number>();
  private seq = 0;
  private timer: { cancel(): void } | undefined;

  constructor(faults: FaultModel, clock: Clock, options: InPageHubOptions = {}) {
    this.faults = faults;
    this.clock = clock instanceof PausableClock ? clock : new PausableClock(clock);
    this.maxInFlightPerLink = options.maxInFlightPerLink ?? 10_000;
  }

  /** Connects member `id`'s end of a channel. A member attached again (restarted) replaces its old port. */
  attach(id: NodeId, port: PortLike): void {
    this.detach(id);
    const listener = (event: { data: unknown }) => this.receive(id, event.data as ToHub);
    port.addEventListener('message', listener);
    port.start?.();
    this.ports.set(id, { port, listener });
  }

  /** Disconnects member `id` (it crashed or closed): messages to it are lost from now on. */
  detach(id: NodeId): void {
    const entry = this.ports.get(id);
    if (!entry) return;
    entry.port.removeEventListener('message', entry.listener);
    this.ports.delete(id);
  }

  isAttached(id: NodeId): boolean {
    return this.ports.has(id);
  }

  onEvent(listener: (event: HubEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Messages in flight, earliest first. */
  inFlight(): readonly WireMessage[] {
    return this.queue.map((q) => q.wire);
  }

  get paused(): boolean {
    return this.clock.paused;
  }

  pause(): void {
    this.clock.pause();
  }

  resume(): void {
    this.clock.resume();
  }

  /** Delivers the next message in flight now, whatever its due time (for stepping while paused). */
  step(): WireMessage | undefined {
    const next = this.queue.shift();
    if (!next) return undefined;
    this.deliver(next);
    this.arm();
    return next.wire;
  }

  private emit(event: HubEvent): void {
    for (const l of this.listeners) l(event);
  }

  private receive(from: NodeId, data: ToHub): void {
    if (!data || typeof data !== 'object') return;
    if (data.kind === 'close') {
      this.detach(from);
      return;
    }
    if (data.kind !== 'send') return;
    for (const message of data.messages) this.route(from, message);
  }

  private route(from: NodeId, message: Message): void {
    const now = this.clock.now();
    const base = {
      from,
      to: message.to,
      type: message.type,
      sentAt: now,
      entries: message.entries?.length ?? message.snapshot?.data.length ?? 0,
      reject: message.reject === true,
    };
    if (!this.ports.has(message.to)) {
      const wire = { ...base, seq: this.seq++, dueAt: now };
      this.emit({ kind: 'dropped', message: wire, reason: 'down' });
      this.post(from, { kind: 'unreachable', peer: message.to });
      return;
    }
    const link = `${from}>${message.to}`;
    const delays = this.faults.plan(from, message.to);
    if (delays.length === 0) {
      this.emit({ kind: 'dropped', message: { ...base, seq: this.seq++, dueAt: now }, reason: 'fault' });
      return;
    }
    for (const delay of delays) {
      const wire: WireMessage = { ...base, seq: this.seq++, dueAt: now + delay };
      if ((this.inFlightByLink.get(link) ?? 0) >= this.maxInFlightPerLink) {
        this.emit({ kind: 'dropped', message: wire, reason: 'full' });
        this.post(from, { kind: 'unreachable', peer: message.to });
        continue;
      }
      this.inFlightByLink.set(link, (this.inFlightByLink.get(link) ?? 0) + 1);
      let i = this.queue.length;
      while (i > 0 && this.queue[i - 1].wire.dueAt > wire.dueAt) i--;
      this.queue.splice(i, 0, { wire, message });
      this.emit({ kind: 'sent', message: wire });
    }
    this.arm();
  }

  private deliver(q: Queued): void {
    const link = `${q.wire.from}>${q.wire.to}`;
    const left = (this.inFlightByLink.get(link) ?? 1) - 1;
    if (left <= 0) this.inFlightByLink.delete(link);
    else this.inFlightByLink.set(link, left);
    // Checked on arrival: a member that went down while the message travelled never gets it.
    if (!this.ports.has(q.wire.to)) {
      this.emit({ kind: 'dropped', message: q.wire, reason: 'down' });
      return;
    }
    this.post(q.wire.to, { kind: 'deliver', message: q.message });
    this.emit({ kind: 'delivered', message: q.wire });
  }

  private post(to: NodeId, data: ToMember): void {
    const entry = this.ports.get(to);
    if (!entry) return;
    try {
      entry.port.postMessage(data);
    } catch {
      // A port whose worker is gone: the message is lost, as on a real network.
    }
  }

  /** One timer for the earliest message in flight (the PausableClock holds it while paused). */
  private arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const head = this.queue[0];
    if (!head) return;
    this.timer = this.clock.setTimer(Math.max(0, head.wire.dueAt - this.clock.now()), () => {
      this.timer = undefined;
      const now = this.clock.now();
      while (this.queue.length > 0 && this.queue[0].wire.dueAt <= now) this.deliver(this.queue.shift()!);
      this.arm();
    });
  }
}

/** A member's end of the in-page network (runs in the member's worker). */
export class InPageTransport implements Transport {
  readonly id: NodeId;
  private readonly port: PortLike;
  private handler: TransportHandler | undefined;
  private closed = false;
  private readonly peers = new Map<NodeId, string>();
  private readonly listener = (event: { data: unknown }) => this.receive(event.data as ToMember);

  constructor(id: NodeId, port: PortLike) {
    this.id = id;
    this.port = port;
  }

  async start(handler: TransportHandler): Promise<void> {
    if (this.closed) throw new Error(`transport of node ${this.id} is closed`);
    this.handler = handler;
    this.port.addEventListener('message', this.listener);
    this.port.start?.();
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const out: Message[] = [];
    for (const m of messages) {
      if (this.peers.has(m.to)) out.push(m);
      else this.reportUnreachable(m.to);
    }
    if (out.length === 0) return;
    try {
      // postMessage clones synchronously: the caller may reuse its arrays once send returns.
      this.port.postMessage({ kind: 'send', messages: out } satisfies ToHub);
    } catch {
      for (const m of out) this.reportUnreachable(m.to);
    }
  }

  /** The address is informational: the hub routes by node ID. */
  addPeer(peer: NodeId, address: string): void {
    this.peers.set(peer, address);
  }

  removePeer(peer: NodeId): void {
    this.peers.delete(peer);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.port.removeEventListener('message', this.listener);
    try {
      this.port.postMessage({ kind: 'close' } satisfies ToHub);
    } catch {
      // already gone
    }
  }

  private receive(data: ToMember): void {
    const handler = this.handler;
    if (this.closed || !handler || !data || typeof data !== 'object') return;
    if (data.kind === 'deliver') {
      // Messages from a peer removed meanwhile are still delivered: Raft ignores what it does not expect.
      if (data.message.to === this.id) handler.onMessage(data.message);
    } else if (data.kind === 'unreachable') {
      handler.onUnreachable?.(data.peer);
    }
  }

  /** Reported from a task, not from inside `send`, so the handler is never re-entered by its own send. */
  private reportUnreachable(peer: NodeId): void {
    const handler = this.handler;
    if (!handler?.onUnreachable) return;
    setTimeout(() => {
      if (!this.closed && this.handler === handler) handler.onUnreachable?.(peer);
    }, 0);
  }
}
