// What a simulator run leaves behind: the text trace (its tail is printed when a seed fails), the digest that
// names the run, and, for whoever watches (the demo's seed replay), the same events as data. Both simulators
// (simulation.ts, kv-cluster.ts) record through one RunTrace, so their digests mean one thing: a hash over every
// trace line, every message sent with its fate (when it arrives, twice, or never), every delivery and every
// client operation, in order. Equal digests mean the same run, message for message; `digestOf(events)` gives it
// back from the events alone, so a viewer can prove that what it showed is the run the CLI ran.

import type { Message, MessageType } from '../raft/types.ts';
import { downView, type MemberView } from './member-view.ts';

export type { MemberView } from './member-view.ts';

/** What the viewer needs of a message (the payloads stay out: they are in the log views). */
export interface MessageFacts {
  readonly type: MessageType;
  readonly from: number;
  readonly to: number;
  readonly term: number;
  readonly index: number;
  readonly logTerm: number;
  readonly commit: number;
  /** Entries carried (MsgApp, MsgProp). */
  readonly entries: number;
  readonly reject: boolean;
  /** MsgSnap: the snapshot's last index and this chunk's offset. */
  readonly snapshotIndex: number;
  readonly snapshotOffset: number;
}

export type ClientPhase = 'invoke' | 'ok' | 'fail' | 'unknown';

export type TraceEvent =
  /** A line of the text trace: a crash, a partition, a new leader, a violation. */
  | { readonly kind: 'note'; readonly t: number; readonly text: string }
  /**
   * A message handed to the network. `due`: its delivery times (none: lost; two: duplicated); `blocked`: a
   * partition or cut stopped it (else, when `due` is empty, the loss rate did).
   */
  | {
      readonly kind: 'send';
      readonly t: number;
      readonly id: number;
      readonly msg: MessageFacts;
      readonly due: readonly number[];
      readonly blocked: boolean;
    }
  /** A message reaching its receiver; `stepped` is false when the receiver was down by then. */
  | {
      readonly kind: 'deliver';
      readonly t: number;
      readonly id: number;
      readonly to: number;
      readonly stepped: boolean;
    }
  /** A client operation (the whole-member simulation): its invocation, then how it ended. */
  | {
      readonly kind: 'client';
      readonly t: number;
      readonly client: number;
      readonly node: number;
      readonly op: string;
      readonly phase: ClientPhase;
      readonly detail: string;
    }
  // Views: derived from the run's state, recorded only while watched and never digested.
  | { readonly kind: 'member'; readonly t: number; readonly node: number; readonly view: MemberView }
  | {
      readonly kind: 'network';
      readonly t: number;
      /** Directed links a partition or cut blocks, as [from, to]. */
      readonly blocked: readonly (readonly [number, number])[];
    };

/** Events that are part of the run (and of its digest), as opposed to views of its state. */
export function isRunEvent(e: TraceEvent): boolean {
  return e.kind !== 'member' && e.kind !== 'network';
}

/** Two 32-bit lanes (FNV-1a and a murmur-style mix) over the run's events, printed as 16 hex digits. */
export class RunDigest {
  private a = 0x811c9dc5;
  private b = 0x9747b28c;

  add(e: TraceEvent): void {
    switch (e.kind) {
      case 'note':
        this.num(1);
        this.num(e.t);
        this.text(e.text);
        break;
      case 'send': {
        const m = e.msg;
        this.num(2);
        this.num(e.t);
        this.text(m.type);
        for (const x of [m.from, m.to, m.term, m.index, m.logTerm, m.commit, m.entries, m.snapshotIndex])
          this.num(x);
        this.num(m.snapshotOffset);
        this.num(m.reject ? 1 : 0);
        this.num(e.blocked ? 1 : 0);
        this.num(e.due.length);
        for (const d of e.due) this.num(d);
        break;
      }
      case 'deliver':
        this.num(3);
        this.num(e.t);
        this.num(e.id);
        this.num(e.to);
        this.num(e.stepped ? 1 : 0);
        break;
      case 'client':
        this.num(4);
        this.num(e.t);
        this.num(e.client);
        this.num(e.node);
        this.text(e.op);
        this.text(e.phase);
        this.text(e.detail);
        break;
      default:
        break;
    }
  }

  hex(): string {
    return hex8(this.a) + hex8(this.b);
  }

  private num(x: number): void {
    if (Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff) this.word(x);
    else this.text(String(x));
  }

  private text(s: string): void {
    this.word(s.length);
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
  }

  private word(x: number): void {
    this.a = Math.imul(this.a ^ x, 0x01000193);
    let b = Math.imul(x, 0xcc9e2d51);
    b = Math.imul((b << 15) | (b >>> 17), 0x1b873593);
    this.b ^= b;
    this.b = Math.imul((this.b << 13) | (this.b >>> 19), 5) + 0xe6546b64;
  }
}

function hex8(x: number): string {
  return (x >>> 0).toString(16).padStart(8, '0');
}

/** The digest of a recorded run (views are skipped): equal to the digest its simulator printed. */
export function digestOf(events: Iterable<TraceEvent>): string {
  const d = new RunDigest();
  for (const e of events) d.add(e);
  return d.hex();
}

export function messageFacts(m: Message): MessageFacts {
  return {
    type: m.type,
    from: Number(m.from),
    to: Number(m.to),
    term: m.term,
    index: m.index ?? 0,
    logTerm: m.logTerm ?? 0,
    commit: m.commit ?? 0,
    entries: m.entries?.length ?? 0,
    reject: m.reject === true,
    snapshotIndex: m.snapshot?.metadata.index ?? 0,
    snapshotOffset: m.snapshot?.offset ?? 0,
  };
}

/**
 * One run's record. The simulators call it as things happen; it keeps the text trace's tail, folds every run
 * event into the digest, and hands every event (views included) to the watcher, if there is one.
 */
export class RunTrace {
  private readonly lines: string[] = [];
  private readonly digest = new RunDigest();
  private readonly keep: number;
  private readonly clock: () => number;
  private readonly watcher?: (e: TraceEvent) => void;
  private nextId = 1;
  private readonly lastView = new Map<number, { key: string; view: MemberView }>();
  private lastNetwork = '';

  /** `keep`: how many trace lines to keep (the tail); `clock`: the run's virtual time. */
  constructor(keep: number, clock: () => number, watcher?: (e: TraceEvent) => void) {
    this.keep = keep;
    this.clock = clock;
    this.watcher = watcher;
  }

  /** Whether someone watches (views are worth computing only then). */
  get watched(): boolean {
    return this.watcher !== undefined;
  }

  note(text: string): void {
    const t = this.clock();
    this.lines.push(`t=${t} ${text}`);
    if (this.lines.length > this.keep * 4) this.lines.splice(0, this.lines.length - this.keep);
    this.record({ kind: 'note', t, text });
  }

  /** A message handed to the network, with its delivery delays (ms from now); returns its ID for `delivered`. */
  sent(m: Message, delays: readonly number[], blocked: boolean): number {
    const t = this.clock();
    const id = this.nextId++;
    this.record({ kind: 'send', t, id, msg: messageFacts(m), due: delays.map((d) => t + d), blocked });
    return id;
  }

  delivered(id: number, to: number, stepped: boolean): void {
    this.record({ kind: 'deliver', t: this.clock(), id, to, stepped });
  }

  client(client: number, node: number, op: string, phase: ClientPhase, detail = ''): void {
    this.record({ kind: 'client', t: this.clock(), client, node, op, phase, detail });
  }

  /** A member's view, recorded when it differs from the last one (only while watched). */
  member(node: number, view: () => MemberView): void {
    if (!this.watcher) return;
    this.view(node, view());
  }

  /** A member gone down (crashed, or shut down after its removal): its card keeps what it last held. */
  memberDown(node: number, removed = false): void {
    if (!this.watcher) return;
    this.view(node, downView(this.lastView.get(node)?.view, removed));
  }

  /** Which directed links are blocked, recorded when that changes (only while watched). */
  network(ids: readonly number[], canReach: (from: number, to: number) => boolean): void {
    if (!this.watcher) return;
    const blocked: [number, number][] = [];
    for (const a of ids) for (const b of ids) if (a !== b && !canReach(a, b)) blocked.push([a, b]);
    const key = JSON.stringify(blocked);
    if (key === this.lastNetwork) return;
    this.lastNetwork = key;
    this.watcher({ kind: 'network', t: this.clock(), blocked });
  }

  tail(n: number): string[] {
    return this.lines.slice(-n);
  }

  hex(): string {
    return this.digest.hex();
  }

  private view(node: number, view: MemberView): void {
    const key = JSON.stringify(view);
    if (this.lastView.get(node)?.key === key) return;
    this.lastView.set(node, { key, view });
    this.watcher?.({ kind: 'member', t: this.clock(), node, view });
  }

  private record(e: TraceEvent): void {
    this.digest.add(e);
    this.watcher?.(e);
  }
}
