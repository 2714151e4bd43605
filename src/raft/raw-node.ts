// The host-facing Raft node (etcd-io/raft rawnode.go): tick / step / propose in, Ready out, advance back.
//
// The Ready/advance cycle and the persistence contract — one Ready outstanding at a time:
//
//   const rd = node.ready();
//   transport.send(rd.messages);              // now: appends, heartbeats, pre-votes (vouch for nothing)
//   await storage.save({ snapshot: rd.snapshot, entries: rd.entries, hardState: rd.hardState });
//   transport.send(rd.messagesAfterPersist);  // only now: votes and append acks vouch for durable state
//   if (rd.snapshot) restore the state machine from it;
//   apply rd.committedEntries in order (for confChange entries call node.applyConfChange);
//   hand rd.readStates to waiting reads;
//   node.advance();
//
// While a Ready is being persisted, what ticks and steps raise waits for the next Ready (as etcd's raft loop: a
// member whose disk stalls stops heartbeating, so leadership moves away from it).
//
// A vote and an append acknowledgement are sent only after what they vouch for is durable. A leader sends its
// appends before its own write (Raft thesis §10.2.1: in `messages`, beside its save) but counts itself toward a
// commit only in advance(), once its entries are durable. Committed entries are handed out only once durable locally.
// The candidate's vote for itself is also a message after persist (delivered back to it in advance()).

import type { LoadedState } from '../storage.ts';
import { encodeConfChange } from './confchange.ts';
import { type RaftOptions, raftConfig } from './config.ts';
import { type ProposalResult, Raft } from './raft.ts';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  NONE,
  type NodeId,
  type ReadState,
  type Snapshot,
  type SoftState,
} from './types.ts';

/** Where a state machine was serialized: the applied index and the configuration at that point. */
export interface SnapshotPoint {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Ready {
  /** Set when leader or role changed since the previous Ready. */
  readonly softState?: SoftState;
  /** Set when it changed: persist it (after the entries). */
  readonly hardState?: HardState;
  /** Persist; the first may overwrite stored entries from its index on. */
  readonly entries: readonly Entry[];
  /** A snapshot from the leader: persist it (replacing the stored log), then restore the state machine. */
  readonly snapshot?: Snapshot;
  /** Send now, without waiting for persistence. */
  readonly messages: readonly Message[];
  /** Send only after entries, hard state and snapshot above are durable. */
  readonly messagesAfterPersist: readonly Message[];
  /** Apply in order, after the snapshot (if any). All are durable here. */
  readonly committedEntries: readonly Entry[];
  /** Answers to readIndex requests. */
  readonly readStates: readonly ReadState[];
}

/** The initial membership of a new cluster, with each member's confChange context (its URLs, for the host). */
export interface Bootstrap extends ConfState {
  readonly contexts?: ReadonlyMap<NodeId, Uint8Array>;
}

/** etcd-io/raft's BasicStatus: what this node knows of itself. */
export interface BasicStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly lead: NodeId;
  readonly role: SoftState['role'];
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  /** Entries up to here are durable in storage. */
  readonly stable: number;
  readonly leadTransferee: NodeId;
}

/** etcd-io/raft's Status: BasicStatus plus the configuration and, on a leader, every member's progress. */
export interface Status extends BasicStatus {
  readonly conf: ConfState;
  /** The leader's view of each member: match index and replication state. */
  readonly progress: ReadonlyMap<NodeId, { match: number; next: number; state: string }>;
}

/** Message types that only the node itself generates; stepping them in from the network is refused. */
const LOCAL_TYPES: ReadonlySet<MessageType> = new Set<MessageType>(['MsgHup', 'MsgBeat', 'MsgCheckQuorum']);

/** A read-only look at the in-memory log (entries still held, from firstIndex to lastIndex). */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  /** The term of the entry at `index`; undefined when compacted away or past the end. */
  term(index: number): number | undefined;
  /** Entries in [lo, hi), all held (lo ≥ firstIndex, hi ≤ lastIndex + 1). */
  slice(lo: number, hi: number): Entry[];
}

export class RawNode {
  /** The state machine is the host's only through this class: step, tick, propose in; Ready and Status out. */
  readonly #raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private outstanding?: { committedTo: number; selfMessages: Message[] };

  /**
   * Recovers a node from storage. `bootstrap` is the initial membership of a new cluster (etcd's
   * --initial-cluster); it is used only when storage is empty, and is written into the log as committed
   * confChange entries at term 1 so that members joining later learn it from the log. A member joining an
   * existing cluster passes no bootstrap and waits to hear from the leader.
   */
  constructor(options: RaftOptions, loaded: LoadedState, bootstrap?: Bootstrap) {
    const config = raftConfig(options);
    const fresh = loaded.snapshot === undefined && loaded.entries.length === 0 && loaded.hardState.term === 0;
    this.#raft = new Raft(config, loaded.hardState, loaded.snapshot, loaded.entries);
    this.prevSoft = this.softState();
    this.prevHard = loaded.hardState;
    if (fresh && bootstrap && bootstrap.voters.length > 0) this.bootstrap(bootstrap);
  }

  private bootstrap(conf: Bootstrap): void {
    const context = (nodeId: NodeId) => conf.contexts?.get(nodeId);
    const changes: ConfChange[] = [
      ...conf.voters.map((nodeId): ConfChange => ({ type: 'addNode', nodeId, context: context(nodeId) })),
      ...conf.learners.map(
        (nodeId): ConfChange => ({ type: 'addLearner', nodeId, context: context(nodeId) }),
      ),
    ];
    const entries: Entry[] = changes.map((cc, i) => ({
      term: 1,
      index: i + 1,
      type: 'confChange',
      data: encodeConfChange(cc),
    }));
    this.#raft.becomeFollower(1, NONE);
    this.#raft.log.append(entries);
    this.#raft.log.commitTo(entries.length);
    // Also take effect at once: the host will see them again as committed entries and re-apply them (harmless).
    this.#raft.setConf({ voters: conf.voters, learners: conf.learners });
  }

  private softState(): SoftState {
    return { lead: this.#raft.lead, role: this.#raft.role };
  }

  tick(): void {
    this.#raft.tick();
  }

  /** Steps a message received from a peer. */
  step(m: Message): void {
    if (LOCAL_TYPES.has(m.type)) return;
    // Responses from nodes we know nothing about are dropped (etcd: "ignore response from unknown peer").
    if (m.type.endsWith('Resp') && !this.#raft.tracker.progress.has(m.from) && this.#raft.role === 'leader')
      return;
    this.#raft.step(m);
  }

  /** Starts an election now (tests, demos), subject to the usual rules. */
  campaign(): void {
    this.#raft.step({ type: 'MsgHup', from: this.#raft.id, to: this.#raft.id, term: 0 });
  }

  propose(data: Uint8Array): ProposalResult {
    return this.#raft.propose([{ type: 'normal', data }]);
  }

  proposeConfChange(cc: ConfChange): ProposalResult {
    return this.#raft.propose([{ type: 'confChange', data: encodeConfChange(cc) }]);
  }

  /** Asks for a linearizable read point; the answer comes as a ReadState carrying `context`. */
  readIndex(context: Uint8Array): boolean {
    return this.#raft.readIndex(context);
  }

  /** Asks the leader to hand leadership to `transferee` (TimeoutNow once it has caught up). */
  transferLeader(transferee: NodeId): void {
    this.#raft.step({ type: 'MsgTransferLeader', from: transferee, to: this.#raft.id, term: 0 });
  }

  reportUnreachable(peer: NodeId): void {
    this.#raft.step({ type: 'MsgUnreachable', from: peer, to: this.#raft.id, term: 0 });
  }

  /** Applies a committed membership change; call while applying its entry. */
  applyConfChange(cc: ConfChange): ConfState {
    return this.#raft.applyConfChange(cc);
  }

  /**
   * The applied index, its term and the configuration at it: a host that serializes its state machine over
   * several turns (while applying goes on) captures this with it and hands it to createSnapshot when the bytes
   * are ready.
   */
  snapshotPoint(): SnapshotPoint {
    const log = this.#raft.log;
    return {
      index: log.applied,
      term: log.term(log.applied) ?? 0,
      confState: this.#raft.tracker.confState(),
    };
  }

  /**
   * Records a state-machine snapshot taken at the applied index (or at `at`, a point captured earlier) (call after
   * advance(), with the state machine serialized at exactly that point), and compacts the in-memory log behind it.
   * The host persists the returned snapshot (LogStorage.saveSnapshot) and may then compact storage up to its
   * index. With `sendable` the log keeps it in memory to send to followers (while the log goes on from it), also
   * when it is not newer than the last one recorded (the cluster stayed idle since that one was stored).
   * Returns undefined while a snapshot received from the leader is pending (the state machine is about to be
   * replaced, so there is nothing worth saving), or when `at` is not newer than the last snapshot recorded.
   */
  createSnapshot(data: Uint8Array, at?: SnapshotPoint, sendable = true): Snapshot | undefined {
    const log = this.#raft.log;
    if (log.pendingSnapshot) return undefined;
    const index = at?.index ?? log.applied;
    const term = at?.term ?? log.term(index);
    if (term === undefined) throw new Error(`raft: cannot snapshot at ${index}: entry compacted`);
    const confState = at?.confState ?? this.#raft.tracker.confState();
    const snapshot: Snapshot = { metadata: { index, term, confState }, data };
    // Only while a follower restoring it could go on from our log (which may have been compacted past `at`).
    if (sendable && index >= log.firstIndex() - 1) log.latestSnapshot = snapshot;
    if (at && log.snapshotIndex >= index) return undefined;
    log.snapshotIndex = index;
    this.compactLog(index);
    return snapshot;
  }

  /**
   * Drops in-memory entries before `index` − snapshotCatchUpEntries (index ≤ applied): how the host bounds the
   * log's memory between snapshots (etcd compacts its raft log every --snapshot-count entries). A follower that
   * then needs older entries gets a snapshot, which the host offers when wantsSnapshot() says so. Returns false,
   * compacting nothing, while a follower is receiving a snapshot (the host tries again later).
   */
  compactLog(index: number): boolean {
    const log = this.#raft.log;
    const keepFrom = Math.min(index, log.applied) - this.#raft.config.snapshotCatchUpEntries;
    if (keepFrom <= log.firstIndex() - 1 || this.#raft.snapshotInFlight()) return false;
    log.compact(keepFrom);
    return true;
  }

  /**
   * True (once per request) when the leader has a follower to send a snapshot to and no snapshot in memory: the
   * host should take one (createSnapshot, sendable) soon; until then that follower waits.
   */
  wantsSnapshot(): boolean {
    const wanted = this.#raft.snapshotWanted;
    this.#raft.snapshotWanted = false;
    return wanted && this.#raft.role === 'leader';
  }

  hasReady(): boolean {
    if (this.outstanding) return false;
    const r = this.#raft;
    const soft = this.prevSoft;
    const hard = this.prevHard;
    return (
      soft.lead !== r.lead ||
      soft.role !== r.role ||
      hard.term !== r.term ||
      hard.vote !== r.vote ||
      hard.commit !== r.log.committed ||
      r.log.hasUnstable() ||
      r.msgs.length > 0 ||
      r.msgsAfterPersist.length > 0 ||
      r.log.hasNextCommitted() ||
      r.readStates.length > 0 ||
      r.needsFlush()
    );
  }

  ready(): Ready {
    if (this.outstanding) throw new Error('raft: ready() called again before advance()');
    const r = this.#raft;
    r.flush();
    const soft = this.softState();
    const hard = r.hardState();
    const softChanged = soft.lead !== this.prevSoft.lead || soft.role !== this.prevSoft.role;
    const hardChanged =
      hard.term !== this.prevHard.term ||
      hard.vote !== this.prevHard.vote ||
      hard.commit !== this.prevHard.commit;
    const snapshot = r.log.hasUnstable() ? r.log.pendingSnapshot : undefined;
    const entries = r.log.unstableEntries();
    const committedEntries = r.log.nextCommitted(r.config.maxCommittedSizePerReady);
    const selfMessages: Message[] = [];
    const afterPersist: Message[] = [];
    for (const m of r.msgsAfterPersist) (m.to === r.id ? selfMessages : afterPersist).push(m);
    const rd: Ready = {
      softState: softChanged ? soft : undefined,
      hardState: hardChanged ? hard : undefined,
      entries,
      snapshot,
      messages: r.msgs,
      messagesAfterPersist: afterPersist,
      committedEntries,
      readStates: r.readStates,
    };
    r.msgs = [];
    r.msgsAfterPersist = [];
    r.readStates = [];
    this.prevSoft = soft;
    this.prevHard = hard;
    r.log.acceptReady(entries.length > 0 ? entries[entries.length - 1].index : 0, snapshot !== undefined);
    const committedTo = committedEntries.length > 0 ? committedEntries[committedEntries.length - 1].index : 0;
    this.outstanding = { committedTo, selfMessages };
    return rd;
  }

  /** The outstanding Ready is persisted, its after-persist messages sent and its committed entries applied. */
  advance(): void {
    const outstanding = this.outstanding;
    if (!outstanding) throw new Error('raft: advance() without an outstanding Ready');
    this.outstanding = undefined;
    this.#raft.log.advance(outstanding.committedTo);
    this.#raft.onStable();
    for (const m of outstanding.selfMessages) this.#raft.step(m);
  }

  /** etcd-io/raft's BasicStatus: the hard and soft state and the log marks, without configuration or progress. */
  basicStatus(): BasicStatus {
    const r = this.#raft;
    return {
      id: r.id,
      term: r.term,
      vote: r.vote,
      lead: r.lead,
      role: r.role,
      commit: r.log.committed,
      applied: r.log.applied,
      lastIndex: r.log.lastIndex(),
      firstIndex: r.log.firstIndex(),
      stable: r.log.stable,
      leadTransferee: r.leadTransferee,
    };
  }

  /** Whether Raft leads now (cheap). A host learns role changes from Ready.softState, which lags during a save. */
  isLeader(): boolean {
    return this.#raft.role === 'leader';
  }

  /** Whether this member is a learner in its current configuration (cheap: no Status is built). */
  isLearner(): boolean {
    const r = this.#raft;
    return r.tracker.isLearner(r.id);
  }

  /** The in-memory log, read-only (inspection, the simulator's checks). */
  logView(): LogView {
    const log = this.#raft.log;
    return {
      firstIndex: () => log.firstIndex(),
      lastIndex: () => log.lastIndex(),
      term: (index) => log.term(index),
      slice: (lo, hi) => log.slice(lo, hi),
    };
  }

  /** The election timer in ticks (visualisers draw it; Status does not carry it, as in etcd-io/raft). */
  electionTimer(): { readonly elapsed: number; readonly timeout: number } {
    return this.#raft.electionTimer();
  }

  status(): Status {
    const r = this.#raft;
    const progress = new Map<NodeId, { match: number; next: number; state: string }>();
    if (r.role === 'leader') {
      for (const [id, pr] of r.tracker.progress)
        progress.set(id, { match: pr.match, next: pr.next, state: pr.state });
    }
    return { ...this.basicStatus(), conf: r.tracker.confState(), progress };
  }
}
