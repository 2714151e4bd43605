// createNode: the embeddable edgecd member, and its public API (EdgeNode: etcd's services as promises and async
// iterables) — the one object the gRPC server, the JSON gateway, the browser demo and the Durable Object all use.
// Inside, a host (./host.ts: the Replica wired to storage, transport and clock) gives one module per etcd service
// (./services/: kv, watch, lease, cluster, maintenance, auth) a narrow context (./services/context.ts).

import type { JwtOptions } from '../auth/tokens.ts';
import type { Clock, Logger, Random } from '../env.ts';
import { DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS, type RequestLimits } from '../etcd/limits.ts';
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
  RangeStreamResponse,
  ResponseHeader,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchRequest,
  WatchResponse,
} from '../etcd/types.ts';
import { damageOr, type LogStorage } from '../storage.ts';
import type { Transport } from '../transport.ts';
import { NodeHost } from './host.ts';
import { registerInspection } from './inspect.ts';
import type { MemberMetrics } from './metrics.ts';
import type { BootstrapMember, ReplicaConfig } from './replica.ts';
import { authService } from './services/auth.ts';
import { clusterService } from './services/cluster.ts';
import { kvService } from './services/kv.ts';
import { leaseService } from './services/lease.ts';
import { maintenanceService } from './services/maintenance.ts';
import { watchService } from './services/watch.ts';

export { BROWSER_PEER_PREFIX } from './services/cluster.ts';
export { ETCD_VERSION } from './services/maintenance.ts';

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
  /**
   * Keyspace records a snapshot writes per task (default 16,384): a large keyspace is snapshotted over several
   * tasks while the member goes on serving.
   */
  readonly snapshotStepRecords?: number;
  /**
   * With a storage that has a spill (LogStorage.valueSpill): the bytes of keyspace values kept in memory, the
   * least recently read going to the spill beyond it. Default 4 MiB; 0 keeps every value in memory.
   */
  readonly valueCacheBytes?: number;
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
   * Whether the caller has given up, for a surface that makes its `signal` only on demand (the gRPC server's
   * unary calls): the write path asks this instead of `signal.aborted`. Absent: `signal.aborted` is the answer.
   */
  readonly isCanceled?: () => boolean;
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
  /**
   * The same responses, in the same order, as batches of whatever is ready (never empty): what a surface that
   * writes many responses at once iterates. Use this or the stream itself, not both.
   */
  batches(): AsyncIterable<readonly WatchResponse[]>;
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

export interface ServingState {
  readonly learner: boolean;
  /** The leader this member knows, 0n for none. */
  readonly leader: bigint;
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
  /** The request limits this member enforces (NodeOptions.maxRequestBytes, maxTxnOps, or etcd's defaults). */
  readonly limits: RequestLimits;
  range(req: RangeRequest, opts?: RequestOptions): Promise<RangeResponse>;
  /**
   * etcd v3.7's KV.RangeStream: Range's answer as chunks of at most --max-request-bytes, read lazily at one pinned
   * revision (only the last chunk carries header, more and count). The request's checks, read barrier and
   * permission check fail the first `next()`; a compaction past the pinned revision fails a later one. Stop
   * early with the iterator's `return()`. docs/range-stream.md.
   */
  rangeStream(req: RangeRequest, opts?: RequestOptions): AsyncIterable<RangeStreamResponse>;
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
  /** What admission needs on every request (learner? which leader?), without building a NodeStatus. */
  serving(): ServingState;
  /** Called after every state change (debounced by the caller if needed); returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  close(): Promise<void>;
}

export async function createNode(options: NodeOptions): Promise<EdgeNode> {
  // A stored snapshot is restored as it is read, never one buffer in memory (a million keys are hundreds of MB).
  const loaded = await options.storage.load({ snapshotReader: true });
  let host: NodeHost;
  try {
    host = new NodeHost(options, loaded);
  } catch (error) {
    throw loaded.snapshotReader ? damageOr(loaded.snapshotReader, error) : error;
  } finally {
    loaded.snapshotReader?.close();
  }
  const node: EdgeNode = {
    id: options.id,
    clusterId: options.clusterId,
    limits: {
      maxRequestBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      maxTxnOps: options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS,
    },
    ...kvService(host),
    ...watchService(host),
    ...leaseService(host),
    ...clusterService(host),
    ...maintenanceService(host),
    ...authService(host),
    nodeStatus: () => host.nodeStatus(),
    serving: () => host.serving(),
    onChange: (listener) => host.onChange(listener),
    close: () => host.close(),
  };
  registerInspection(node, host.inspection());
  return node;
}
