// A simulated member as a viewer draws it (the demo's seed replay: its circle, card and row of the log grid),
// taken from the member's RawNode through its read-only inspection (status, logView). Plain numbers, so that
// it crosses a worker boundary and compares as JSON.

import type { LogView, Status } from '../raft/raw-node.ts';

/** How many of the last log indexes a view carries (the log grid's width). */
export const VIEW_LOG_TAIL = 24;

export interface MemberView {
  readonly role: Status['role'] | 'learner' | 'down' | 'removed';
  readonly term: number;
  readonly vote: number;
  readonly lead: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** Terms of the entries from `lastIndex - terms.length + 1` to `lastIndex` (0: compacted into the snapshot). */
  readonly terms: readonly number[];
  /** On a leader: each other member's [id, match, next]. */
  readonly progress: readonly (readonly [number, number, number])[];
}

export interface InspectableNode {
  status(): Status;
  logView(): LogView;
}

/** The view of a live member (`applied` from its state machine when the host applies past Raft's mark). */
export function memberView(node: InspectableNode, applied?: number): MemberView {
  const s = node.status();
  const log = node.logView();
  const id = s.id;
  const learner = s.conf.learners.includes(id);
  const last = s.lastIndex;
  const from = Math.max(1, last - VIEW_LOG_TAIL + 1);
  const terms: number[] = [];
  for (let i = from; i <= last; i++) terms.push(i < s.firstIndex ? 0 : (log.term(i) ?? 0));
  const progress: [number, number, number][] = [];
  for (const [peer, p] of s.progress) if (peer !== id) progress.push([Number(peer), p.match, p.next]);
  return {
    role: learner && s.role === 'follower' ? 'learner' : s.role,
    term: s.term,
    vote: Number(s.vote),
    lead: Number(s.lead),
    commit: s.commit,
    applied: applied ?? s.applied,
    firstIndex: s.firstIndex,
    lastIndex: last,
    terms,
    progress,
  };
}

/** A member that is down (crashed, or shut down after its removal): what it last held stays on its card. */
export function downView(last: MemberView | undefined, removed: boolean): MemberView {
  const role = removed ? 'removed' : 'down';
  return last
    ? { ...last, role, lead: 0, progress: [] }
    : {
        role,
        term: 0,
        vote: 0,
        lead: 0,
        commit: 0,
        applied: 0,
        firstIndex: 1,
        lastIndex: 0,
        terms: [],
        progress: [],
      };
}
