// Messages between the demo page and a member's worker (over the worker's own port; Raft traffic uses a
// separate MessageChannel to the page's InPageHub).

export interface MemberConfig {
  readonly id: number;
  readonly name: string;
  readonly dbName: string;
  readonly members: readonly { id: number; name: string }[];
  readonly tickMs: number;
  readonly electionTimeoutMs: number;
  readonly paused: boolean;
  /** Cluster time per real time (slow motion below 1). */
  readonly speed: number;
}

export type ToWorker =
  | { kind: 'init'; config: MemberConfig; port: MessagePort }
  | { kind: 'pause' }
  | { kind: 'resume' }
  | { kind: 'advance'; ms: number }
  | { kind: 'speed'; rate: number }
  /** Make the member's election timer run out now (its own clock runs ahead, tick by tick, until it fires). */
  | { kind: 'timeout' }
  | { kind: 'http'; reqId: number; path: string; body: string }
  | { kind: 'http-cancel'; reqId: number }
  | { kind: 'close' };

export interface LogEntryView {
  readonly index: number;
  readonly term: number;
  /** Short label: `put k`, `del k`, `txn`, `lease+`, `conf`, `empty`, … */
  readonly label: string;
}

export interface KeyView {
  readonly key: string;
  readonly value: string;
  readonly version: number;
  readonly modRevision: number;
  readonly lease: string;
}

export interface LeaseView {
  readonly id: string;
  readonly ttl: number;
  /** Seconds left as this member estimates it (-1 when expired). */
  readonly remaining: number;
  readonly keys: number;
}

export interface MemberState {
  readonly id: number;
  readonly role: 'leader' | 'follower' | 'candidate' | 'preCandidate' | 'learner';
  readonly term: number;
  readonly vote: number;
  readonly leader: number;
  readonly commit: number;
  readonly applied: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
  readonly stable: number;
  readonly revision: number;
  /** The last entries of the log (at most LOG_VIEW_ENTRIES). */
  readonly log: readonly LogEntryView[];
  readonly keys: readonly KeyView[];
  readonly keyCount: number;
  readonly leases: readonly LeaseView[];
  /** Election timer in ticks: elapsed since it last heard from a leader (or voted), and this round's timeout. */
  readonly timer?: { readonly elapsed: number; readonly timeout: number };
  /** On the leader: its view of each other member (Raft's Progress: match index, next index to send). */
  readonly progress: readonly { readonly id: number; readonly match: number; readonly next: number }[];
}

export type FromWorker =
  /** The member recovered from IndexedDB and runs; `recovered` is what storage held. */
  | {
      kind: 'ready';
      id: number;
      recovered: { lastIndex: number; term: number; commit: number; hasSnapshot: boolean };
    }
  | { kind: 'state'; state: MemberState }
  /** What happened inside the member, seen at the change itself (not sampled): for the timeline. */
  | { kind: 'events'; events: readonly MemberEvent[] }
  | { kind: 'http-head'; reqId: number; status: number; contentType: string }
  | { kind: 'http-chunk'; reqId: number; text: string }
  | { kind: 'http-end'; reqId: number; error?: string }
  /**
   * The answer to `timeout`: how many ticks the member's clock ran ahead, whether its election timer fired (not on
   * a leader, which has none; not on a learner, which never campaigns), and its role when asked.
   */
  | { kind: 'timed-out'; id: number; ticks: number; fired: boolean; role: MemberState['role'] }
  | { kind: 'closed'; id: number }
  | { kind: 'error'; id: number; message: string };

export type MemberEvent =
  | {
      readonly type: 'role';
      readonly from: MemberState['role'];
      readonly to: MemberState['role'];
      readonly term: number;
    }
  | { readonly type: 'term'; readonly from: number; readonly to: number; readonly role: MemberState['role'] }
  /** Uncommitted entries replaced or dropped (Raft §5.3: a follower's log is made to match the leader's). */
  | {
      readonly type: 'truncated';
      readonly from: number;
      readonly to: number;
      readonly terms: readonly number[];
    }
  | { readonly type: 'snapshot-installed'; readonly index: number }
  | { readonly type: 'compacted'; readonly firstIndex: number }
  | { readonly type: 'commit'; readonly index: number; readonly label: string };

export const LOG_VIEW_ENTRIES = 40;
export const KEY_VIEW_LIMIT = 40;
