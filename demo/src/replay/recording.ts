// A recorded simulator run as frames to show, one per event of the run: frame 0 is the start, frame k the state
// right after the k-th message sent, message delivered, trace line or client operation (with the member and
// network views the simulator recorded after it). The state at any frame — members, messages in flight, blocked
// links, recent losses — is rebuilt from the nearest checkpoint, so the scrubber moves both ways. No DOM here.

import type { MemberView, TraceEvent } from '../../../src/sim/trace.ts';
import { isRunEvent } from '../../../src/sim/trace.ts';

export type SendEvent = Extract<TraceEvent, { kind: 'send' }>;

export interface InFlight {
  readonly send: SendEvent;
  /** When this copy arrives (a duplicated message travels twice). */
  readonly due: number;
}

export interface ReplayState {
  frame: number;
  /** How many of the recording's events are applied. */
  applied: number;
  /** Virtual time of the frame (ms). */
  t: number;
  readonly members: Map<number, MemberView>;
  /** Bumped whenever a member's view changes (cards and grid redraw only then). */
  version: number;
  readonly inflight: Map<string, InFlight>;
  blocked: readonly (readonly [number, number])[];
  /** Messages lost lately (by loss or a partition), newest last. */
  drops: SendEvent[];
}

const CHECKPOINT_EVERY = 512;
const DROPS_KEPT = 24;

export class Recording {
  readonly events: readonly TraceEvent[];
  /** Frame k is the state after events[0, ends[k]). */
  private readonly ends: number[] = [];
  /** Every member that appears in the run, in order. */
  readonly ids: readonly number[];
  /** Frames whose event is a trace line or a client operation (the timeline). */
  readonly timelineFrames: readonly number[];
  private readonly checkpoints: ReplayState[] = [];

  constructor(events: readonly TraceEvent[]) {
    this.events = events;
    const ids = new Set<number>();
    const timeline: number[] = [];
    const primaries: number[] = [];
    events.forEach((e, i) => {
      if (e.kind === 'member') ids.add(e.node);
      else if (e.kind === 'send') ids.add(e.msg.from).add(e.msg.to);
      if (!isRunEvent(e)) return;
      primaries.push(i);
      if (e.kind === 'note' || e.kind === 'client') timeline.push(primaries.length);
    });
    this.ids = [...ids].sort((a, b) => a - b);
    this.timelineFrames = timeline;
    this.ends.push(primaries[0] ?? events.length);
    for (let k = 1; k <= primaries.length; k++) this.ends.push(primaries[k] ?? events.length);
    const state = emptyState();
    for (let k = 0; k < this.ends.length; k += CHECKPOINT_EVERY) {
      this.advance(state, k);
      this.checkpoints.push(copy(state));
    }
  }

  /** How many frames there are (the last is `frames - 1`). */
  get frames(): number {
    return this.ends.length;
  }

  /** The event that frame k shows (frame 0: none, the start). */
  eventOf(k: number): TraceEvent | undefined {
    return k <= 0 ? undefined : this.events[this.ends[k - 1]];
  }

  /** Virtual time at frame k. */
  timeOf(k: number): number {
    const end = this.ends[Math.max(0, Math.min(k, this.ends.length - 1))];
    return end > 0 ? this.events[end - 1].t : 0;
  }

  /** A fresh state at frame k. */
  state(k: number): ReplayState {
    const frame = Math.max(0, Math.min(k, this.frames - 1));
    const state = copy(this.checkpoints[Math.floor(frame / CHECKPOINT_EVERY)]);
    this.advance(state, frame);
    return state;
  }

  /** Moves `state` forward to frame k (k ≥ state.frame). */
  advance(state: ReplayState, k: number): void {
    const frame = Math.min(k, this.frames - 1);
    const to = this.ends[frame];
    for (let i = state.applied; i < to; i++) apply(state, this.events[i]);
    state.applied = Math.max(state.applied, to);
    state.frame = frame;
    state.t = this.timeOf(state.frame);
  }

  /** The first frame after `k` whose event passes `test` (undefined: none). */
  next(k: number, test: (e: TraceEvent) => boolean): number | undefined {
    for (let f = k + 1; f < this.frames; f++) if (test(this.eventOf(f)!)) return f;
    return undefined;
  }

  /** The first frame after `k` at which a member's commit index passes the highest at `k` (undefined: none). */
  nextCommit(k: number): number | undefined {
    const top = (s: ReplayState) => Math.max(0, ...[...s.members.values()].map((m) => m.commit));
    const state = this.state(k);
    const base = top(state);
    for (let f = state.frame + 1; f < this.frames; f++) {
      this.advance(state, f);
      if (top(state) > base) return f;
    }
    return undefined;
  }

  /** The last frame at or before virtual time t. */
  frameAt(t: number, from = 0): number {
    let f = from;
    while (f + 1 < this.frames && this.timeOf(f + 1) <= t) f++;
    return f;
  }

  /** The last `n` timeline frames at or before frame k, newest first. */
  timelineUpTo(k: number, n: number): number[] {
    let lo = 0;
    let hi = this.timelineFrames.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.timelineFrames[mid] <= k) lo = mid + 1;
      else hi = mid;
    }
    return this.timelineFrames.slice(Math.max(0, lo - n), lo).reverse();
  }
}

function emptyState(): ReplayState {
  return {
    frame: 0,
    applied: 0,
    t: 0,
    members: new Map(),
    version: 0,
    inflight: new Map(),
    blocked: [],
    drops: [],
  };
}

function copy(s: ReplayState): ReplayState {
  return {
    frame: s.frame,
    applied: s.applied,
    t: s.t,
    members: new Map(s.members),
    version: s.version,
    inflight: new Map(s.inflight),
    blocked: s.blocked,
    drops: [...s.drops],
  };
}

function apply(s: ReplayState, e: TraceEvent): void {
  switch (e.kind) {
    case 'send':
      e.due.forEach((due, j) => {
        s.inflight.set(`${e.id}:${j}`, { send: e, due });
      });
      if (e.due.length === 0) {
        s.drops.push(e);
        if (s.drops.length > DROPS_KEPT) s.drops.shift();
      }
      break;
    case 'deliver':
      for (let j = 0; j < 2; j++) {
        const key = `${e.id}:${j}`;
        if (s.inflight.get(key)?.due === e.t) {
          s.inflight.delete(key);
          break;
        }
      }
      break;
    case 'member':
      s.members.set(e.node, e.view);
      s.version++;
      break;
    case 'network':
      s.blocked = e.blocked;
      break;
    default:
      break;
  }
}
