// createNode: the embeddable edgecd member. It wires a Replica (the sans-I/O member) to real storage,
// transport and clock, and offers etcd's API as promises and async iterables — the one object the gRPC
// server, the JSON gateway, the browser demo and the Durable Object all use.

import { EtcdError, errors } from '../api/errors.ts';
import type {
  AlarmMember,
  AlarmRequest,
  AlarmResponse,
  CompactionRequest,
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKVResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveRequest,
  LeaseTimeToLiveResponse,
  Member,
  MemberAddRequest,
  MemberAddResponse,
  MemberListResponse,
  MembersResponse,
  MemberUpdateRequest,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchResponse,
} from '../api/types.ts';
import type { Clock, Logger, Random, TimerHandle } from '../env.ts';
import { silentLogger } from '../env.ts';
import { MAX_LEASE_TTL } from '../lease/index.ts';
import type { NodeId } from '../raft/types.ts';
import type { LogStorage } from '../storage.ts';
import type { Transport } from '../transport.ts';
import { encodeMemberContext } from './members.ts';
import type { Operation } from './ops.ts';
import { type BootstrapMember, Replica, type ReplicaConfig } from './replica.ts';
import { encodeSnapshotFile } from './snapshot-file.ts';
import type { ApplyResult } from './state-machine.ts';

/** The etcd version edgecd answers with (clients gate features on it; ETCD-NOTES §6c). */
export const ETCD_VERSION = '3.4.23';

export interface NodeOptions {
  readonly id: bigint;
  readonly name?: string;
  /** The cluster's ID (etcd derives it from the initial cluster token and members). */
  readonly clusterId: bigint;
  /** The initial membership of a new cluster; omit to join an existing one (etcd: --initial-cluster-state existing). */
  readonly members?: readonly BootstrapMember[];
  readonly clientURLs?: readonly string[];
  readonly storage: LogStorage;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  readonly logger?: Logger;
  /** etcd --heartbeat-interval (ms). Default 100. */
  readonly tickMs?: number;
  /** etcd --election-timeout (ms). Default 1000. */
  readonly electionTimeoutMs?: number;
  /** etcd --snapshot-count. Default 10,000. */
  readonly snapshotCount?: number;
  readonly requestTimeoutMs?: number;
  /** etcd --max-request-bytes. Default 1.5 MiB. */
  readonly maxRequestBytes?: number;
  /** etcd --max-txn-ops. Default 128. */
  readonly maxTxnOps?: number;
  readonly leaseCheckpointIntervalMs?: number;
  readonly raft?: ReplicaConfig['raft'];
  /** etcd's --auto-compaction-mode / --auto-compaction-retention. */
  readonly autoCompaction?: ReplicaConfig['autoCompaction'];
  /** etcd --quota-backend-bytes: the dbSize past which writes raise NOSPACE. 0 or absent: 2 GiB. */
  readonly quotaBytes?: number;
  /** How often the leader runs the corruption check (ms); 0 or absent: never, as etcd by default. */
  readonly corruptCheckIntervalMs?: number;
  /** etcd --strict-reconfig-check (default true): refuse changes that leave fewer started voters than a quorum. */
  readonly strictReconfigCheck?: boolean;
  /** Called once when this member applies its own removal (etcd then stops: "permanently removed"). */
  readonly onRemoved?: () => void;
  /**
   * On a follower, MemberPromote asks the leader to check and propose it (etcd: POST /members/promote/<id> to the
   * leader's peer URL); without this hook a follower proposes the promotion itself, unchecked.
   */
  readonly promoteViaLeader?: (leader: bigint, id: bigint) => Promise<void>;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
}

/** A bidirectional watch stream, like etcd's Watch RPC: send requests, iterate responses. */
export interface WatchStream extends AsyncIterable<WatchResponse> {
  send(request: WatchRequest): void;
  close(): void;
}

/** A keep-alive stream, like etcd's LeaseKeepAlive RPC. */
export interface KeepAliveStream extends AsyncIterable<LeaseKeepAliveResponse> {
  send(request: { readonly ID: bigint }): void;
  close(): void;
}

export interface NodeStatus {
  readonly id: bigint;
  readonly name: string;
  readonly role: 'leader' | 'follower' | 'candidate' | 'preCandidate' | 'learner';
  readonly leader: bigint;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly revision: number;
  readonly compactRevision: number;
  readonly members: readonly Member[];
  /** Active alarms (replicated): any of them makes /health false, as in etcd 3.4. */
  readonly alarms: readonly AlarmMember[];
}

export interface EdgeNode {
  readonly id: bigint;
  readonly clusterId: bigint;
  range(req: RangeRequest, opts?: RequestOptions): Promise<RangeResponse>;
  put(req: PutRequest, opts?: RequestOptions): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, opts?: RequestOptions): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest, opts?: RequestOptions): Promise<TxnResponse>;
  compact(req: CompactionRequest, opts?: RequestOptions): Promise<CompactionResponse>;
  watch(): WatchStream;
  leaseGrant(req: LeaseGrantRequest, opts?: RequestOptions): Promise<LeaseGrantResponse>;
  leaseRevoke(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<LeaseRevokeResponse>;
  leaseKeepAliveOnce(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<LeaseKeepAliveResponse>;
  leaseKeepAlive(): KeepAliveStream;
  leaseTimeToLive(req: LeaseTimeToLiveRequest, opts?: RequestOptions): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(opts?: RequestOptions): Promise<LeaseLeasesResponse>;
  memberList(opts?: RequestOptions): Promise<MemberListResponse>;
  memberAdd(req: MemberAddRequest, opts?: RequestOptions): Promise<MemberAddResponse>;
  memberRemove(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<MembersResponse>;
  memberPromote(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<MembersResponse>;
  memberUpdate(req: MemberUpdateRequest, opts?: RequestOptions): Promise<MembersResponse>;
  status(): Promise<StatusResponse>;
  hashKV(req: { readonly revision?: number }, opts?: RequestOptions): Promise<HashKVResponse>;
  moveLeader(req: { readonly targetID: bigint }, opts?: RequestOptions): Promise<Record<string, never>>;
  /** Maintenance.Alarm: GET lists active alarms; ACTIVATE / DEACTIVATE go through Raft. */
  alarm(req: AlarmRequest, opts?: RequestOptions): Promise<AlarmResponse>;
  /**
   * Maintenance.Snapshot: a consistent point-in-time copy of the replicated state (keyspace, leases, members),
   * taken after a linearizable read barrier, as an edgecd snapshot file (./snapshot-file.ts: header, data,
   * padding, sha256 trailer — size % 512 == 32, as etcdctl checks). Not etcd's bbolt format.
   */
  snapshot(opts?: RequestOptions): Promise<{ readonly header: ResponseHeader; readonly file: Uint8Array }>;
  /** Test hook: corrupts this member's keyspace behind Raft's back (the corruption check should notice). */
  testingCorrupt(): void;
  /** What the demo and the cluster-state stream show. */
  nodeStatus(): NodeStatus;
  /** Called after every state change (debounced by the caller if needed); returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

export async function createNode(options: NodeOptions): Promise<EdgeNode> {
  const loaded = await options.storage.load();
  return new LocalNode(options, loaded);
}

class LocalNode implements EdgeNode {
  readonly id: bigint;
  readonly clusterId: bigint;
  private readonly replica: Replica;
  private readonly logger: Logger;
  private ticker?: TimerHandle;
  private closed = false;
  /** Storage calls run one at a time (save and saveSnapshot may not overlap). */
  private storageQueue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: NodeOptions,
    loaded: Awaited<ReturnType<LogStorage['load']>>,
  ) {
    this.id = options.id;
    this.clusterId = options.clusterId;
    this.logger = options.logger ?? silentLogger;
    const tickMs = options.tickMs ?? 100;
    const config: ReplicaConfig = {
      id: options.id,
      clusterId: options.clusterId,
      tickMs,
      electionTicks: Math.max(2, Math.round((options.electionTimeoutMs ?? 1000) / tickMs)),
      snapshotCount: options.snapshotCount ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 5000 + 2 * (options.electionTimeoutMs ?? 1000),
      maxRequestBytes: options.maxRequestBytes ?? 1.5 * 1024 * 1024,
      maxTxnOps: options.maxTxnOps ?? 128,
      leaseCheckpointIntervalMs: options.leaseCheckpointIntervalMs ?? 5000,
      raft: options.raft,
      autoCompaction: options.autoCompaction,
      quotaBytes: options.quotaBytes,
      corruptCheckIntervalMs: options.corruptCheckIntervalMs,
    };
    const { storage, transport, clock } = options;
    this.replica = new Replica(
      config,
      loaded,
      options.members,
      {
        send: (messages) => transport.send(messages),
        persist: (batch, done) => this.enqueueStorage(() => storage.save(batch), done),
        saveSnapshot: (snapshot, done) =>
          this.enqueueStorage(async () => {
            await storage.saveSnapshot(snapshot);
            await storage.compact(snapshot.metadata.index);
          }, done),
        now: () => clock.now(),
        defer: (fn) => queueMicrotask(fn),
      },
      options.random,
      this.logger,
    );
    for (const m of this.replica.sm.members.list()) {
      if (m.ID !== this.id) for (const url of m.peerURLs.slice(0, 1)) transport.addPeer(m.ID, url);
    }
    void transport.start({
      onMessage: (m) => this.replica.step(m),
      onUnreachable: (peer: NodeId) => {
        this.replica.raw.reportUnreachable(peer);
        this.replica.step({ type: 'MsgHeartbeatResp', from: peer, to: this.id, term: 0 });
      },
    });
    const tick = () => {
      if (this.closed) return;
      this.replica.tick();
      this.checkRemoved();
      this.syncPeers();
      this.ticker = clock.setTimer(tickMs, tick);
    };
    this.ticker = clock.setTimer(tickMs, tick);
    this.publishOnce();
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

  private header(): ResponseHeader {
    return this.replica.header();
  }

  private propose<T>(op: Operation, opts?: RequestOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (opts?.signal?.aborted) return reject(new EtcdError('Canceled', 'context canceled'));
      this.replica.submit(op, (r: ApplyResult) => (r.ok ? resolve(r.value as T) : reject(r.error)));
    });
  }

  private barrier(): Promise<void> {
    return new Promise((resolve, reject) => this.replica.read((err) => (err ? reject(err) : resolve())));
  }

  private withHeader<T extends { header?: ResponseHeader }>(resp: T): T {
    const h = this.header();
    return { ...resp, header: { ...h, revision: resp.header?.revision ?? h.revision } };
  }

  async range(req: RangeRequest): Promise<RangeResponse> {
    if (!req.serializable) await this.barrier();
    return this.withHeader(this.replica.sm.mvcc.range(req));
  }

  async put(req: PutRequest, opts?: RequestOptions): Promise<PutResponse> {
    return this.withHeader(await this.propose<PutResponse>({ type: 'put', request: req }, opts));
  }

  async deleteRange(req: DeleteRangeRequest, opts?: RequestOptions): Promise<DeleteRangeResponse> {
    return this.withHeader(
      await this.propose<DeleteRangeResponse>({ type: 'deleteRange', request: req }, opts),
    );
  }

  async txn(req: TxnRequest, opts?: RequestOptions): Promise<TxnResponse> {
    if (isReadOnlyTxn(req)) {
      // etcd serves read-only txns through the read path (linearizable unless every range is serializable).
      await this.barrier();
      return this.withHeader(this.replica.sm.mvcc.txn(req).response);
    }
    return this.withHeader(await this.propose<TxnResponse>({ type: 'txn', request: req }, opts));
  }

  async compact(req: CompactionRequest, opts?: RequestOptions): Promise<CompactionResponse> {
    return this.withHeader(await this.propose<CompactionResponse>({ type: 'compact', request: req }, opts));
  }

  watch(): WatchStream {
    const stream = this.replica.watchable.newStream({ onReadable: () => wake() });
    const queue: WatchResponse[] = [];
    let waiting: (() => void) | undefined;
    let closed = false;
    const wake = () => {
      const w = waiting;
      waiting = undefined;
      w?.();
    };
    const unsubscribe = this.replica.onChange(() => {
      if (stream.buffered.responses > 0) wake();
    });
    return {
      send: (request) => {
        stream.handle(request);
        wake();
      },
      close: () => {
        closed = true;
        stream.close();
        unsubscribe();
        wake();
      },
      [Symbol.asyncIterator]: async function* () {
        try {
          while (!closed) {
            for (const r of stream.take(64)) queue.push(r);
            while (queue.length > 0) yield queue.shift()!;
            if (closed) break;
            await new Promise<void>((resolve) => {
              waiting = resolve;
              if (stream.buffered.responses > 0) wake();
            });
          }
        } finally {
          closed = true;
          stream.close();
          unsubscribe();
        }
      },
    };
  }

  async leaseGrant(req: LeaseGrantRequest, opts?: RequestOptions): Promise<LeaseGrantResponse> {
    if (req.TTL > MAX_LEASE_TTL) throw errors.leaseTTLTooLarge();
    const ID = req.ID && req.ID !== 0n ? req.ID : this.replica.randomId();
    const r = await this.propose<{ ID: bigint; TTL: number }>(
      { type: 'leaseGrant', request: { ID, TTL: req.TTL } },
      opts,
    );
    return { header: this.header(), ID: r.ID, TTL: r.TTL };
  }

  async leaseRevoke(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<LeaseRevokeResponse> {
    await this.propose({ type: 'leaseRevoke', id: req.ID }, opts);
    return { header: this.header() };
  }

  leaseKeepAliveOnce(req: { readonly ID: bigint }): Promise<LeaseKeepAliveResponse> {
    return new Promise((resolve, reject) => {
      this.replica.keepAlive(req.ID, (ttl) => {
        if (ttl instanceof EtcdError) {
          // etcd answers an unknown lease on a keep-alive stream with TTL 0, not an error.
          if (ttl.message === errors.leaseNotFound().message)
            resolve({ header: this.header(), ID: req.ID, TTL: 0 });
          else reject(ttl);
        } else resolve({ header: this.header(), ID: req.ID, TTL: ttl });
      });
    });
  }

  leaseKeepAlive(): KeepAliveStream {
    const queue: LeaseKeepAliveResponse[] = [];
    let waiting: (() => void) | undefined;
    let closed = false;
    let failure: unknown;
    const wake = () => {
      const w = waiting;
      waiting = undefined;
      w?.();
    };
    return {
      send: (request) => {
        this.leaseKeepAliveOnce(request).then(
          (r) => {
            queue.push(r);
            wake();
          },
          (e) => {
            failure = e;
            wake();
          },
        );
      },
      close: () => {
        closed = true;
        wake();
      },
      [Symbol.asyncIterator]: async function* () {
        while (!closed) {
          while (queue.length > 0) yield queue.shift()!;
          if (failure) throw failure;
          if (closed) break;
          await new Promise<void>((resolve) => {
            waiting = resolve;
          });
        }
      },
    };
  }

  async leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    await this.barrier();
    const sm = this.replica.sm;
    const ttl = sm.lessor.timeToLive(req.ID, this.options.clock.now());
    if (!ttl) return { header: this.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
    return {
      header: this.header(),
      ID: req.ID,
      TTL: ttl.ttl,
      grantedTTL: ttl.grantedTtl,
      keys: req.keys ? sm.mvcc.keysForLease(req.ID) : [],
    };
  }

  async leaseLeases(): Promise<LeaseLeasesResponse> {
    await this.barrier();
    return { header: this.header(), leases: this.replica.sm.lessor.leases().map((l) => ({ ID: l.id })) };
  }

  async memberList(): Promise<MemberListResponse> {
    await this.barrier();
    return { header: this.memberHeader(), members: this.replica.sm.members.list() };
  }

  /** Member* responses carry no revision (etcd). */
  private memberHeader(): ResponseHeader {
    return { ...this.header(), revision: 0 };
  }

  private proposeConfChange(
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

  /** etcd's IsReadyToAddVotingMember / IsReadyToRemoveVotingMember: "started" = has published its name. */
  private enoughStartedAfter(change: { add: true } | { remove: bigint }): boolean {
    if (this.options.strictReconfigCheck === false) return true;
    let members = 'add' in change ? 1 : 0;
    let started = 0;
    for (const m of this.replica.sm.members.list()) {
      if (m.isLearner || ('remove' in change && m.ID === change.remove)) continue;
      members++;
      if (m.name !== '') started++;
    }
    if ('add' in change && started === 1 && members === 2) return true;
    return started >= Math.floor(members / 2) + 1;
  }

  async memberAdd(req: MemberAddRequest): Promise<MemberAddResponse> {
    const members = this.replica.sm.members;
    for (const m of members.list()) {
      if (m.peerURLs.some((u) => req.peerURLs.includes(u))) throw errors.peerURLExist();
    }
    if (!req.isLearner && !this.enoughStartedAfter({ add: true })) throw errors.memberNotEnoughStarted();
    let id = this.replica.randomId();
    while (members.get(id) || members.isRemoved(id)) id = this.replica.randomId();
    const list = await this.proposeConfChange(req.isLearner ? 'addLearner' : 'addNode', id, req.peerURLs);
    const member = list.find((m) => m.ID === id) ?? {
      ID: id,
      name: '',
      peerURLs: [...req.peerURLs],
      clientURLs: [],
      isLearner: !!req.isLearner,
    };
    return { header: this.memberHeader(), member, members: list };
  }

  async memberRemove(req: { readonly ID: bigint }): Promise<MembersResponse> {
    const target = this.replica.sm.members.get(req.ID);
    if (!target) throw errors.memberNotFound();
    if (!target.isLearner && !this.enoughStartedAfter({ remove: req.ID }))
      throw errors.memberNotEnoughStarted();
    const list = await this.proposeConfChange('removeNode', req.ID, []);
    return { header: this.memberHeader(), members: list };
  }

  async memberPromote(req: { readonly ID: bigint }): Promise<MembersResponse> {
    const m = this.replica.sm.members.get(req.ID);
    if (!m) throw errors.memberNotFound();
    if (!m.isLearner) throw errors.memberNotLearner();
    const status = this.replica.raw.status();
    if (status.role !== 'leader' && status.lead !== 0n && this.options.promoteViaLeader) {
      await this.options.promoteViaLeader(status.lead, req.ID);
      await this.barrier();
      return { header: this.memberHeader(), members: this.replica.sm.members.list() };
    }
    const pr = status.progress.get(req.ID);
    // etcd's isLearnerReady: the learner's match must be within 90% of the leader's.
    if (status.role === 'leader' && (!pr || pr.match < 0.9 * status.commit)) throw errors.learnerNotReady();
    const list = await this.proposeConfChange('addNode', req.ID, []);
    return { header: this.memberHeader(), members: list };
  }

  async memberUpdate(req: MemberUpdateRequest, opts?: RequestOptions): Promise<MembersResponse> {
    const members = this.replica.sm.members;
    if (!members.get(req.ID)) throw errors.memberNotFound();
    if (req.peerURLs.length === 0) throw errors.memberBadURLs();
    for (const m of members.list()) {
      if (m.ID !== req.ID && m.peerURLs.some((u) => req.peerURLs.includes(u))) throw errors.peerURLExist();
    }
    const r = await this.propose<{ members: Member[] }>(
      { type: 'updateMember', id: req.ID, peerURLs: [...req.peerURLs] },
      opts,
    );
    return { header: this.memberHeader(), members: r.members };
  }

  async status(): Promise<StatusResponse> {
    const s = this.replica.raw.status();
    const dbSize = this.replica.sm.dbSize();
    // etcd lists "no leader" and every active alarm (its proto text form) in Status.errors.
    const statusErrors = [
      ...(s.lead === 0n ? [errors.noLeader().message] : []),
      ...this.replica.sm.alarms.statusErrors(),
    ];
    return {
      header: this.header(),
      version: ETCD_VERSION,
      dbSize,
      leader: s.lead,
      raftIndex: s.lastIndex,
      raftTerm: s.term,
      raftAppliedIndex: s.applied,
      errors: statusErrors,
      dbSizeInUse: dbSize,
      isLearner: s.conf.learners.includes(this.id),
    };
  }

  async hashKV(req: { readonly revision?: number }): Promise<HashKVResponse> {
    return this.withHeader(this.replica.sm.mvcc.hashKV(req.revision ?? 0));
  }

  async moveLeader(req: { readonly targetID: bigint }): Promise<Record<string, never>> {
    const s = this.replica.raw.status();
    if (s.role !== 'leader') throw errors.notLeader();
    if (!s.conf.voters.includes(req.targetID) || req.targetID === this.id) throw errors.badLeaderTransferee();
    this.replica.raw.transferLeader(req.targetID);
    this.replica.step({ type: 'MsgHeartbeatResp', from: req.targetID, to: this.id, term: 0 });
    const deadline = this.options.clock.now() + this.replica.electionTimeoutMs * 2;
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        if (this.replica.leaderId === req.targetID) return resolve();
        if (this.options.clock.now() > deadline) return reject(errors.timeoutLeaderTransfer());
        this.options.clock.setTimer(this.options.tickMs ?? 100, check);
      };
      check();
    });
    return {};
  }

  async alarm(req: AlarmRequest, opts?: RequestOptions): Promise<AlarmResponse> {
    const alarm = req.alarm ?? 'NONE';
    if (req.action === 'GET') {
      await this.barrier();
      return { header: this.header(), alarms: this.replica.sm.alarms.list(alarm) };
    }
    const r = await this.propose<{ alarms: AlarmResponse['alarms'] }>(
      { type: 'alarm', action: req.action, memberID: req.memberID ?? 0n, alarm },
      opts,
    );
    return { header: this.header(), alarms: r.alarms };
  }

  async snapshot(): Promise<{ header: ResponseHeader; file: Uint8Array }> {
    await this.barrier();
    // Serialized synchronously after the barrier: nothing is applied in between, so the copy is one point in time.
    const sm = this.replica.sm;
    const header = this.header();
    const data = sm.snapshot();
    const file = await encodeSnapshotFile({
      clusterId: this.clusterId,
      memberId: this.id,
      revision: sm.mvcc.revision,
      appliedIndex: sm.appliedIndex,
      data,
    });
    return { header, file };
  }

  testingCorrupt(): void {
    this.replica.testingCorrupt();
  }

  nodeStatus(): NodeStatus {
    const s = this.replica.raw.status();
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
      revision: this.replica.sm.mvcc.revision,
      compactRevision: this.replica.sm.mvcc.compactRevision,
      members: this.replica.sm.members.list(),
      alarms: this.replica.sm.alarms.list(),
    };
  }

  onChange(listener: () => void): () => void {
    return this.replica.onChange(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker?.cancel();
    this.replica.stop();
    await this.options.transport.close();
    await this.storageQueue.catch(() => {});
    await this.options.storage.close();
  }
}

function isReadOnlyTxn(req: TxnRequest): boolean {
  const ops = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every(
    (op) => op.requestRange !== undefined || (op.requestTxn !== undefined && isReadOnlyTxn(op.requestTxn)),
  );
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
