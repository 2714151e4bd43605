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
// The hub is in hub.ts, the messages on a port (the wire format) in port.ts; this file is a member's end.

import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../../src/transport.ts';
import type { PortLike, ToHub, ToMember } from './port.ts';

export { PausableClock } from './clock.ts';
export { type HubEvent, InPageHub, type InPageHubOptions, type WireMessage } from './hub.ts';
export type { PortLike } from './port.ts';

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
