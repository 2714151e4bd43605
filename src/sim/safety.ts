// Raft's safety properties (Raft §5.2–5.4, Figure 3), checked continuously as the simulation runs. Each check
// throws a SafetyViolation naming the invariant; the simulator then prints the seed and the recent events.

import { type Entry, type Message, NONE, type NodeId } from '../raft/types.ts';
import type { SimDisk } from './disk.ts';

export class SafetyViolation extends Error {
  readonly invariant: string;

  constructor(invariant: string, detail: string) {
    super(`${invariant}: ${detail}`);
    this.invariant = invariant;
  }
}

/** What the checker may look at in a node's in-memory log. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number | undefined;
  slice(lo: number, hi: number): Entry[];
}

export class SafetyChecker {
  /** term → the one leader elected in it. */
  private readonly leaders = new Map<number, NodeId>();
  /** index → term and data of the entry applied there by anyone. */
  private readonly applied = new Map<number, { term: number; key: string }>();
  /** index → state-machine hash after applying it. */
  private readonly appliedHash = new Map<number, number>();
  /** "index:term" → data of every entry ever handed to storage. */
  private readonly entryIdentity = new Map<string, string>();
  maxApplied = 0;

  /** Election safety: at most one leader per term; its self-vote is durable. */
  leaderElected(id: NodeId, term: number, disk: SimDisk): void {
    const prev = this.leaders.get(term);
    if (prev !== undefined && prev !== id) {
      throw new SafetyViolation('election safety', `n${prev} and n${id} both lead term ${term}`);
    }
    this.leaders.set(term, id);
    if (disk.hardState.term !== term || disk.hardState.vote !== id) {
      throw new SafetyViolation(
        'durable vote',
        `n${id} leads term ${term} but its durable hard state is term ${disk.hardState.term} vote n${disk.hardState.vote}`,
      );
    }
  }

  /** Leader completeness: a new leader's log holds every entry applied anywhere so far. */
  leaderCompleteness(id: NodeId, term: number, log: LogView): void {
    if (log.lastIndex() < this.maxApplied) {
      throw new SafetyViolation(
        'leader completeness',
        `n${id} leads term ${term} with last index ${log.lastIndex()} < applied ${this.maxApplied}`,
      );
    }
    for (let i = Math.max(log.firstIndex(), 1); i <= this.maxApplied; i++) {
      const want = this.applied.get(i);
      if (want && log.term(i) !== want.term) {
        throw new SafetyViolation(
          'leader completeness',
          `n${id} leads term ${term} with term ${log.term(i)} at ${i}, but term ${want.term} was applied there`,
        );
      }
    }
  }

  /** Entries with the same index and term carry the same data, everywhere (first half of log matching). */
  entriesPersisted(id: NodeId, entries: readonly Entry[]): void {
    for (const e of entries) {
      const k = `${e.index}:${e.term}`;
      const data = dataKey(e);
      const prev = this.entryIdentity.get(k);
      if (prev === undefined) this.entryIdentity.set(k, data);
      else if (prev !== data) {
        throw new SafetyViolation(
          'log matching',
          `n${id} has a different entry at index ${e.index} term ${e.term}`,
        );
      }
    }
  }

  /** State-machine safety: no two members apply different entries at one index or reach different states. */
  entryApplied(id: NodeId, e: Entry, hashAfter: number): void {
    const prev = this.applied.get(e.index);
    const key = dataKey(e);
    if (prev === undefined) {
      this.applied.set(e.index, { term: e.term, key });
      this.appliedHash.set(e.index, hashAfter);
      this.maxApplied = Math.max(this.maxApplied, e.index);
      return;
    }
    if (prev.term !== e.term || prev.key !== key) {
      throw new SafetyViolation(
        'state machine safety',
        `n${id} applied term ${e.term} at ${e.index}, another member applied term ${prev.term}`,
      );
    }
    if (this.appliedHash.get(e.index) !== hashAfter) {
      throw new SafetyViolation(
        'state machine safety',
        `n${id} reached a different state at index ${e.index}`,
      );
    }
  }

  /** A restored snapshot must equal the state every member reached at its index. */
  snapshotRestored(id: NodeId, index: number, hash: number): void {
    const want = this.appliedHash.get(index);
    if (want !== undefined && want !== hash) {
      throw new SafetyViolation(
        'state machine safety',
        `n${id} restored a snapshot at ${index} with a wrong state`,
      );
    }
  }

  /** A leader's new commit index must be durable on a majority of its voters (it counts itself only when durable). */
  leaderCommitted(
    id: NodeId,
    commit: number,
    term: number | undefined,
    voters: readonly NodeId[],
    disks: (n: NodeId) => SimDisk | undefined,
  ): void {
    if (term === undefined) return;
    let durable = 0;
    for (const v of voters) if (disks(v)?.holds(commit, term)) durable++;
    if (durable < Math.floor(voters.length / 2) + 1) {
      throw new SafetyViolation(
        'durable commit',
        `n${id} committed ${commit} (term ${term}) but only ${durable}/${voters.length} voters hold it durably`,
      );
    }
  }

  /** Nothing vouching for state is sent before that state is durable. */
  messageSent(m: Message, afterPersist: boolean, disk: SimDisk): void {
    if (m.reject) return;
    if (m.type === 'MsgVoteResp') {
      if (!afterPersist)
        throw new SafetyViolation('persist before send', `n${m.from} sent a vote before persisting`);
      // Durable: the vote itself, or a later term (after which no other vote in m.term can ever be cast).
      const durable =
        disk.hardState.term > m.term || (disk.hardState.term === m.term && disk.hardState.vote === m.to);
      if (!durable) {
        throw new SafetyViolation(
          'persist before send',
          `n${m.from} granted its vote to n${m.to} in term ${m.term}, durable: term ${disk.hardState.term} vote n${disk.hardState.vote}`,
        );
      }
    } else if (m.type === 'MsgAppResp' && m.index !== undefined) {
      if (!afterPersist)
        throw new SafetyViolation('persist before send', `n${m.from} acked an append before persisting`);
      if (disk.lastIndex() < m.index && (disk.snapshot?.metadata.index ?? 0) < m.index) {
        throw new SafetyViolation(
          'persist before send',
          `n${m.from} acked index ${m.index} with only ${disk.lastIndex()} durable`,
        );
      }
    }
  }

  /** Log matching (second half): if two logs agree on an entry, they agree on everything before it. */
  logsMatch(a: NodeId, la: LogView, b: NodeId, lb: LogView): void {
    const lo = Math.max(la.firstIndex(), lb.firstIndex());
    const hi = Math.min(la.lastIndex(), lb.lastIndex());
    let top = hi;
    while (top >= lo && la.term(top) !== lb.term(top)) top--;
    if (top < lo) return;
    const ea = la.slice(lo, top + 1);
    const eb = lb.slice(lo, top + 1);
    for (let i = 0; i < ea.length; i++) {
      if (ea[i].term !== eb[i].term || dataKey(ea[i]) !== dataKey(eb[i])) {
        throw new SafetyViolation(
          'log matching',
          `n${a} and n${b} agree at ${top} but differ at ${ea[i].index} (terms ${ea[i].term}/${eb[i].term})`,
        );
      }
    }
  }

  leaderOf(term: number): NodeId {
    return this.leaders.get(term) ?? NONE;
  }
}

function dataKey(e: Entry): string {
  let s = e.type === 'confChange' ? 'c' : 'n';
  for (let i = 0; i < e.data.length; i++) s += String.fromCharCode(e.data[i]);
  return s;
}
