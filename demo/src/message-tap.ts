/// <reference lib="dom" />
// What the page knows of the live cluster's messages. The hub's observers see a message's type and size only; to
// label messages with term and index the page taps each member's port and hands the hub one message at a time,
// so that the hub's synchronous 'sent' event can be matched to the full message. From the same events: recent
// losses (drawn as ✕), when each leader last sent heartbeats (its pulse), and timeline lines from the messages
// themselves (votes asked, granted and refused, snapshots sent). A message in flight can be dropped by hand: its
// delivery is swallowed at the receiver's port (the hub routes, the tap decides what reaches the worker).

import type { InPageHub, PortLike, WireMessage } from '../../adapters/transport/in-page/index.ts';
import type { Message } from '../../src/raft/types.ts';
import type { MsgFacts } from './graph/messages.ts';
import { msgLabel } from './graph/messages.ts';
import { log } from './timeline.ts';

/** What a label can say of a live message: everything when the page tapped it, else its type and size. */
export function facts(w: WireMessage, m?: Message): MsgFacts {
  return {
    type: w.type,
    known: m !== undefined,
    term: m?.term ?? 0,
    index: m?.index ?? 0,
    commit: m?.commit ?? 0,
    entries: m?.entries?.length ?? w.entries,
    reject: w.reject === true,
    snapshotIndex: m?.snapshot?.metadata.index ?? 0,
  };
}

type PortListener = (event: { data: unknown }) => void;

export class MessageTap {
  /** Full messages by the hub's sequence number, while in flight. */
  readonly detail = new Map<number, Message>();
  /** Messages lost lately (real time of the loss), newest last. */
  readonly drops: { w: WireMessage; m?: Message; at: number }[] = [];
  /** When each leader last sent heartbeats (real time). */
  readonly heartbeatAt = new Map<number, number>();
  /** Messages in flight dropped by hand: never drawn again, never delivered. */
  readonly droppedByHand = new Set<number>();
  /** Deliveries swallowed so far. */
  swallowed = 0;
  private tapped: Message | undefined;
  /** Deliveries still to swallow, per message (a duplicated message arrives twice). */
  private readonly doomed = new Map<Message, number>();
  private justSwallowed: Message | undefined;

  constructor(hub: InPageHub) {
    hub.onEvent((e) => {
      const w = e.message;
      if (e.kind === 'delivered' && this.justSwallowed !== undefined) {
        // The hub thinks it delivered this one; the tap kept it from the worker.
        if (this.detail.get(w.seq) === this.justSwallowed) {
          this.justSwallowed = undefined;
          this.detail.delete(w.seq);
          return;
        }
      }
      const t = this.tapped;
      if (t && t.type === w.type && t.to === w.to && (e.kind === 'sent' || e.kind === 'dropped'))
        this.detail.set(w.seq, t);
      const m = this.detail.get(w.seq);
      if (e.kind === 'dropped' && e.reason !== 'down') this.drops.push({ w, m, at: performance.now() });
      if (this.drops.length > 30) this.drops.shift();
      if (e.kind === 'sent' && w.type === 'MsgHeartbeat')
        this.heartbeatAt.set(Number(w.from), performance.now());
      if (e.kind === 'sent' && m) logMessage(w, m);
      if (e.kind === 'delivered' && m) logDelivery(w, m);
      if (e.kind !== 'sent') this.detail.delete(w.seq);
    });
  }

  /**
   * Drops message `w` (in flight) by hand: it will not reach its receiver, as if the network lost it. False when
   * the page does not know the message (it was sent before the page tapped its sender).
   */
  drop(w: WireMessage): boolean {
    const m = this.detail.get(w.seq);
    if (!m || this.droppedByHand.has(w.seq)) return false;
    this.doomed.set(m, (this.doomed.get(m) ?? 0) + 1);
    this.droppedByHand.add(w.seq);
    this.drops.push({ w, m, at: performance.now() });
    log('fault', `you dropped ${msgLabel(facts(w, m))} n${w.from} → n${w.to}: it will never arrive`);
    return true;
  }

  /** A member's port as the hub sees it: its batches handed over one message at a time. */
  port(port: MessagePort): PortLike {
    const wrapped = new Map<PortListener, PortListener>();
    return {
      postMessage: (data) => {
        const d = data as { kind?: string; message?: Message };
        const left = d.kind === 'deliver' && d.message ? this.doomed.get(d.message) : undefined;
        if (left !== undefined && d.message) {
          if (left <= 1) this.doomed.delete(d.message);
          else this.doomed.set(d.message, left - 1);
          this.justSwallowed = d.message;
          this.swallowed++;
          return;
        }
        port.postMessage(data);
      },
      start: () => port.start(),
      addEventListener: (type, listener) => {
        const w: PortListener = (event) => {
          const data = event.data as { kind?: string; messages?: Message[] } | undefined;
          if (data?.kind !== 'send' || !Array.isArray(data.messages)) return listener(event);
          for (const message of data.messages) {
            this.tapped = message;
            listener({ data: { kind: 'send', messages: [message] } });
          }
          this.tapped = undefined;
        };
        wrapped.set(listener, w);
        port.addEventListener(type, w);
      },
      removeEventListener: (type, listener) => {
        const w = wrapped.get(listener);
        if (w) port.removeEventListener(type, w);
        wrapped.delete(listener);
      },
    };
  }
}

/** Timeline lines from the messages themselves: votes asked and granted, snapshots sent. */
function logMessage(w: WireMessage, m: Message): void {
  if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
    const what = m.type === 'MsgVote' ? 'vote' : 'pre-vote';
    log(
      'election',
      `n${w.from} asks n${w.to} for a ${what} in term ${m.term} (last entry #${m.index ?? 0}, term ${m.logTerm ?? 0})`,
    );
  } else if (m.type === 'MsgSnap' && (m.snapshot?.offset ?? 0) === 0) {
    const md = m.snapshot?.metadata;
    log(
      'snapshot',
      `n${w.from} → n${w.to} snapshot (MsgSnap) up to #${md?.index ?? '?'}, term ${md?.term ?? '?'}`,
    );
  }
}

function logDelivery(w: WireMessage, m: Message): void {
  if (m.type === 'MsgVoteResp' || m.type === 'MsgPreVoteResp') {
    const what = m.type === 'MsgVoteResp' ? 'vote' : 'pre-vote';
    log(
      'election',
      `n${w.from} ${m.reject ? 'refuses' : 'grants'} its ${what} to n${w.to} for term ${m.term}`,
    );
  }
}
