// One member of an edgecd cluster, sans I/O: the Raft node, the replicated state machine, and the requests
// waiting on them. Inputs are `step`, `tick`, `submit` (a write), `read` (a linearizable read barrier);
// outputs go through the injected ReplicaIO (send messages, persist a batch, save a snapshot), whose
// completions come back as callbacks. No promises, timers or clocks inside: the async node (node.ts) and
// the deterministic simulator drive the very same code.

import type { Logger, Random } from '../env.ts';
import { type EtcdError, errors } from '../etcd/errors.ts';
import { minLeaseTtl } from '../lease/index.ts';
import { decodeConfChange } from '../raft/confchange.ts';
import type { ProposalRejection } from '../raft/raft.ts';
import { RawNode, type Ready, type Status } from '../raft/raw-node.ts';
import {
  type ConfChange,
  entriesBytes,
  type HardState,
  type Message,
  NONE,
  type NodeId,
  type Snapshot,
} from '../raft/types.ts';
import type { LoadedState } from '../storage.ts';
import { WatchableStore } from '../watch/index.ts';
import { DEFAULT_QUOTA_BYTES, quotaCost } from './alarms.ts';
import { LeaderDuties } from './leader-duties.ts';
import { decodeMemberContext, encodeMemberContext, type MemberContext } from './members.ts';
import { ApplyTimer } from './metrics.ts';
import {
  decodeProposal,
  encodeProposal,
  type Operation,
  type RequestId,
  requestKey,
  tagContext,
  untagContext,
} from './ops.ts';
import { ReadIndexQueue } from './read-queue.ts';
import type { BootstrapMember, ReplicaConfig, ReplicaIO } from './replica-io.ts';
import { Snapshotter } from './snapshotter.ts';
import { type ApplyResult, ServerStateMachine } from './state-machine.ts';

export type { BootstrapMember, ReplicaConfig, ReplicaIO };

type Callback = (result: ApplyResult) => void;

type Waiter = { readonly cb: Callback; readonly deadline: number };

export class Replica {
  readonly raw: RawNode;
  readonly sm: ServerStateMachine;
  readonly watchable: WatchableStore;
  private readonly nonce: number;
  private seq = 0;
  private readonly waiters = new Map<string, Waiter>();
  /** etcd_server_proposals_failed_total: proposals refused by Raft, timed out or cut short by a stop. */
  proposalsFailed = 0;
  private waitingForLeader: { id: RequestId; data: Uint8Array; cb: Callback; deadline: number }[] = [];
  private readonly reads: ReadIndexQueue;
  private writing = false;
  private pumping = false;
  private stopped = false;
  private readonly snapshots: Snapshotter;
  private isLeader = false;
  private readonly duties: LeaderDuties;
  /** While leading: the index whose application promotes the lessor. */
  private promoteAt?: number;
  /** Listeners for observers (status streams, the demo): called after every Ready. */
  private readonly listeners = new Set<() => void>();
  /** Internal proposals raised while applying, submitted once the Ready is advanced. */
  private raisedWhileApplying: Operation[] = [];

  private readonly applyTimer: ApplyTimer;
  /** The hard state last handed to storage (MustSync compares a Ready's with it). */
  private persistedHardState: HardState;

  readonly config: ReplicaConfig;
  private readonly io: ReplicaIO;
  private readonly random: Random;
  private readonly logger: Logger;

  constructor(
    config: ReplicaConfig,
    loaded: LoadedState,
    bootstrap: readonly BootstrapMember[] | undefined,
    io: ReplicaIO,
    random: Random,
    logger: Logger,
  ) {
    this.config = config;
    this.io = io;
    this.random = random;
    this.logger = logger;
    this.nonce = Math.floor(random.next() * 0x7fffffff);
    this.reads = new ReadIndexQueue(this.nonce, (context) => this.raw.readIndex(context));
    this.applyTimer = new ApplyTimer(io.metrics);
    this.persistedHardState = loaded.hardState;
    this.duties = new LeaderDuties(config, io.now(), (op) => this.submitInternal(op), logger);
    this.sm = new ServerStateMachine(
      {
        maxTxnOps: config.maxTxnOps,
        minLeaseTtl: minLeaseTtl(config.electionTicks, config.tickMs),
        ...(io.values ? { values: () => io.values!() } : {}),
      },
      {
        onEvents: (events, revision) => this.watchable.notify(events, revision),
        onCompacted: (revision) => this.watchable.compacted(revision),
        onHashMismatch: (revision) => {
          if (this.sm.alarms.has('CORRUPT', config.id)) return;
          this.logger.error("corruption check: this member's keyspace differs from the leader's", {
            revision,
          });
          this.raisedWhileApplying.push({
            type: 'alarm',
            action: 'ACTIVATE',
            memberID: config.id,
            alarm: 'CORRUPT',
          });
        },
      },
    );
    if (loaded.snapshot) this.sm.restore(loaded.snapshotReader ?? loaded.snapshot.data);
    this.watchable = new WatchableStore(this.sm.mvcc, { header: () => this.header() });
    // The initial membership goes into the log (bootstrap confChange entries) with each member's URLs, so
    // that members learn it by applying the log, also after a restart and when joining later.
    const voters = bootstrap?.filter((m) => !m.isLearner).map((m) => m.id) ?? [];
    const learners = bootstrap?.filter((m) => m.isLearner).map((m) => m.id) ?? [];
    const contexts = new Map(
      (bootstrap ?? []).map((m) => [m.id, encodeMemberContext({ peerURLs: m.peerURLs, name: m.name })]),
    );
    this.raw = new RawNode(
      {
        id: config.id,
        random,
        electionTick: config.electionTicks,
        heartbeatTick: 1,
        logger,
        ...config.raft,
      },
      loaded,
      bootstrap ? { voters, learners, contexts } : undefined,
    );
    this.snapshots = new Snapshotter(
      {
        raw: this.raw,
        io,
        sm: this.sm,
        count: config.snapshotCount,
        stepRecords: config.snapshotStepRecords,
        stopped: () => this.stopped,
        fail: (err) => this.fail(err),
      },
      loaded.snapshot?.metadata.index ?? 0,
    );
  }

  header(): { clusterId: bigint; memberId: bigint; revision: number; raftTerm: number } {
    return {
      clusterId: this.config.clusterId,
      memberId: this.config.id,
      revision: this.sm.mvcc.revision,
      raftTerm: this.raw.basicStatus().term,
    };
  }

  get leaderId(): bigint {
    return this.raw.basicStatus().lead;
  }

  isLearner(): boolean {
    return this.raw.isLearner();
  }

  /** Raft's view of this member (etcd-io/raft's Status). */
  status(): Status {
    return this.raw.status();
  }

  get electionTimeoutMs(): number {
    return this.config.electionTicks * this.config.tickMs;
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // Inputs.
  step(m: Message): void {
    if (this.stopped) return;
    this.raw.step(m);
    this.schedulePump();
  }

  /** The transport could not reach `peer` (etcd's ReportUnreachable): it goes back to probing. */
  reportUnreachable(peer: NodeId): void {
    this.raw.reportUnreachable(peer);
  }

  /**
   * MoveLeader: asks Raft to hand leadership to `target`, and steps a heartbeat response from it so that the
   * leader checks its progress (and sends TimeoutNow if it has caught up) without waiting for the next beat.
   */
  transferLeadership(target: NodeId): void {
    this.raw.transferLeader(target);
    this.step({ type: 'MsgHeartbeatResp', from: target, to: this.config.id, term: 0 });
  }

  tick(): void {
    if (this.stopped) return;
    this.raw.tick();
    const now = this.io.now();
    if (this.isLeader) {
      this.duties.run(now, this.sm);
      // A follower may be waiting for a snapshot while nothing is applied here.
      this.snapshots.maybe();
    }
    this.expireRequests(now);
    this.retryWaitingForLeader(now);
    this.watchable.syncWatchers();
    this.pump();
  }

  /** Proposes a replicated operation; `cb` gets its result once applied here (or an error). */
  submit(op: Operation, cb: Callback): void {
    if (this.stopped) return cb({ ok: false, error: errors.stopped() });
    const cost = quotaCost(op);
    if (cost > 0 && this.sm.dbSize() + cost >= this.quotaBytes) {
      // etcd's quotaKVServer: a write that would not fit raises NOSPACE for this member (through Raft, so every
      // member then refuses writes that add data) and is refused without being proposed.
      if (this.sm.alarms.has('NOSPACE', this.config.id)) return cb({ ok: false, error: errors.noSpace() });
      this.logger.warn('space quota exceeded; raising NOSPACE', {
        dbSize: this.sm.dbSize(),
        quota: this.quotaBytes,
      });
      const alarm: Operation = {
        type: 'alarm',
        action: 'ACTIVATE',
        memberID: this.config.id,
        alarm: 'NOSPACE',
      };
      return this.submit(alarm, () => cb({ ok: false, error: errors.noSpace() }));
    }
    const id: RequestId = { member: this.config.id, nonce: this.nonce, seq: this.seq++ };
    const data = encodeProposal({ id, op });
    if (data.length > this.config.maxRequestBytes) return cb({ ok: false, error: errors.requestTooLarge() });
    this.propose(id, data, cb, this.io.now() + this.config.requestTimeoutMs);
  }

  private propose(id: RequestId, data: Uint8Array, cb: Callback, deadline: number): void {
    const res = this.raw.propose(data);
    if (!res.ok) {
      // During an election a write waits for the new leader (as etcd's clients experience it) rather than
      // failing at once; if none appears before its deadline it fails with "no leader" — never proposed.
      if (res.reason === 'noLeader' && deadline > this.io.now()) {
        this.waitingForLeader.push({ id, data, cb, deadline });
        return;
      }
      this.proposalsFailed++;
      return cb({ ok: false, error: rejection(res.reason) });
    }
    this.waiters.set(requestKey(id), { cb, deadline });
    this.schedulePump();
  }

  /** etcd_server_proposals_pending: proposals made here and not yet applied (or failed). */
  get proposalsPending(): number {
    return this.waiters.size + this.waitingForLeader.length;
  }

  /** etcd's --quota-backend-bytes (0: the 2 GiB default). */
  get quotaBytes(): number {
    return this.config.quotaBytes || DEFAULT_QUOTA_BYTES;
  }

  private retryWaitingForLeader(now: number): void {
    if (this.waitingForLeader.length === 0) return;
    const waiting = this.waitingForLeader;
    this.waitingForLeader = [];
    for (const w of waiting) {
      if (w.deadline <= now) {
        this.proposalsFailed++;
        w.cb({ ok: false, error: errors.noLeader() });
      } else if (this.leaderId === NONE) this.waitingForLeader.push(w);
      else this.propose(w.id, w.data, w.cb, w.deadline);
    }
  }

  /** Proposes a membership change; `cb` gets the new member list once applied here. */
  submitConfChange(cc: ConfChange, cb: Callback): void {
    if (this.stopped) return cb({ ok: false, error: errors.stopped() });
    const id: RequestId = { member: this.config.id, nonce: this.nonce, seq: this.seq++ };
    const context = cc.context ?? new Uint8Array(0);
    const tagged: ConfChange = { ...cc, context: tagContext(id, context) };
    const res = this.raw.proposeConfChange(tagged);
    if (!res.ok) {
      this.proposalsFailed++;
      return cb({ ok: false, error: rejection(res.reason) });
    }
    this.waiters.set(requestKey(id), { cb, deadline: this.io.now() + this.config.requestTimeoutMs });
    this.pump();
  }

  /** A linearizable read barrier: `cb()` once this member has applied everything committed before the call. */
  read(cb: (error?: EtcdError) => void): void {
    if (this.stopped) return cb(errors.stopped());
    this.reads.add(cb, this.io.now() + this.config.requestTimeoutMs);
    this.schedulePump();
  }

  stop(): void {
    this.stopped = true;
    this.proposalsFailed += this.waiters.size + this.waitingForLeader.length;
    for (const w of this.waiters.values()) w.cb({ ok: false, error: errors.stopped() });
    this.waiters.clear();
    this.reads.stop();
    for (const w of this.waitingForLeader) w.cb({ ok: false, error: errors.stopped() });
    this.waitingForLeader = [];
  }

  // The Ready loop.
  private pumpScheduled = false;

  private schedulePump(): void {
    const defer = this.io.defer;
    if (!defer) return this.pump();
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    defer(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    if (this.pumping || this.stopped) return;
    this.pumping = true;
    try {
      this.reads.start(this.io.now());
      for (;;) {
        // One Ready at a time, as etcd's raft loop: while a save is in flight nothing more goes out — what ticks
        // and steps raise meanwhile (heartbeats, appends of new proposals) leaves with the next Ready. So a member
        // whose disk is slower than the election timeout stops heartbeating and the others elect a new leader,
        // and proposals that arrive during a save go out and to disk as one batch.
        if (this.writing || !this.raw.hasReady()) break;
        const rd = this.raw.ready();
        this.observeSoftState(rd);
        if (rd.messages.length > 0) this.io.send(rd.messages, false);
        if (rd.entries.length > 0 || rd.hardState || rd.snapshot) {
          this.writing = true;
          let syncDone = false;
          const hs = rd.hardState;
          const last = this.persistedHardState;
          // etcd-io/raft's MustSync: a Ready that only moves the commit index is written without a sync.
          const commitOnly =
            rd.entries.length === 0 && !rd.snapshot && !!hs && hs.term === last.term && hs.vote === last.vote;
          if (hs) this.persistedHardState = hs;
          const batch = { snapshot: rd.snapshot, entries: rd.entries, hardState: hs };
          this.io.persist(commitOnly ? { ...batch, commitOnly } : batch, (err) => {
            if (err) return this.fail(err);
            this.writing = false;
            if (this.pumping) syncDone = true;
            this.afterPersist(rd);
            if (!syncDone) this.pump();
          });
          if (this.writing) {
            // Committed entries are durable here already (Raft hands out none past `stable`): the normal ones
            // apply now, while this Ready's write is in flight (as etcd applies beside its WAL save), not a
            // whole fsync later. Membership changes, a snapshot and read states wait for the write.
            if (!rd.snapshot && !this.stopped) this.applyCommittedEarly(rd);
            break;
          }
        } else {
          this.afterPersist(rd);
        }
      }
    } finally {
      this.pumping = false;
    }
    for (const l of this.listeners) l();
  }

  private storageFailed = false;

  private fail(err: unknown): void {
    if (this.storageFailed) return;
    this.storageFailed = true;
    this.logger.error('storage failed; stopping this member', { error: String(err) });
    this.stop();
    this.io.fatal?.(err);
  }

  private observeSoftState(rd: Ready): void {
    if (!rd.softState) return;
    const leader = rd.softState.role === 'leader';
    if (leader && !this.isLeader) {
      // The lessor is promoted only once the entry that opened our term applies: then every lease entry of
      // earlier terms (grants, renews, checkpoints) is reflected in the state it extends.
      this.promoteAt = this.raw.basicStatus().lastIndex;
    } else if (!leader && this.isLeader) {
      this.promoteAt = undefined;
      this.duties.demoted();
      this.sm.lessor.demote();
    }
    this.isLeader = leader;
    if (rd.softState.lead !== this.leaderId || rd.softState.role !== 'leader') {
      // Reads waiting on an answer from a leader that is gone are asked again.
      this.reads.retry(true, this.io.now(), this.electionTimeoutMs);
    }
  }

  /** Applies the committed entries of `rd` up to its first membership change (see pump). */
  private applyCommittedEarly(rd: Ready): void {
    const before = this.sm.appliedIndex;
    const timer = this.applyTimer;
    timer.begin();
    for (const e of rd.committedEntries) {
      if (e.type === 'confChange') break;
      if (e.index <= this.sm.appliedIndex) continue;
      const t = timer.now();
      if (e.data.length > 0 && !this.applyNormal(e.data, e.index)) return;
      timer.entryDone(t);
      this.sm.appliedIndex = e.index;
      this.io.applied?.(e);
    }
    timer.end();
    if (this.sm.appliedIndex !== before) this.reads.release(this.sm.appliedIndex);
  }

  private afterPersist(rd: Ready): void {
    if (rd.messagesAfterPersist.length > 0) this.io.send(rd.messagesAfterPersist, true);
    if (rd.snapshot) {
      this.sm.restore(rd.snapshot.data);
      this.watchable.restore(this.sm.mvcc);
      this.snapshots.received(rd.snapshot.metadata.index);
    }
    const timer = this.applyTimer;
    timer.begin();
    for (const e of rd.committedEntries) {
      if (e.index <= this.sm.appliedIndex) {
        // Already in the state we restored from a snapshot, but Raft must still see membership changes.
        if (e.type === 'confChange') this.raw.applyConfChange(decodeConfChange(e.data));
        continue;
      }
      const t = timer.now();
      if (e.type === 'confChange') this.applyConfChange(e.data);
      else if (e.data.length > 0 && !this.applyNormal(e.data, e.index)) return;
      timer.entryDone(t);
      this.sm.appliedIndex = e.index;
      this.io.applied?.(e);
    }
    timer.end();
    this.reads.answered(rd.readStates);
    this.raw.advance();
    if (this.promoteAt !== undefined && this.sm.appliedIndex >= this.promoteAt && this.isLeader) {
      this.promoteAt = undefined;
      this.sm.lessor.promote(this.io.now(), this.electionTimeoutMs);
    }
    this.reads.release(this.sm.appliedIndex);
    this.snapshots.maybe(entriesBytes(rd.committedEntries));
    if (this.raisedWhileApplying.length > 0) {
      const ops = this.raisedWhileApplying;
      this.raisedWhileApplying = [];
      for (const op of ops) this.submitInternal(op);
    }
  }

  /** False if the member's storage failed (StateMachine.apply throws): it stops, and applies nothing more. */
  private applyNormal(data: Uint8Array, index: number): boolean {
    const { id, op } = decodeProposal(data);
    // A duplicated proposal (a MsgProp the network delivered twice) is applied once.
    if (!this.sm.dedup.firstTime(id, index)) return true;
    let result: ApplyResult;
    try {
      result = this.sm.apply(op, this.io.now(), index);
    } catch (e) {
      this.fail(e);
      return false;
    }
    const key = id.member === this.config.id ? requestKey(id) : undefined;
    const w = key === undefined ? undefined : this.waiters.get(key);
    if (w) {
      this.waiters.delete(key as string);
      w.cb(result);
    }
    return true;
  }

  private applyConfChange(data: Uint8Array): void {
    const cc = decodeConfChange(data);
    const { id, context } = untagContext(cc.context);
    const member: MemberContext = decodeMemberContext(context);
    this.raw.applyConfChange(cc);
    const members = this.sm.members;
    let result: ApplyResult = { ok: true, value: {} };
    switch (cc.type) {
      case 'addNode':
        if (members.get(cc.nodeId)) members.promote(cc.nodeId);
        else members.add(cc.nodeId, member, false);
        break;
      case 'addLearner':
        members.add(cc.nodeId, member, true);
        break;
      case 'removeNode':
        members.remove(cc.nodeId);
        if (cc.nodeId === this.config.id) this.logger.warn('this member was removed from the cluster');
        break;
    }
    if (member.peerURLs.length > 0 && cc.type !== 'removeNode')
      members.updatePeerURLs(cc.nodeId, member.peerURLs);
    result = { ok: true, value: { members: members.list() } };
    if (id && id.member === this.config.id) {
      const key = requestKey(id);
      const w = this.waiters.get(key);
      if (w) {
        this.waiters.delete(key);
        w.cb(result);
      }
    }
  }

  /**
   * Takes a snapshot now at the applied index (Defragment; tests); `done` runs once it is saved and the log before
   * it compacted, or at once when there is nothing newer to snapshot.
   */
  forceSnapshot(done: (error?: unknown) => void = () => {}): Snapshot | undefined {
    return this.snapshots.force(done);
  }

  private expireRequests(now: number): void {
    for (const [key, w] of this.waiters) {
      if (w.deadline <= now) {
        this.waiters.delete(key);
        this.proposalsFailed++;
        w.cb({ ok: false, error: errors.timeout() });
      }
    }
    // Linearizable reads: one ReadIndex request for every read queued since the last one (./read-queue.ts).
    this.reads.expire(now, this.electionTimeoutMs, () => this.leaderId === NONE);
  }

  /** Test hook: corrupts this member's keyspace (one stored value) without going through Raft. */
  testingCorrupt(): void {
    this.sm.testingCorruptKeyspace();
    this.watchable.restore(this.sm.mvcc);
  }

  private submitInternal(op: Operation): void {
    this.submit(op, (r) => {
      if (!r.ok && !(r.error.message === errors.leaseNotFound().message)) {
        this.logger.debug('internal proposal failed', { op: op.type, error: r.error.message });
      }
    });
  }

  /** A keep-alive: served by the leader locally unless the lease carries a checkpoint to reset. */
  keepAlive(
    id: bigint,
    cb: (ttl: number | EtcdError) => void,
    forwarded?: { readonly applied: number },
  ): void {
    // The lessor is demoted when a Ready reports the step-down, which waits for a save in flight (a slow disk can
    // hold it past the next election): a member that Raft no longer lets lead renews nothing locally.
    const leader = this.raw.isLeader();
    const r = leader ? this.sm.lessor.renew(id, this.io.now()) : ({ status: 'notLeader' } as const);
    // Forwarded by a follower (./lease-forward.ts): a member that does not lead proposes nothing for it (the
    // follower asks again), nor says "not found" before applying what the follower had (the grant, maybe).
    if (forwarded && (!leader || (r.status === 'notFound' && this.sm.appliedIndex < forwarded.applied)))
      return cb(errors.notLeader());
    if (r.status === 'notFound' || r.status === 'expired') return cb(errors.leaseNotFound());
    if (r.status === 'renewed') return cb(r.ttl);
    // A checkpoint to reset (leader), or not the leader: the keep-alive goes through Raft.
    this.submit({ type: 'leaseRenew', id }, (res) =>
      cb(res.ok ? (res.value as { TTL: number }).TTL : res.error),
    );
  }

  /** A fresh random ID (lease IDs chosen by the server), decided before proposing. */
  randomId(): bigint {
    const hi = BigInt(Math.floor(this.random.next() * 0x7fffffff));
    const lo = BigInt(Math.floor(this.random.next() * 0x100000000));
    const id = (hi << 32n) | lo;
    return id === 0n ? 1n : id;
  }
}

function rejection(reason: ProposalRejection): EtcdError {
  switch (reason) {
    case 'noLeader':
      return errors.noLeader();
    case 'tooManyRequests':
      return errors.tooManyRequests();
    case 'transferring':
      return errors.leaderChanged();
    case 'confChangePending':
    case 'leaderNotReady':
      return errors.timeout();
  }
}
