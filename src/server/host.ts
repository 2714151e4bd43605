// The member's host loop: wires a Replica (the sans-I/O member) to real storage, transport and clock — ticks,
// the storage queue, the transport's peer list, publishing this member — and gives the etcd services
// (./services/) their narrow context. createNode (./node.ts) assembles the services over it into an EdgeNode.

import { JwtTokens } from '../auth/tokens.ts';
import type { Logger, TimerHandle } from '../env.ts';
import { silentLogger } from '../env.ts';
import { EtcdError } from '../etcd/errors.ts';
import { DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS } from '../etcd/limits.ts';
import type { Member, ResponseHeader } from '../etcd/types.ts';
import type { Status } from '../raft/raw-node.ts';
import type { NodeId } from '../raft/types.ts';
import type { LogStorage, SnapshotSource } from '../storage.ts';
import type { WatchStream as MvccWatchStream, WatchStreamOptions } from '../watch/index.ts';
import { etcdStateOf } from './etcd-snapshot.ts';
import { Identity } from './identity.ts';
import type { NodeInspection } from './inspect.ts';
import { KeepAliveForwarder, type TimeToLiveAnswer } from './lease-forward.ts';
import { encodeMemberContext } from './members.ts';
import { HeartbeatMonitor } from './metrics.ts';
import type { NodeOptions, NodeStatus, RequestOptions, ServingState } from './node.ts';
import type { Operation } from './ops.ts';
import { Replica, type ReplicaConfig } from './replica.ts';
import type { ServiceContext, StateView } from './services/context.ts';
import type { ApplyResult } from './state-machine.ts';

export class NodeHost implements ServiceContext {
  readonly id: bigint;
  readonly options: NodeOptions;
  private readonly replica: Replica;
  /** Keep-alives reaching this member while it follows go to the leader (./lease-forward.ts). */
  private readonly leases: KeepAliveForwarder;
  readonly state: StateView;
  readonly identity: Identity;
  private readonly logger: Logger;
  private ticker?: TimerHandle;
  private progressTicker?: TimerHandle;
  private closed = false;
  /** Storage calls run one at a time (saveSnapshot beside them only where the storage allows it, below). */
  private storageQueue: Promise<unknown> = Promise.resolve();
  /** Snapshot saves, one at a time, beside the queue when the storage allows it (LogStorage.snapshotsBesideSaves). */
  private snapshotSaving: Promise<unknown> = Promise.resolve();

  constructor(options: NodeOptions, loaded: Awaited<ReturnType<LogStorage['load']>>) {
    this.options = options;
    this.id = options.id;
    this.logger = options.logger ?? silentLogger;
    const tickMs = options.tickMs ?? 100;
    const config: ReplicaConfig = {
      id: options.id,
      clusterId: options.clusterId,
      tickMs,
      electionTicks: Math.max(2, Math.round((options.electionTimeoutMs ?? 1000) / tickMs)),
      snapshotCount: options.snapshotCount ?? 10_000,
      snapshotStepRecords: options.snapshotStepRecords,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000 + 2 * (options.electionTimeoutMs ?? 1000),
      maxRequestBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      maxTxnOps: options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS,
      leaseCheckpointIntervalMs: options.leaseCheckpointIntervalMs ?? 5000,
      raft: options.raft,
      autoCompaction: options.autoCompaction,
      quotaBytes: options.quotaBytes,
      corruptCheckIntervalMs: options.corruptCheckIntervalMs,
    };
    const { storage, transport, clock } = options;
    const heartbeats = options.metrics && new HeartbeatMonitor(options.metrics, tickMs, this.logger);
    const replica = new Replica(
      config,
      loaded,
      options.members,
      {
        send: (messages) => {
          heartbeats?.sent(messages);
          transport.send(messages);
        },
        persist: (batch, done) => this.enqueueStorage(() => storage.save(batch), done),
        saveSnapshot: (snapshot, done) =>
          this.saveSnapshot(snapshot.metadata.index, () => storage.saveSnapshot(snapshot), done),
        ...(storage.saveSnapshotStream
          ? {
              saveSnapshotStream: (source: SnapshotSource, done: (error?: unknown) => void) =>
                this.saveSnapshot(source.metadata.index, () => storage.saveSnapshotStream!(source), done),
            }
          : {}),
        ...(storage.valueSpill && options.valueCacheBytes !== 0
          ? {
              values: () => ({
                spill: storage.valueSpill!(),
                residentBytes: options.valueCacheBytes,
                // A value that cannot be read back stops the member (etcd panics on a backend read error).
                onReadError: (error: unknown) => options.onFatal?.(error),
              }),
            }
          : {}),
        now: () => clock.now(),
        defer: (fn) => queueMicrotask(fn),
        later: (fn) => clock.setTimer(0, fn),
        ...(options.metrics ? { metrics: options.metrics } : {}),
        fatal: (error) => options.onFatal?.(error),
      },
      options.random,
      this.logger,
    );
    this.replica = replica;
    this.leases = new KeepAliveForwarder(
      {
        id: options.id,
        requestTimeoutMs: config.requestTimeoutMs,
        electionTimeoutMs: replica.electionTimeoutMs,
        now: () => clock.now(),
        leader: () => replica.leaderId,
        applied: () => replica.sm.appliedIndex,
        keepAlive: (lease, cb, forwarded) => replica.keepAlive(lease, cb, forwarded),
        timeToLive: (lease) => replica.sm.lessor.timeToLive(lease, clock.now()),
        send: (message) => transport.sendLease?.(message) ?? 'never',
      },
      Math.floor(options.random.next() * 2 ** 32),
    );
    this.state = stateView(replica);
    this.identity = new Identity({
      auth: () => replica.sm.auth,
      clock,
      ...(options.auth?.jwt ? { jwt: new JwtTokens(options.auth.jwt) } : {}),
      appliedIndex: () => replica.sm.appliedIndex,
      onChange: (listener) => replica.onChange(listener),
      requestTimeoutMs: config.requestTimeoutMs,
    });
    const ttl = options.auth?.tokenTtlSeconds;
    if (ttl !== undefined && ttl > 0) replica.sm.auth.simpleTokens.ttlMs = ttl * 1000;
    for (const m of replica.sm.members.list()) {
      if (m.ID !== this.id) for (const url of m.peerURLs.slice(0, 1)) transport.addPeer(m.ID, url);
    }
    void transport.start({
      onMessage: (m) => {
        heartbeats?.received(m);
        replica.step(m);
      },
      onLeaseMessage: (m) => this.leases.receive(m),
      // As etcd's ReportUnreachable: the peer goes back to probing, nothing more. (A made-up heartbeat response
      // here once marked an unreachable peer "recently active", so a cut-off leader never stepped down.)
      onUnreachable: (peer: NodeId) => replica.reportUnreachable(peer),
    });
    const tick = () => {
      if (this.closed) return;
      replica.tick();
      this.leases.tick();
      this.checkRemoved();
      this.syncPeers();
      this.ticker = clock.setTimer(tickMs, tick);
    };
    this.ticker = clock.setTimer(tickMs, tick);
    const progressMs = options.watchProgressNotifyIntervalMs ?? 10 * 60_000;
    if (progressMs > 0) {
      // etcd's watch progress ticker: one round per interval for watchers with progress_notify.
      const progress = () => {
        if (this.closed) return;
        replica.watchable.progressTick();
        this.progressTicker = clock.setTimer(progressMs, progress);
      };
      this.progressTicker = clock.setTimer(progressMs, progress);
    }
    this.publishOnce();
  }

  /** A local snapshot saved (`write`), then storage compacted behind it; beside saves where the storage allows it. */
  private saveSnapshot(index: number, write: () => Promise<void>, done: (error?: unknown) => void): void {
    const { storage } = this.options;
    const save = async () => {
      await write();
      await storage.compact(index);
    };
    if (!storage.snapshotsBesideSaves) return this.enqueueStorage(save, done);
    this.snapshotSaving = this.snapshotSaving.then(save).then(
      () => done(),
      (err) => done(err),
    );
  }

  private enqueueStorage(op: () => Promise<void>, done: (err?: unknown) => void): void {
    this.storageQueue = this.storageQueue.then(op).then(
      () => done(),
      (err) => done(err),
    );
  }

  private removedReported = false;
  /** etcd stops a member that applied its own removal; the host decides how (onRemoved). */
  private checkRemoved(): void {
    if (this.removedReported || !this.replica.sm.members.isRemoved(this.id)) return;
    this.removedReported = true;
    this.logger.warn('the member has been permanently removed from the cluster');
    this.options.onRemoved?.();
  }

  /** Keeps the transport's peer list equal to the membership (members come and go through Raft). */
  private knownPeers = new Map<bigint, string>();
  /** Removed members stay reachable for a few ticks: the commit index that tells them so may be in flight. */
  private leavingPeers = new Map<bigint, number>();
  private syncPeers(): void {
    const members = this.replica.sm.members.list();
    const ids = new Set(members.map((m) => m.ID));
    for (const m of members) {
      if (m.ID === this.id || m.peerURLs.length === 0 || this.knownPeers.get(m.ID) === m.peerURLs[0])
        continue;
      // New, or its peer URLs changed (MemberUpdate).
      this.options.transport.addPeer(m.ID, m.peerURLs[0]);
      this.knownPeers.set(m.ID, m.peerURLs[0]);
    }
    for (const id of this.knownPeers.keys()) {
      if (ids.has(id)) continue;
      const ticks = (this.leavingPeers.get(id) ?? 0) + 1;
      this.leavingPeers.set(id, ticks);
      if (ticks < 20) continue;
      this.options.transport.removePeer(id);
      this.knownPeers.delete(id);
      this.leavingPeers.delete(id);
    }
  }

  /** Like etcd, a started member publishes its name and client URLs through Raft. */
  private publishOnce(): void {
    const attempt = () => {
      if (this.closed) return;
      const me = this.replica.sm.members.get(this.id);
      const name = this.options.name ?? '';
      const clientURLs = this.options.clientURLs ?? [];
      if (me && me.name === name && sameList(me.clientURLs, clientURLs)) return;
      this.replica.submit({ type: 'publishMember', id: this.id, name, clientURLs }, (r) => {
        if (!r.ok) this.options.clock.setTimer(500, attempt);
      });
    };
    this.options.clock.setTimer(0, attempt);
  }

  // The services' context (./services/context.ts).

  get electionTimeoutMs(): number {
    return this.replica.electionTimeoutMs;
  }

  header(): ResponseHeader {
    return this.replica.header();
  }

  memberHeader(): ResponseHeader {
    return { ...this.header(), revision: 0 };
  }

  withHeader<T extends { header?: ResponseHeader }>(resp: T): T {
    const h = this.header();
    return { ...resp, header: { ...h, revision: resp.header?.revision ?? h.revision } };
  }

  propose<T>(op: Operation, opts?: RequestOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (opts?.isCanceled ? opts.isCanceled() : opts?.signal?.aborted)
        return reject(new EtcdError('Canceled', 'context canceled'));
      this.replica.submit(op, (r: ApplyResult) => (r.ok ? resolve(r.value as T) : reject(r.error)));
    });
  }

  proposeConfChange(
    type: 'addNode' | 'addLearner' | 'removeNode',
    nodeId: bigint,
    peerURLs: readonly string[],
  ): Promise<Member[]> {
    return new Promise((resolve, reject) => {
      const context = encodeMemberContext({ peerURLs });
      this.replica.submitConfChange({ type, nodeId, context }, (r) =>
        r.ok ? resolve((r.value as { members: Member[] }).members) : reject(r.error),
      );
    });
  }

  barrier(): Promise<void> {
    return new Promise((resolve, reject) => this.replica.read((err) => (err ? reject(err) : resolve())));
  }

  keepAlive(id: bigint, cb: (ttl: number | EtcdError) => void): void {
    this.leases.keepAlive(id, cb);
  }

  leaseTimeToLive(id: bigint, cb: TimeToLiveAnswer): void {
    this.leases.timeToLive(id, cb);
  }

  randomId(): bigint {
    return this.replica.randomId();
  }

  raftStatus(): Status {
    return this.replica.status();
  }

  leaderId(): bigint {
    return this.replica.leaderId;
  }

  transferLeadership(target: bigint): void {
    this.replica.transferLeadership(target);
  }

  forceSnapshot(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.replica.forceSnapshot((error) => (error ? reject(error) : resolve()));
    });
  }

  testingCorrupt(): void {
    this.replica.testingCorrupt();
  }

  newWatchStream(options: WatchStreamOptions): MvccWatchStream {
    return this.replica.watchable.newStream(options);
  }

  onChange(listener: () => void): () => void {
    return this.replica.onChange(listener);
  }

  /** The read-only inspection view (./inspect.ts). */
  inspection(): NodeInspection {
    const replica = this.replica;
    return {
      raftStatus: () => replica.status(),
      electionTimer: () => replica.raw.electionTimer(),
      log: () => replica.raw.logView(),
      range: (req) => replica.sm.mvcc.range(req),
      leases: (now) =>
        replica.sm.lessor.leases().map((l) => ({
          id: l.id,
          ttl: l.ttl,
          remaining: replica.sm.lessor.timeToLive(l.id, now)?.ttl ?? -1,
          keys: replica.sm.mvcc.keysForLease(l.id).length,
        })),
    };
  }

  serving(): ServingState {
    return { learner: this.replica.isLearner(), leader: this.replica.leaderId };
  }

  nodeStatus(): NodeStatus {
    const replica = this.replica;
    const s = replica.status();
    const sm = replica.sm;
    const isLearner = s.conf.learners.includes(this.id);
    return {
      id: this.id,
      name: this.options.name ?? '',
      role: isLearner ? 'learner' : s.role,
      leader: s.lead,
      term: s.term,
      commit: s.commit,
      applied: s.applied,
      lastIndex: s.lastIndex,
      revision: sm.mvcc.revision,
      compactRevision: sm.mvcc.compactRevision,
      members: sm.members.list(),
      dbSize: sm.dbSize(),
      alarms: sm.alarms.list(),
      proposalsPending: replica.proposalsPending,
      proposalsFailed: replica.proposalsFailed,
      keys: sm.mvcc.stats.keys,
      watchers: replica.watchable.syncedCount + replica.watchable.unsyncedCount,
      quotaBytes: replica.quotaBytes,
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker?.cancel();
    this.progressTicker?.cancel();
    this.replica.stop();
    this.leases.stop();
    await this.options.transport.close();
    await this.storageQueue.catch(() => {});
    await this.snapshotSaving.catch(() => {});
    await this.options.storage.close();
  }
}

/** The replicated state machine, read-only, as the services see it (resolved per call: a restore replaces parts). */
function stateView(replica: Replica): StateView {
  const sm = () => replica.sm;
  return {
    range: (req) => sm().mvcc.range(req),
    rangeChunk: (query) => sm().mvcc.rangeChunk(query),
    readTxn: (req) => sm().mvcc.txn(req).response,
    hashKV: (revision) => sm().mvcc.hashKV(revision),
    leaseKeys: (id) => sm().leaseKeys(id),
    keysForLease: (id) => sm().mvcc.keysForLease(id),
    leases: () => sm().lessor.leases(),
    member: (id) => sm().members.get(id),
    members: () => sm().members.list(),
    isRemoved: (id) => sm().members.isRemoved(id),
    alarms: (alarm) => sm().alarms.list(alarm),
    alarmErrors: () => sm().alarms.statusErrors(),
    dbSize: () => sm().dbSize(),
    backup: () => etcdStateOf(sm()),
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
