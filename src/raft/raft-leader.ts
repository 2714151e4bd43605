// The leader's half of the Raft state machine (etcd-io/raft raft.go: stepLeader and the send and commit paths):
// proposals, replication to each follower (appends within the inflight window, snapshots in chunks, heartbeats),
// commit by counting replicas (§5.4.2), ReadIndex rounds (§6.4) and leadership transfer. The state every role
// shares is declared here too. Roles, ticks, elections and the follower side are in raft.ts, whose Raft extends
// this class; hosts use neither directly but RawNode (raw-node.ts).

import type { RaftConfig } from './config.ts';
import type { RaftLog } from './log.ts';
import type { Progress } from './progress.ts';
import { ReadOnly } from './read-only.ts';
import { ProgressTracker } from './tracker.ts';
import {
  type Entry,
  entriesBytes,
  type HardState,
  type Message,
  type MessageType,
  NONE,
  type NodeId,
  type ReadState,
  type SnapshotChunk,
  type StateRole,
} from './types.ts';

/** Why a proposal was not accepted. The server maps these to etcd's errors. */
export type ProposalRejection =
  | 'noLeader' // nobody to forward to
  | 'transferring' // leadership transfer in progress (etcd: leader changed)
  | 'confChangePending' // a previous membership change is not applied yet
  | 'leaderNotReady' // the new leader has not committed an entry of its term yet
  | 'tooManyRequests'; // applied lags committed too far, or too much is uncommitted

export type ProposalResult =
  | { readonly ok: true; readonly index?: number; readonly term?: number }
  | { readonly ok: false; readonly reason: ProposalRejection };

/** Messages whose sending vouches for durable state: they go out only after the Ready is persisted. */
const AFTER_PERSIST: ReadonlySet<MessageType> = new Set<MessageType>(['MsgAppResp', 'MsgVoteResp']);

export abstract class RaftLeader {
  readonly config: RaftConfig;
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: StateRole = 'follower';

  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  /** Messages that may be sent at once, and those that must wait until the current Ready is durable. */
  msgs: Message[] = [];
  msgsAfterPersist: Message[] = [];
  readStates: ReadState[] = [];

  protected electionElapsed = 0;
  /** Index of the latest membership change proposed; a new one waits until it is applied. */
  protected pendingConfIndex = 0;
  leadTransferee: NodeId = NONE;
  protected uncommittedBytes = 0;
  protected readonly readOnly = new ReadOnly();
  /** A follower needs a snapshot and none is in memory: the host should offer one (RawNode.wantsSnapshot). */
  snapshotWanted = false;
  /** Replication messages are batched: proposals mark the log dirty, flush() sends once per Ready. */
  protected appendsDirty = false;
  protected commitDirty = false;

  constructor(config: RaftConfig, log: RaftLog) {
    this.config = config;
    this.id = config.id;
    this.log = log;
    this.tracker = new ProgressTracker(config.maxInflightMsgs, config.maxInflightBytes);
  }

  abstract becomeFollower(term: number, lead: NodeId): void;

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** A voter in its own configuration, with no snapshot pending, may campaign. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id) && this.log.pendingSnapshot === undefined;
  }

  protected send(m: Omit<Message, 'from' | 'term'> & { term?: number }): void {
    const msg: Message = { ...m, from: this.id, term: m.term ?? this.term };
    const early = this.config.testingBug === 'ackBeforePersist' && msg.type === 'MsgAppResp';
    if (AFTER_PERSIST.has(msg.type) && !early) this.msgsAfterPersist.push(msg);
    else this.msgs.push(msg);
  }

  /** A leader's handling of a message that passed the term checks in Raft.step. */
  protected stepLeader(m: Message): void {
    switch (m.type) {
      case 'MsgBeat':
        this.bcastHeartbeat(this.readOnly.lastContext());
        return;
      case 'MsgCheckQuorum':
        if (!this.tracker.quorumActive(this.id)) {
          this.config.logger?.warn('raft: leader steps down, quorum not active', { term: this.term });
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.tracker.progress) if (id !== this.id) pr.recentActive = false;
        return;
      case 'MsgProp':
        this.propose(m.entries ?? []);
        return;
      case 'MsgReadIndex':
        this.readIndex(m.context ?? new Uint8Array(0), m.from);
        return;
      case 'MsgTransferLeader':
        this.handleTransferLeader(m.from);
        return;
    }

    const pr = this.tracker.progress.get(m.from);
    if (!pr) return;
    switch (m.type) {
      case 'MsgAppResp':
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case 'MsgHeartbeatResp':
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.state === 'snapshot') this.sendSnapshotChunk(m.from, pr);
        // A lagging follower gets an append even if we have nothing new for it: if our earlier appends were
        // lost, its rejection moves it back to probing (else an idle cluster would never repair it).
        else if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, pr, true);
        if (m.context && m.context.length > 0)
          this.releaseReads(this.readOnly.ack(m.from, m.context, this.tracker));
        return;
      case 'MsgSnapResp':
        pr.recentActive = true;
        if (pr.state === 'snapshot' && pr.snapshot && m.index === pr.snapshot.metadata.index) {
          // Only an acknowledgement that changes our view sends: an equal one is a reply to a duplicate. A
          // lower one means the follower lost chunks (it restarted, or switched snapshots): go back to it.
          const offset = m.offset ?? 0;
          if (offset !== pr.snapshotOffset) {
            pr.snapshotOffset = offset;
            this.sendSnapshotChunk(m.from, pr);
          }
        }
        return;
      case 'MsgUnreachable':
        if (pr.state !== 'probe') pr.becomeProbe();
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    const index = m.index ?? 0;
    if (m.reject) {
      let next = m.rejectHint ?? 0;
      if ((m.logTerm ?? 0) > 0) next = this.log.findConflictByTerm(next, m.logTerm ?? 0).index;
      if (pr.maybeDecrTo(index, next)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from, pr, true);
      }
      return;
    }
    const oldPaused = pr.isPaused();
    if (!pr.maybeUpdate(index)) {
      if (pr.state === 'snapshot' && pr.match >= (pr.snapshot?.metadata.index ?? 0)) pr.becomeProbe();
      return;
    }
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= (pr.snapshot?.metadata.index ?? 0)) {
      pr.becomeProbe();
      pr.becomeReplicate();
    } else if (pr.state === 'replicate') pr.inflights.freeLE(index);

    if (this.maybeCommit()) {
      this.commitDirty = true;
    } else if (oldPaused || pr.next <= this.log.lastIndex()) {
      // A follower that was paused gets at least an empty append, which also carries the commit index.
      this.sendAppend(m.from, pr, oldPaused);
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'MsgTimeoutNow', to: m.from });
    }
  }

  private handleTransferLeader(transferee: NodeId): void {
    const pr = this.tracker.progress.get(transferee);
    if (!pr || pr.isLearner || transferee === this.id) return;
    if (this.leadTransferee === transferee) return;
    this.leadTransferee = transferee;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'MsgTimeoutNow', to: transferee });
    else this.sendAppend(transferee, pr, true);
  }

  // Leader: proposals, replication, commit.

  /** Appends proposed entries on the leader, or forwards them to the leader. */
  propose(entries: readonly Pick<Entry, 'type' | 'data'>[]): ProposalResult {
    if (this.role !== 'leader') {
      if (this.lead === NONE) return { ok: false, reason: 'noLeader' };
      this.msgs.push({ type: 'MsgProp', from: this.id, to: this.lead, term: 0, entries: entries as Entry[] });
      return { ok: true };
    }
    if (this.leadTransferee !== NONE) return { ok: false, reason: 'transferring' };
    if (this.log.committed - this.log.applied > this.config.maxApplyLag)
      return { ok: false, reason: 'tooManyRequests' };
    const bytes = entriesBytes(entries);
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedBytes) {
      return { ok: false, reason: 'tooManyRequests' };
    }
    if (entries.some((e) => e.type === 'confChange')) {
      if (entries.length !== 1) return { ok: false, reason: 'confChangePending' };
      if (this.pendingConfIndex > this.log.applied) return { ok: false, reason: 'confChangePending' };
      // The single-server change bug (Ongaro, raft-dev 2015): a new leader must commit an entry of its own
      // term before it changes membership.
      if (!this.committedInCurrentTerm()) return { ok: false, reason: 'leaderNotReady' };
      this.pendingConfIndex = this.log.lastIndex() + 1;
    }
    const last = this.appendEntries(entries);
    this.uncommittedBytes += bytes;
    return { ok: true, index: last, term: this.term };
  }

  protected appendEntries(entries: readonly Pick<Entry, 'type' | 'data'>[]): number {
    let index = this.log.lastIndex();
    const full: Entry[] = entries.map((e) => ({
      term: this.term,
      index: ++index,
      type: e.type,
      data: e.data,
    }));
    this.log.append(full);
    this.appendsDirty = true;
    // The leader's own acknowledgement comes from advance(), once its entries are durable.
    return index;
  }

  committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /** Raft §5.4.2: only entries of the current term are committed by counting replicas. */
  maybeCommit(): boolean {
    const index = this.tracker.committed();
    if (index <= this.log.committed) return false;
    const term = this.log.term(Math.min(index, this.log.lastIndex()));
    if (term !== this.term && !this.config.testingUnsafeCommitAnyTerm) return false;
    const before = this.log.committed;
    this.log.commitTo(Math.min(index, this.log.lastIndex()));
    this.uncommittedBytes = Math.max(
      0,
      this.uncommittedBytes - this.committedBytes(before, this.log.committed),
    );
    return true;
  }

  private committedBytes(from: number, to: number): number {
    const lo = Math.max(from + 1, this.log.firstIndex());
    return lo > to ? 0 : entriesBytes(this.log.slice(lo, to + 1));
  }

  /** Our own entries became durable up to `stable`: count ourselves (leader), maybe commit. */
  onStable(): void {
    if (this.role !== 'leader') return;
    const self = this.tracker.progress.get(this.id);
    if (self?.maybeUpdate(this.log.stable) && this.maybeCommit()) this.commitDirty = true;
  }

  /** Sends entries to one follower; in replicate state, as many messages as the inflight window allows. */
  private sendAppend(to: NodeId, pr: Progress, sendIfEmpty: boolean): boolean {
    let sent = false;
    while (!pr.isPaused()) {
      const prevIndex = pr.next - 1;
      const prevTerm = this.log.term(prevIndex);
      if (prevTerm === undefined) return this.sendSnapshot(to, pr);
      const entries =
        pr.next <= this.log.lastIndex()
          ? this.log.slice(pr.next, this.log.lastIndex() + 1, this.config.maxSizePerMsg)
          : [];
      if (entries.length === 0 && !sendIfEmpty) return sent;
      const bytes = entriesBytes(entries);
      this.send({
        type: 'MsgApp',
        to,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
      });
      pr.sentEntries(prevIndex + entries.length, bytes);
      sent = true;
      sendIfEmpty = false;
      if (pr.state !== 'replicate' || pr.next > this.log.lastIndex()) break;
    }
    return sent;
  }

  /**
   * A follower that answers is receiving a snapshot: the host should not compact the log meanwhile (etcd pauses
   * compaction during a snapshot send), or the entries right after the snapshot may be gone once it is restored,
   * and the follower would need another.
   */
  snapshotInFlight(): boolean {
    if (this.role !== 'leader') return false;
    for (const [id, pr] of this.tracker.progress) {
      if (id !== this.id && pr.state === 'snapshot' && pr.recentActive) return true;
    }
    return false;
  }

  /**
   * Starts sending our snapshot to `to`. Without one in memory (etcd-io/raft's ErrSnapshotTemporarilyUnavailable)
   * the host is asked for one (snapshotWanted) and nothing is sent: the next heartbeat response tries again.
   */
  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.log.latestSnapshot;
    if (!snapshot) {
      this.snapshotWanted = true;
      return false;
    }
    pr.becomeSnapshot(snapshot);
    this.config.logger?.info('raft: sending snapshot', { to: String(to), index: snapshot.metadata.index });
    this.sendSnapshotChunk(to, pr);
    return true;
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snapshot = pr.snapshot;
    if (!snapshot) return;
    const offset = Math.min(pr.snapshotOffset, snapshot.data.length);
    if (offset >= snapshot.data.length && snapshot.data.length > 0) return; // all sent; waiting for MsgAppResp
    const data = snapshot.data.subarray(offset, offset + this.config.snapshotChunkBytes);
    const chunk: SnapshotChunk = { metadata: snapshot.metadata, offset, data, total: snapshot.data.length };
    this.send({ type: 'MsgSnap', to, snapshot: chunk });
  }

  private bcastHeartbeat(context: Uint8Array | undefined): void {
    for (const [id, pr] of this.tracker.progress) {
      if (id === this.id) continue;
      this.send({ type: 'MsgHeartbeat', to: id, commit: Math.min(pr.match, this.log.committed), context });
    }
  }

  /** Sends what batching deferred: appends for new entries, the new commit index, ReadIndex rounds. */
  flush(): void {
    if (this.role !== 'leader') return;
    if (this.appendsDirty || this.commitDirty) {
      for (const [id, pr] of this.tracker.progress) {
        if (id !== this.id) this.sendAppend(id, pr, this.commitDirty);
      }
      this.appendsDirty = false;
      this.commitDirty = false;
    }
    const round = this.readOnly.startRound(this.log.committed, this.committedInCurrentTerm());
    if (round) {
      if (this.tracker.voters.length === 1 && this.tracker.isVoter(this.id)) {
        this.releaseReads(this.readOnly.ack(this.id, round, this.tracker));
      } else {
        this.readOnly.ack(this.id, round, this.tracker);
        this.bcastHeartbeat(round);
      }
    }
  }

  needsFlush(): boolean {
    return (
      this.role === 'leader' &&
      (this.appendsDirty || this.commitDirty || this.readOnly.hasQueued(this.committedInCurrentTerm()))
    );
  }

  // ReadIndex (Raft §6.4): a read at the commit index is linearizable once a quorum confirms we still lead.

  readIndex(context: Uint8Array, from: NodeId = this.id): boolean {
    if (this.role !== 'leader') {
      if (this.lead === NONE) return false;
      this.msgs.push({ type: 'MsgReadIndex', from: this.id, to: this.lead, term: 0, context });
      return true;
    }
    this.readOnly.enqueue(from, context);
    return true;
  }

  private releaseReads(released: { index: number; from: NodeId; context: Uint8Array }[]): void {
    for (const r of released) {
      if (r.from === this.id) this.readStates.push({ index: r.index, context: r.context });
      else this.send({ type: 'MsgReadIndexResp', to: r.from, index: r.index, context: r.context });
    }
  }
}
