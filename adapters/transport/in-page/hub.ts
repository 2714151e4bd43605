// The page's side of the in-page network (index.ts): routes each message by the FaultModel's plan, holds what is in
// flight on a PausableClock (pause, step), and tells observers what was sent, dropped and delivered.

import type { Clock } from '../../../src/env.ts';
import type { Message, MessageType, NodeId } from '../../../src/raft/types.ts';
import type { FaultModel } from '../../../src/sim/fault-model.ts';
import { PausableClock } from './clock.ts';
import type { PortLike, ToHub, ToMember } from './port.ts';

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
