// createNode: the embeddable edgecd member. It wires a Replica (the sans-I/O member) to real storage,
// transport and clock, and offers etcd's API as promises and async iterables — the one object the gRPC
// server, the JSON gateway, the browser demo and the Durable Object all use.

import { EtcdError, errors } from '../api/errors.ts';
import type {
  AlarmMember,
  AlarmRequest,
  AlarmResponse,
  AuthenticateRequest,
  AuthenticateResponse,
  AuthResponse,
  AuthRoleGetResponse,
  AuthRoleListResponse,
  AuthStatusResponse,
  AuthUserAddRequest,
  AuthUserGetResponse,
  AuthUserListResponse,
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
  Permission,
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
import { ANONYMOUS, type AuthInfo, type AuthStore } from '../auth/auth-store.ts';
import { DummyHash, hashPassword, validBcryptCost, verifyPassword } from '../auth/password.ts';
import { type JwtOptions, JwtTokens, simpleTokenIndex, simpleTokenPrefix } from '../auth/tokens.ts';
import type { Clock, Logger, Random, TimerHandle } from '../env.ts';
import { silentLogger } from '../env.ts';
import { MAX_LEASE_TTL } from '../lease/index.ts';
import type { NodeId } from '../raft/types.ts';
import type { LogStorage } from '../storage.ts';
import type { Transport } from '../transport.ts';
import { etcdStateOf } from './etcd-snapshot.ts';
import { encodeMemberContext } from './members.ts';
import { HeartbeatMonitor, type MemberMetrics } from './metrics.ts';
import type { OpAuth, Operation } from './ops.ts';
import { type BootstrapMember, Replica, type ReplicaConfig } from './replica.ts';
import { encodeEtcdSnapshotFile } from './snapshot-file.ts';
import type { ApplyResult } from './state-machine.ts';

/** The etcd version edgecd answers with (clients gate features on it; ETCD-NOTES §6c). */
export const ETCD_VERSION = '3.4.23';

/** The peer URL scheme of a member that cannot listen (a browser tab): it dials the others. */
export const BROWSER_PEER_PREFIX = 'browser:';

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
  /**
   * etcd --experimental-watch-progress-notify-interval: how often idle watchers that asked for progress_notify get
   * an empty response at the current revision. Default 10 minutes; 0 disables.
   */
  readonly watchProgressNotifyIntervalMs?: number;
  /** etcd --strict-reconfig-check (default true): refuse changes that leave fewer started voters than a quorum. */
  readonly strictReconfigCheck?: boolean;
  /** Authentication (etcd's --auth-token, --auth-token-ttl, --bcrypt-cost); see AuthNodeOptions. */
  readonly auth?: AuthNodeOptions;
  /** Called once when this member applies its own removal (etcd then stops: "permanently removed"). */
  readonly onRemoved?: () => void;
  /**
   * Called once when storage fails (a write or fsync): the member has stopped serving and will not continue, as
   * etcd panics on a failed WAL fsync. The host should end the process (the Node CLI exits non-zero); after the
   * disk is fixed, a restart recovers every acknowledged write from the WAL and the other members.
   */
  readonly onFatal?: (error: unknown) => void;
  /**
   * On a follower, MemberPromote asks the leader to check and propose it (etcd: POST /members/promote/<id> to the
   * leader's peer URL); without this hook a follower proposes the promotion itself, unchecked.
   */
  readonly promoteViaLeader?: (leader: bigint, id: bigint) => Promise<void>;
  /**
   * Whether MemberAdd accepts browser tabs: a learner whose peer URL is `browser:<anything>` (it cannot listen; it
   * links to the members over WebSocket). Off by default: a learner holds the whole keyspace, whatever RBAC says.
   */
  readonly browserLearners?: boolean;
  /** Reports for etcd's metrics only the host loop sees (./metrics.ts); none by default. */
  readonly metrics?: MemberMetrics;
  /**
   * What the member's data takes on disk (bytes), for Status.dbSize and etcd_mvcc_db_total_size_in_bytes; absent:
   * the live size (dbSizeInUse) is reported for both.
   */
  readonly diskSize?: () => Promise<number>;
}

/**
 * Authentication options, from etcd's flags:
 * - `bcryptCost`: --bcrypt-cost (default 10; outside 4..31 → 10). The proposing member hashes passwords.
 * - `tokenTtlSeconds`: --auth-token-ttl (default 300): simple tokens expire after this long unused.
 * - `jwt`: --auth-token jwt,pub-key=…,priv-key=…,sign-method=…,ttl=…: JWT tokens instead of simple ones, keys as
 *   PEM text (PKCS#8 / SPKI, or PKCS#1 RSA / SEC1 EC); `signMethod` RS256/384/512, PS256/384/512, ES256/384/512
 *   (HS* with the private key text as secret); `ttlSeconds` default 300 (etcd's 5m). Without `privateKeyPem` the
 *   member verifies tokens but cannot issue them. Absent: simple tokens (`<16 letters>.<raft index>`).
 */
export interface AuthNodeOptions {
  readonly bcryptCost?: number;
  readonly tokenTtlSeconds?: number;
  readonly jwt?: JwtOptions;
}

export interface RequestOptions {
  readonly signal?: AbortSignal;
  /**
   * The caller's auth token (gRPC metadata `token`, or `authorization`; the gateway's `Authorization` header).
   * Ignored while auth is disabled; with auth on, a request without token or commonName fails with
   * `etcdserver: user name is empty`, as etcd.
   */
  readonly token?: string;
  /** The verified client certificate's CN (mTLS): etcd's user name when the request has no token. */
  readonly commonName?: string;
}

/** A bidirectional watch stream, like etcd's Watch RPC: send requests, iterate responses. */
export interface WatchStream extends AsyncIterable<WatchResponse> {
  send(request: WatchRequest): void;
  close(): void;
}

/** A keep-alive stream, like etcd's LeaseKeepAlive RPC. */
export interface KeepAliveStream extends AsyncIterable<LeaseKeepAliveResponse> {
  send(request: { readonly ID: bigint }): void;
  /**
   * The client sent its last request (half-close): the iteration ends once the answers to every request sent so
   * far are out, as etcd's handler returns on io.EOF after its last Send.
   */
  end(): void;
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
  /** Status' dbSize, for the host (Status itself needs a user once auth is on). */
  readonly dbSize: number;
  /** Active alarms (replicated): any of them makes /health false, as in etcd 3.4. */
  readonly alarms: readonly AlarmMember[];
  /** Proposals made through this member and not yet applied (etcd_server_proposals_pending). */
  readonly proposalsPending: number;
  /** Proposals that failed: refused, timed out, or cut short (etcd_server_proposals_failed_total). */
  readonly proposalsFailed: number;
  /** Keys the index holds, live or deleted with uncompacted history (etcd_debugging_mvcc_keys_total). */
  readonly keys: number;
  /** Watchers on this member (etcd_debugging_mvcc_watcher_total). */
  readonly watchers: number;
  /** --quota-backend-bytes in effect (etcd_server_quota_backend_bytes). */
  readonly quotaBytes: number;
}

export interface EdgeNode {
  readonly id: bigint;
  readonly clusterId: bigint;
  range(req: RangeRequest, opts?: RequestOptions): Promise<RangeResponse>;
  put(req: PutRequest, opts?: RequestOptions): Promise<PutResponse>;
  deleteRange(req: DeleteRangeRequest, opts?: RequestOptions): Promise<DeleteRangeResponse>;
  txn(req: TxnRequest, opts?: RequestOptions): Promise<TxnResponse>;
  compact(req: CompactionRequest, opts?: RequestOptions): Promise<CompactionResponse>;
  /** Each create request is checked for READ on its range at creation (etcd's isWatchPermitted). */
  watch(opts?: RequestOptions): WatchStream;
  leaseGrant(req: LeaseGrantRequest, opts?: RequestOptions): Promise<LeaseGrantResponse>;
  leaseRevoke(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<LeaseRevokeResponse>;
  leaseKeepAliveOnce(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<LeaseKeepAliveResponse>;
  leaseKeepAlive(opts?: RequestOptions): KeepAliveStream;
  leaseTimeToLive(req: LeaseTimeToLiveRequest, opts?: RequestOptions): Promise<LeaseTimeToLiveResponse>;
  leaseLeases(opts?: RequestOptions): Promise<LeaseLeasesResponse>;
  memberList(opts?: RequestOptions): Promise<MemberListResponse>;
  memberAdd(req: MemberAddRequest, opts?: RequestOptions): Promise<MemberAddResponse>;
  memberRemove(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<MembersResponse>;
  memberPromote(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<MembersResponse>;
  memberUpdate(req: MemberUpdateRequest, opts?: RequestOptions): Promise<MembersResponse>;
  status(opts?: RequestOptions): Promise<StatusResponse>;
  hashKV(req: { readonly revision?: number }, opts?: RequestOptions): Promise<HashKVResponse>;
  moveLeader(req: { readonly targetID: bigint }, opts?: RequestOptions): Promise<Record<string, never>>;
  /** Maintenance.Alarm: GET lists active alarms; ACTIVATE / DEACTIVATE go through Raft. */
  alarm(req: AlarmRequest, opts?: RequestOptions): Promise<AlarmResponse>;
  /**
   * Maintenance.Snapshot: a consistent point-in-time copy of the replicated state (keyspace with history, leases,
   * members, alarms, auth), taken after a linearizable read barrier, as etcd 3.4's snapshot file: its backend as a
   * bbolt database plus a sha256 trailer (./etcd-snapshot.ts, ./snapshot-file.ts), which etcdctl snapshot
   * status/restore and a real etcd accept. Root only when auth is on.
   */
  snapshot(opts?: RequestOptions): Promise<{ readonly header: ResponseHeader; readonly file: Uint8Array }>;
  /**
   * Maintenance.Defragment for edgecd's storage: a snapshot of the state machine at the applied index, after which
   * the storage drops the log before it (the file WAL deletes its older segments and snapshot files), so the data
   * dir holds the live state and what came after it. The caller checks admin rights (authorizeAdmin).
   */
  defragment(): Promise<void>;
  /**
   * Refuses (EtcdError) unless the caller may run admin operations: always while auth is off, else only users
   * with the root role. For operations served outside the node (e.g. Defragment).
   */
  authorizeAdmin(opts?: RequestOptions): Promise<void>;
  // Auth (etcdserverpb.Auth). Mutations go through Raft; all but authenticate need the root role once auth is on.
  authEnable(opts?: RequestOptions): Promise<AuthResponse>;
  authDisable(opts?: RequestOptions): Promise<AuthResponse>;
  authStatus(opts?: RequestOptions): Promise<AuthStatusResponse>;
  authenticate(req: AuthenticateRequest, opts?: RequestOptions): Promise<AuthenticateResponse>;
  userAdd(req: AuthUserAddRequest, opts?: RequestOptions): Promise<AuthResponse>;
  userGet(req: { readonly name: string }, opts?: RequestOptions): Promise<AuthUserGetResponse>;
  userList(opts?: RequestOptions): Promise<AuthUserListResponse>;
  userDelete(req: { readonly name: string }, opts?: RequestOptions): Promise<AuthResponse>;
  userChangePassword(
    req: { readonly name: string; readonly password: string },
    opts?: RequestOptions,
  ): Promise<AuthResponse>;
  userGrantRole(
    req: { readonly user: string; readonly role: string },
    opts?: RequestOptions,
  ): Promise<AuthResponse>;
  userRevokeRole(
    req: { readonly name: string; readonly role: string },
    opts?: RequestOptions,
  ): Promise<AuthResponse>;
  roleAdd(req: { readonly name: string }, opts?: RequestOptions): Promise<AuthResponse>;
  roleGet(req: { readonly role: string }, opts?: RequestOptions): Promise<AuthRoleGetResponse>;
  roleList(opts?: RequestOptions): Promise<AuthRoleListResponse>;
  roleDelete(req: { readonly role: string }, opts?: RequestOptions): Promise<AuthResponse>;
  roleGrantPermission(
    req: { readonly name: string; readonly perm: Permission },
    opts?: RequestOptions,
  ): Promise<AuthResponse>;
  roleRevokePermission(
    req: { readonly role: string; readonly key: Uint8Array; readonly rangeEnd?: Uint8Array },
    opts?: RequestOptions,
  ): Promise<AuthResponse>;
  /**
   * etcd 3.4's /health check: no active alarm, a known leader, and a quorum read (here a ReadIndex barrier) that
   * completes within `timeoutMs` (etcd: 1 s). Needs no credentials.
   */
  health(timeoutMs?: number): Promise<boolean>;
  /** Test hook: corrupts this member's keyspace behind Raft's back (the corruption check should notice). */
  testingCorrupt(): void;
  /**
   * HashKV without an auth check: for the peer port's /members/hashkv (etcd's peerHashKVHTTPHandler) and the
   * host's initial corruption check. Throws etcd's compacted / future-revision errors.
   */
  peerHashKV(revision: number): HashKVResponse;
  /** What the member's data takes on disk (NodeOptions.diskSize), or the live size without that hook. */
  diskSize(): Promise<number>;
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
  private progressTicker?: TimerHandle;
  private closed = false;
  /** Storage calls run one at a time (save and saveSnapshot may not overlap). */
  private storageQueue: Promise<unknown> = Promise.resolve();
  private readonly bcryptCost: number;
  private readonly jwt?: JwtTokens;
  private readonly dummyHash: DummyHash;

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
    const heartbeats = options.metrics && new HeartbeatMonitor(options.metrics, tickMs, this.logger);
    this.replica = new Replica(
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
          this.enqueueStorage(async () => {
            await storage.saveSnapshot(snapshot);
            await storage.compact(snapshot.metadata.index);
          }, done),
        now: () => clock.now(),
        defer: (fn) => queueMicrotask(fn),
        ...(options.metrics ? { metrics: options.metrics } : {}),
        fatal: (error) => options.onFatal?.(error),
      },
      options.random,
      this.logger,
    );
    this.bcryptCost = validBcryptCost(options.auth?.bcryptCost);
    this.dummyHash = new DummyHash(this.bcryptCost);
    const ttl = options.auth?.tokenTtlSeconds;
    if (ttl !== undefined && ttl > 0) this.replica.sm.auth.simpleTokens.ttlMs = ttl * 1000;
    if (options.auth?.jwt) this.jwt = new JwtTokens(options.auth.jwt);
    for (const m of this.replica.sm.members.list()) {
      if (m.ID !== this.id) for (const url of m.peerURLs.slice(0, 1)) transport.addPeer(m.ID, url);
    }
    void transport.start({
      onMessage: (m) => {
        heartbeats?.received(m);
        this.replica.step(m);
      },
      // As etcd's ReportUnreachable: the peer goes back to probing, nothing more. (A made-up heartbeat response
      // here once marked an unreachable peer "recently active", so a cut-off leader never stepped down.)
      onUnreachable: (peer: NodeId) => this.replica.raw.reportUnreachable(peer),
    });
    const tick = () => {
      if (this.closed) return;
      this.replica.tick();
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
        this.replica.watchable.progressTick();
        this.progressTicker = clock.setTimer(progressMs, progress);
      };
      this.progressTicker = clock.setTimer(progressMs, progress);
    }
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

  // Auth: who the caller is, and what it may do (etcd's AuthInfoFromCtx, isOpPermitted, IsAdminPermitted).

  private get auth(): AuthStore {
    return this.replica.sm.auth;
  }

  /**
   * The caller's identity (etcd's AuthInfoFromCtx, then AuthInfoFromTLS): a token (simple or JWT), else the client
   * certificate's CN, else none (user '', which every check refuses with "user name is empty").
   */
  private async identify(opts: RequestOptions | undefined): Promise<AuthInfo> {
    const auth = this.auth;
    const token = opts?.token;
    if (token) {
      const now = this.options.clock.now();
      if (this.jwt) {
        const claims = await this.jwt.verify(token, now);
        if (!claims) throw errors.invalidAuthToken();
        return { user: claims.username, revision: claims.revision };
      }
      // etcd's isValidSimpleToken: a token naming an index this member has not applied yet waits for it.
      const index = simpleTokenIndex(token);
      if (index === undefined) throw errors.invalidAuthToken();
      if (index > this.replica.sm.appliedIndex && !(await this.waitApplied(index, opts?.signal)))
        throw errors.invalidAuthToken();
      const user = auth.simpleTokens.user(token, this.options.clock.now());
      if (user === undefined) throw errors.invalidAuthToken();
      return { user, revision: auth.revision };
    }
    if (opts?.commonName) return { user: opts.commonName, revision: auth.revision };
    return ANONYMOUS;
  }

  /** Resolves true once this member has applied `index`; false after the request timeout or on abort. */
  private waitApplied(index: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        unsubscribe();
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => finish(false);
      const unsubscribe = this.replica.onChange(() => {
        if (this.replica.sm.appliedIndex >= index) finish(true);
      });
      const timer = this.options.clock.setTimer(this.replica.config.requestTimeoutMs, () => finish(false));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.replica.sm.appliedIndex >= index) finish(true);
    });
  }

  /** Serve-time root-role check (etcd's IsAdminPermitted). */
  private async requireAdmin(opts: RequestOptions | undefined): Promise<AuthInfo> {
    const auth = this.auth;
    if (!auth.enabled) return ANONYMOUS;
    const info = await this.identify(opts);
    auth.checkAdmin(info);
    return info;
  }

  /**
   * etcd's requireAuthInfo (GHSA-q8m4-xhhv-38mg): with auth on, the caller must be someone — a valid token or a
   * client certificate CN — whatever its permissions; else `user name is empty`. Returns who it is.
   */
  private async requireUser(opts: RequestOptions | undefined): Promise<AuthInfo> {
    if (!this.auth.enabled) return ANONYMOUS;
    const info = await this.identify(opts);
    if (info.user === '') throw errors.userEmpty();
    return info;
  }

  /** doSerialize's auth: READ permission on what a read serves, checked after the read barrier. */
  private async checkRead(opts: RequestOptions | undefined, check: (info: AuthInfo) => void): Promise<void> {
    const auth = this.auth;
    if (!auth.enabled) return;
    check(await this.identify(opts));
  }

  async authorizeAdmin(opts?: RequestOptions): Promise<void> {
    await this.requireAdmin(opts);
  }

  async range(req: RangeRequest, opts?: RequestOptions): Promise<RangeResponse> {
    if (!req.serializable) await this.barrier();
    if (this.auth.enabled)
      await this.checkRead(opts, (i) => this.auth.checkOp(i, 'READ', req.key, req.rangeEnd));
    return this.withHeader(this.replica.sm.mvcc.range(req));
  }

  async put(req: PutRequest, opts?: RequestOptions): Promise<PutResponse> {
    const auth = this.auth.enabled ? await this.identify(opts) : ANONYMOUS;
    return this.withHeader(await this.propose<PutResponse>({ type: 'put', request: req, auth }, opts));
  }

  async deleteRange(req: DeleteRangeRequest, opts?: RequestOptions): Promise<DeleteRangeResponse> {
    const auth = this.auth.enabled ? await this.identify(opts) : ANONYMOUS;
    return this.withHeader(
      await this.propose<DeleteRangeResponse>({ type: 'deleteRange', request: req, auth }, opts),
    );
  }

  async txn(req: TxnRequest, opts?: RequestOptions): Promise<TxnResponse> {
    if (isReadOnlyTxn(req)) {
      // etcd serves read-only txns through the read path (linearizable unless every range is serializable).
      await this.barrier();
      const leaseKeys = this.replica.sm.leaseKeys;
      if (this.auth.enabled) await this.checkRead(opts, (i) => this.auth.checkTxn(i, req, leaseKeys));
      return this.withHeader(this.replica.sm.mvcc.txn(req).response);
    }
    const auth = this.auth.enabled ? await this.identify(opts) : ANONYMOUS;
    return this.withHeader(await this.propose<TxnResponse>({ type: 'txn', request: req, auth }, opts));
  }

  defragment(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.replica.forceSnapshot((error) => (error ? reject(error) : resolve()));
    });
  }

  async compact(req: CompactionRequest, opts?: RequestOptions): Promise<CompactionResponse> {
    // Root only, as etcd since 3.4.42 (GHSA-q8m4-xhhv-38mg; 3.4.23 let any caller compact everyone's history).
    const auth = await this.requireAdmin(opts);
    return this.withHeader(
      await this.propose<CompactionResponse>({ type: 'compact', request: req, auth }, opts),
    );
  }

  watch(opts?: RequestOptions): WatchStream {
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
    // With auth on, create requests are checked (READ on the range) in order before they reach the stream.
    let pending: Promise<void> | undefined;
    const handle = (request: WatchRequest) => {
      if (closed) return;
      stream.handle(request);
      wake();
    };
    const refuse = (reason: string) => {
      queue.push({
        header: this.header(),
        watchId: -1,
        created: true,
        canceled: true,
        cancelReason: reason,
        events: [],
      });
      wake();
    };
    const checkCreate = async (request: WatchRequest) => {
      if (!('createRequest' in request) || !this.auth.enabled) return handle(request);
      const c = request.createRequest;
      try {
        const info = await this.identify(opts);
        // etcd: an empty key watches from "\0".
        this.auth.checkOp(info, 'READ', c.key.length === 0 ? Uint8Array.of(0) : c.key, c.rangeEnd);
        handle(request);
      } catch (e) {
        // etcd's recvLoop: created + canceled, watch ID -1; the reason is the gRPC status error's text.
        const err = e instanceof EtcdError ? e : errors.permissionDenied();
        refuse(`rpc error: code = ${err.codeName} desc = ${err.message}`);
      }
    };
    return {
      send: (request) => {
        if (!pending && !this.auth.enabled) return handle(request);
        const p: Promise<void> = (pending ?? Promise.resolve()).then(() => checkCreate(request));
        pending = p;
        void p.then(() => {
          if (pending === p) pending = undefined;
        });
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
    await this.requireUser(opts); // any identified caller; no key permission applies
    if (req.TTL > MAX_LEASE_TTL) throw errors.leaseTTLTooLarge();
    const ID = req.ID && req.ID !== 0n ? req.ID : this.replica.randomId();
    const r = await this.propose<{ ID: bigint; TTL: number }>(
      { type: 'leaseGrant', request: { ID, TTL: req.TTL } },
      opts,
    );
    return { header: this.header(), ID: r.ID, TTL: r.TTL };
  }

  async leaseRevoke(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<LeaseRevokeResponse> {
    // An identified caller, then WRITE on every key attached to the lease when the revoke applies (checkLeasePuts).
    const auth = await this.requireUser(opts);
    await this.propose({ type: 'leaseRevoke', id: req.ID, auth }, opts);
    return { header: this.header() };
  }

  /** etcd's checkLeaseRenew (GHSA-q8m4-xhhv-38mg): an identified caller with WRITE on the lease's keys (root: any). */
  async leaseKeepAliveOnce(
    req: { readonly ID: bigint },
    opts?: RequestOptions,
  ): Promise<LeaseKeepAliveResponse> {
    const info = await this.requireUser(opts);
    if (this.auth.enabled) this.auth.checkKeys(info, 'WRITE', this.replica.sm.leaseKeys(req.ID));
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

  leaseKeepAlive(opts?: RequestOptions): KeepAliveStream {
    const queue: LeaseKeepAliveResponse[] = [];
    let waiting: (() => void) | undefined;
    let closed = false;
    let ending = false;
    let inFlight = 0;
    let failure: unknown;
    const wake = () => {
      const w = waiting;
      waiting = undefined;
      w?.();
    };
    return {
      send: (request) => {
        if (ending) return;
        inFlight++;
        this.leaseKeepAliveOnce(request, opts).then(
          (r) => {
            inFlight--;
            queue.push(r);
            wake();
          },
          (e) => {
            inFlight--;
            failure = e;
            wake();
          },
        );
      },
      end: () => {
        ending = true;
        wake();
      },
      close: () => {
        closed = true;
        wake();
      },
      [Symbol.asyncIterator]: async function* () {
        while (!closed) {
          while (queue.length > 0) yield queue.shift()!;
          if (failure) throw failure;
          if (closed || (ending && inFlight === 0 && queue.length === 0)) break;
          await new Promise<void>((resolve) => {
            waiting = resolve;
          });
        }
      },
    };
  }

  async leaseTimeToLive(
    req: LeaseTimeToLiveRequest,
    opts?: RequestOptions,
  ): Promise<LeaseTimeToLiveResponse> {
    const info = await this.requireUser(opts);
    await this.barrier();
    const sm = this.replica.sm;
    // etcd's checkLeaseTimeToLive (CVE-2023-32082): listing the keys needs READ on each of them (root: any).
    if (req.keys && this.auth.enabled) this.auth.checkKeys(info, 'READ', sm.leaseKeys(req.ID));
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

  async leaseLeases(opts?: RequestOptions): Promise<LeaseLeasesResponse> {
    const info = await this.requireUser(opts);
    await this.barrier();
    const sm = this.replica.sm;
    const leases = sm.lessor.leases();
    // etcd's checkLeaseLeases: READ on every key of every lease, else the whole list is refused (root: any).
    const keys = this.auth.isAdmin(info) ? [] : leases.flatMap((l) => sm.leaseKeys(l.id));
    this.auth.checkKeys(info, 'READ', keys);
    return { header: this.header(), leases: leases.map((l) => ({ ID: l.id })) };
  }

  /** Any identified caller (etcd 3.4.43: "allow non-admin to fetch member list and alarms"). */
  async memberList(opts?: RequestOptions): Promise<MemberListResponse> {
    await this.requireUser(opts);
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

  async memberAdd(req: MemberAddRequest, opts?: RequestOptions): Promise<MemberAddResponse> {
    // etcd's checkMembershipOperationPermission: the root role, checked before proposing.
    await this.requireAdmin(opts);
    if (req.peerURLs.some((u) => u.startsWith(BROWSER_PEER_PREFIX))) {
      if (!this.options.browserLearners) throw errors.browserMembersOff();
      if (!req.isLearner) throw errors.browserMemberNotLearner();
    }
    const check = () => {
      for (const m of this.replica.sm.members.list()) {
        if (m.peerURLs.some((u) => req.peerURLs.includes(u))) throw errors.peerURLExist();
      }
      if (!req.isLearner && !this.enoughStartedAfter({ add: true })) throw errors.memberNotEnoughStarted();
    };
    // The checks read this member's copy of the member list: when they pass, check again once caught up with
    // everything committed (a change another member acknowledged a moment ago counts; etcd validates at apply).
    check();
    await this.barrier();
    check();
    const members = this.replica.sm.members;
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

  async memberRemove(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<MembersResponse> {
    await this.requireAdmin(opts);
    const check = () => {
      const target = this.replica.sm.members.get(req.ID);
      if (!target) throw errors.memberNotFound();
      if (!target.isLearner && !this.enoughStartedAfter({ remove: req.ID }))
        throw errors.memberNotEnoughStarted();
    };
    check();
    await this.barrier(); // see memberAdd
    check();
    const list = await this.proposeConfChange('removeNode', req.ID, []);
    return { header: this.memberHeader(), members: list };
  }

  async memberPromote(req: { readonly ID: bigint }, opts?: RequestOptions): Promise<MembersResponse> {
    await this.requireAdmin(opts);
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
    await this.requireAdmin(opts);
    const check = () => {
      const members = this.replica.sm.members;
      if (!members.get(req.ID)) throw errors.memberNotFound();
      if (req.peerURLs.length === 0) throw errors.memberBadURLs();
      for (const m of members.list()) {
        if (m.ID !== req.ID && m.peerURLs.some((u) => req.peerURLs.includes(u))) throw errors.peerURLExist();
      }
    };
    check();
    await this.barrier(); // see memberAdd (and the state machine checks again when applying)
    check();
    const r = await this.propose<{ members: Member[] }>(
      { type: 'updateMember', id: req.ID, peerURLs: [...req.peerURLs] },
      opts,
    );
    return { header: this.memberHeader(), members: r.members };
  }

  /** Root only with auth on, as the release-3.4 line since 3.4.42 (3.5.32+ and 3.6 open it to any identified user). */
  async status(opts?: RequestOptions): Promise<StatusResponse> {
    // Any identified caller, as etcd 3.5.32+/3.6 ("allow non-admin maintenance status"): release-3.4 keeps it
    // root only, which breaks `etcdctl endpoint status` for ordinary users; edgecd takes the later rule.
    await this.requireUser(opts);
    const s = this.replica.raw.status();
    const dbSizeInUse = this.replica.sm.dbSize();
    const dbSize = await this.diskSize();
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
      dbSizeInUse,
      isLearner: s.conf.learners.includes(this.id),
    };
  }

  async hashKV(req: { readonly revision?: number }, opts?: RequestOptions): Promise<HashKVResponse> {
    await this.requireAdmin(opts);
    return this.withHeader(this.replica.sm.mvcc.hashKV(req.revision ?? 0));
  }

  /** Unchecked: the host uses it on shutdown; the gRPC and gateway front-ends check `authorizeAdmin` first. */
  async moveLeader(req: { readonly targetID: bigint }): Promise<Record<string, never>> {
    const s = this.replica.raw.status();
    if (s.role !== 'leader') throw errors.notLeader();
    if (!s.conf.voters.includes(req.targetID)) throw errors.badLeaderTransferee();
    // etcd: raft ignores a transfer to the leader itself and the wait for `Lead() == transferee` ends at once.
    if (req.targetID === this.id) return {};
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
      await this.requireUser(opts); // any identified caller (etcd 3.4.43)
      await this.barrier();
      return { header: this.header(), alarms: this.replica.sm.alarms.list(alarm) };
    }
    // Raising or disarming an alarm is root only (etcd since 3.4.42).
    await this.requireAdmin(opts);
    const r = await this.propose<{ alarms: AlarmResponse['alarms'] }>(
      { type: 'alarm', action: req.action, memberID: req.memberID ?? 0n, alarm },
      opts,
    );
    return { header: this.header(), alarms: r.alarms };
  }

  async snapshot(opts?: RequestOptions): Promise<{ header: ResponseHeader; file: Uint8Array }> {
    await this.requireAdmin(opts);
    await this.barrier();
    // Serialized synchronously after the barrier: nothing is applied in between, so the copy is one point in time.
    // The file is etcd 3.4's: its backend as bbolt plus a sha256 trailer (./snapshot-file.ts, ./etcd-snapshot.ts).
    const header = this.header();
    const state = etcdStateOf(this.replica.sm);
    const file = await encodeEtcdSnapshotFile(state);
    return { header, file };
  }

  // Auth RPCs (etcd's Authenticator). Mutations go through Raft carrying the caller, whose root role is checked when
  // they apply (etcd's needAdminPermission) and, to fail fast, before proposing. Reads follow a read barrier.

  private async authMutation(
    op: Exclude<Operation, { auth?: undefined }>,
    opts?: RequestOptions,
  ): Promise<AuthResponse> {
    await this.propose(op, opts);
    return { header: this.header() };
  }

  private async adminOp(opts: RequestOptions | undefined): Promise<OpAuth> {
    return this.requireAdmin(opts);
  }

  async authEnable(opts?: RequestOptions): Promise<AuthResponse> {
    return this.authMutation({ type: 'authEnable', auth: await this.adminOp(opts) }, opts);
  }

  async authDisable(opts?: RequestOptions): Promise<AuthResponse> {
    return this.authMutation({ type: 'authDisable', auth: await this.adminOp(opts) }, opts);
  }

  async authStatus(): Promise<AuthStatusResponse> {
    await this.barrier();
    return { header: this.header(), enabled: this.auth.enabled, authRevision: this.auth.revision };
  }

  async authenticate(req: AuthenticateRequest, opts?: RequestOptions): Promise<AuthenticateResponse> {
    await this.barrier();
    const auth = this.auth;
    for (;;) {
      // etcd's CheckPassword, then a Raft round that assigns the token (retried if auth changed meanwhile).
      if (!auth.enabled) throw errors.authNotEnabled();
      const checkedRevision = auth.revision;
      const creds = auth.credentials(req.name);
      if (!creds) {
        // The same work and the same answer as a wrong password: timing does not tell which names exist.
        await verifyPassword(req.password, await this.dummyHash.get());
        throw errors.authFailed();
      }
      if (creds.noPassword) {
        throw EtcdError.unknown('auth: authentication failed, password was given for no password user');
      }
      if (!(await verifyPassword(req.password, creds.password))) throw errors.authFailed();
      const simpleToken = this.jwt ? undefined : simpleTokenPrefix(this.options.random);
      const r = await this.propose<{ token?: string; revision: number }>(
        { type: 'authenticate', name: req.name, ...(simpleToken !== undefined ? { simpleToken } : {}) },
        opts,
      );
      if (checkedRevision !== auth.revision) continue;
      const token =
        r.token ??
        (await this.jwt!.sign({ username: req.name, revision: r.revision }, this.options.clock.now()));
      return { header: this.header(), token };
    }
  }

  async userAdd(req: AuthUserAddRequest, opts?: RequestOptions): Promise<AuthResponse> {
    const auth = await this.adminOp(opts);
    const noPassword = !!req.options?.noPassword;
    if (req.name.length === 0) throw errors.userEmpty();
    const hash = noPassword ? '' : await hashPassword(req.password ?? '', this.bcryptCost);
    return this.authMutation({ type: 'userAdd', name: req.name, hash, noPassword, auth }, opts);
  }

  async userGet(req: { readonly name: string }, opts?: RequestOptions): Promise<AuthUserGetResponse> {
    await this.barrier();
    const auth = this.auth;
    if (auth.enabled) {
      // etcd: a user may read itself without the root role.
      const info = await this.identify(opts);
      if (info.user === '' || info.user !== req.name) auth.checkAdmin(info);
    }
    return { header: this.header(), roles: auth.userGet(req.name) };
  }

  async userList(opts?: RequestOptions): Promise<AuthUserListResponse> {
    await this.barrier();
    await this.requireAdmin(opts);
    return { header: this.header(), users: this.auth.userList() };
  }

  async userDelete(req: { readonly name: string }, opts?: RequestOptions): Promise<AuthResponse> {
    return this.authMutation({ type: 'userDelete', name: req.name, auth: await this.adminOp(opts) }, opts);
  }

  async userChangePassword(
    req: { readonly name: string; readonly password: string },
    opts?: RequestOptions,
  ): Promise<AuthResponse> {
    const auth = await this.adminOp(opts);
    if (!this.auth.hasUser(req.name)) throw errors.userNotFound();
    const hash = await hashPassword(req.password, this.bcryptCost);
    return this.authMutation({ type: 'userChangePassword', name: req.name, hash, auth }, opts);
  }

  async userGrantRole(
    req: { readonly user: string; readonly role: string },
    opts?: RequestOptions,
  ): Promise<AuthResponse> {
    const auth = await this.adminOp(opts);
    return this.authMutation({ type: 'userGrantRole', user: req.user, role: req.role, auth }, opts);
  }

  async userRevokeRole(
    req: { readonly name: string; readonly role: string },
    opts?: RequestOptions,
  ): Promise<AuthResponse> {
    const auth = await this.adminOp(opts);
    return this.authMutation({ type: 'userRevokeRole', name: req.name, role: req.role, auth }, opts);
  }

  async roleAdd(req: { readonly name: string }, opts?: RequestOptions): Promise<AuthResponse> {
    return this.authMutation({ type: 'roleAdd', name: req.name, auth: await this.adminOp(opts) }, opts);
  }

  async roleGet(req: { readonly role: string }, opts?: RequestOptions): Promise<AuthRoleGetResponse> {
    await this.barrier();
    const auth = this.auth;
    if (auth.enabled) {
      // etcd: a user may read the roles it has without the root role.
      const info = await this.identify(opts);
      if (info.user === '' || !auth.hasRole(info.user, req.role)) auth.checkAdmin(info);
    }
    return { header: this.header(), perm: auth.roleGet(req.role) };
  }

  async roleList(opts?: RequestOptions): Promise<AuthRoleListResponse> {
    await this.barrier();
    await this.requireAdmin(opts);
    return { header: this.header(), roles: this.auth.roleList() };
  }

  async roleDelete(req: { readonly role: string }, opts?: RequestOptions): Promise<AuthResponse> {
    return this.authMutation({ type: 'roleDelete', role: req.role, auth: await this.adminOp(opts) }, opts);
  }

  async roleGrantPermission(
    req: { readonly name: string; readonly perm: Permission },
    opts?: RequestOptions,
  ): Promise<AuthResponse> {
    const auth = await this.adminOp(opts);
    return this.authMutation({ type: 'roleGrantPermission', name: req.name, perm: req.perm, auth }, opts);
  }

  async roleRevokePermission(
    req: { readonly role: string; readonly key: Uint8Array; readonly rangeEnd?: Uint8Array },
    opts?: RequestOptions,
  ): Promise<AuthResponse> {
    const auth = await this.adminOp(opts);
    const rangeEnd = req.rangeEnd && req.rangeEnd.length > 0 ? req.rangeEnd : undefined;
    return this.authMutation(
      { type: 'roleRevokePermission', role: req.role, key: req.key, ...(rangeEnd ? { rangeEnd } : {}), auth },
      opts,
    );
  }

  health(timeoutMs = 1000): Promise<boolean> {
    const s = this.nodeStatus();
    if (s.alarms.length > 0 || s.leader === 0n) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = this.options.clock.setTimer(timeoutMs, () => resolve(false));
      this.barrier().then(
        () => {
          timer.cancel();
          resolve(true);
        },
        () => {
          timer.cancel();
          resolve(false);
        },
      );
    });
  }

  testingCorrupt(): void {
    this.replica.testingCorrupt();
  }

  peerHashKV(revision: number): HashKVResponse {
    return this.withHeader(this.replica.sm.mvcc.hashKV(revision));
  }

  async diskSize(): Promise<number> {
    if (!this.options.diskSize) return this.replica.sm.dbSize();
    try {
      return await this.options.diskSize();
    } catch (error) {
      this.logger.warn('cannot measure the data dir; reporting the live size', { error: String(error) });
      return this.replica.sm.dbSize();
    }
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
      dbSize: this.replica.sm.dbSize(),
      alarms: this.replica.sm.alarms.list(),
      proposalsPending: this.replica.proposalsPending,
      proposalsFailed: this.replica.proposalsFailed,
      keys: this.replica.sm.mvcc.stats.keys,
      watchers: this.replica.watchable.syncedCount + this.replica.watchable.unsyncedCount,
      quotaBytes: this.replica.quotaBytes,
    };
  }

  onChange(listener: () => void): () => void {
    return this.replica.onChange(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ticker?.cancel();
    this.progressTicker?.cancel();
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
