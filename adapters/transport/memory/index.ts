// An in-process network for tests and the browser demo: transports hand messages to each other through clock
// timers, with loss, delay, duplication and partitions decided by a FaultModel. Delivery is by copy, so neither
// side can corrupt what the other holds.
//
// Lease messages (src/transport.ts: keep-alives forwarded to the leader) take the same links and faults.
//
// Ordering: two messages on one link arrive in send order when the FaultModel gives them equal delays and the
// Clock fires equal-time timers in the order they were set (RealClock and a FIFO virtual clock do).

import type { Clock } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { FaultModel } from '../../../src/sim/fault-model.ts';
import type { LeaseMessage, LeaseSendResult, Transport, TransportHandler } from '../../../src/transport.ts';

export interface MemoryNetworkOptions {
  /** Messages in flight on one directed link beyond which sends to it drop (and are reported). */
  readonly maxInFlightPerLink?: number;
}

export const DEFAULT_MAX_IN_FLIGHT_PER_LINK = 10_000;

export class MemoryNetwork {
  readonly clock: Clock;
  readonly faults: FaultModel;
  readonly maxInFlightPerLink: number;
  private readonly endpoints = new Map<NodeId, MemoryTransport>();
  private readonly inFlightByLink = new Map<string, number>();
  private pendingTimers = 0;

  constructor(clock: Clock, faults: FaultModel, options: MemoryNetworkOptions = {}) {
    this.clock = clock;
    this.faults = faults;
    this.maxInFlightPerLink = options.maxInFlightPerLink ?? DEFAULT_MAX_IN_FLIGHT_PER_LINK;
  }

  /** A new transport for node `id`. An open transport for `id` must be closed before another is made. */
  transport(id: NodeId): Transport {
    const existing = this.endpoints.get(id);
    if (existing && !existing.closed) throw new Error(`node ${id} already has an open transport`);
    const transport = new MemoryTransport(this, id);
    this.endpoints.set(id, transport);
    return transport;
  }

  /** Timers (deliveries and unreachable reports) set and not yet fired: 0 once the network is quiet. */
  get pending(): number {
    return this.pendingTimers;
  }

  /** @internal Sets a clock timer that `pending` counts. */
  schedule(delayMs: number, callback: () => void): void {
    this.pendingTimers++;
    this.clock.setTimer(delayMs, () => {
      this.pendingTimers--;
      callback();
    });
  }

  /** @internal Whether node `id` is open and takes lease messages. */
  takesLeases(id: NodeId): boolean {
    const receiver = this.endpoints.get(id);
    return !!receiver && !receiver.closed && !!receiver.handler?.onLeaseMessage;
  }

  /** @internal Routes one message from `sender`; false when it was refused in a way worth reporting. */
  route(sender: MemoryTransport, message: Message | LeaseMessage): boolean {
    const receiver = this.endpoints.get(message.to);
    if (!receiver || receiver.closed || !receiver.handler) return false;
    const link = `${sender.id}>${message.to}`;
    const inFlight = this.inFlightByLink.get(link) ?? 0;
    if (inFlight >= this.maxInFlightPerLink) return false;
    const delays = this.faults.plan(sender.id, message.to);
    for (const delay of delays) {
      // One copy per delivery: the sender may reuse its arrays, and duplicates must not share state.
      const copy = structuredClone(message);
      this.inFlightByLink.set(link, (this.inFlightByLink.get(link) ?? 0) + 1);
      this.schedule(delay, () => {
        const left = (this.inFlightByLink.get(link) ?? 1) - 1;
        if (left === 0) this.inFlightByLink.delete(link);
        else this.inFlightByLink.set(link, left);
        // Checked on arrival: a close or removePeer while in flight loses the message.
        if (sender.closed || !sender.hasPeer(copy.to) || this.endpoints.get(copy.to) !== receiver) return;
        if (receiver.closed || !receiver.handler) return;
        if ('request' in copy) receiver.handler.onLeaseMessage?.(copy);
        else receiver.handler.onMessage(copy);
      });
    }
    return true;
  }
}

/** @internal One node's view of a MemoryNetwork. */
class MemoryTransport implements Transport {
  readonly id: NodeId;
  handler: TransportHandler | undefined;
  closed = false;
  private readonly network: MemoryNetwork;
  private readonly peers = new Map<NodeId, string>();

  constructor(network: MemoryNetwork, id: NodeId) {
    this.network = network;
    this.id = id;
  }

  async start(handler: TransportHandler): Promise<void> {
    if (this.closed) throw new Error(`transport of node ${this.id} is closed`);
    this.handler = handler;
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const message of messages) {
      const delivered = this.peers.has(message.to) && this.network.route(this, message);
      if (!delivered) this.reportUnreachable(message.to);
    }
  }

  sendLease(message: LeaseMessage): LeaseSendResult {
    if (this.closed || !this.peers.has(message.to) || !this.network.takesLeases(message.to)) return 'never';
    if (!this.network.route(this, message)) this.reportUnreachable(message.to);
    return 'sent';
  }

  /** The address is ignored: peers are found by node ID on the shared network. */
  addPeer(peer: NodeId, address: string): void {
    this.peers.set(peer, address);
  }

  removePeer(peer: NodeId): void {
    this.peers.delete(peer);
  }

  hasPeer(peer: NodeId): boolean {
    return this.peers.has(peer);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
  }

  /** Reported from a timer, not from inside `send`, so the handler is never re-entered by its own send. */
  private reportUnreachable(peer: NodeId): void {
    const handler = this.handler;
    if (!handler?.onUnreachable) return;
    this.network.schedule(0, () => {
      if (!this.closed && this.handler === handler) handler.onUnreachable?.(peer);
    });
  }
}
