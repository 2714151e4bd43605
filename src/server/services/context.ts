// What an etcd service (kv, watch, lease, cluster, maintenance, auth) may use of its member: response headers,
// proposing through Raft and waiting for the apply, read barriers, the caller's identity, and a read-only view of
// the replicated state. The host (../host.ts) implements it over the Replica; services never touch Raft or the
// state machine themselves, so each one reads as etcd's v3rpc handler plus etcdserver's checks for its API.

import type { EtcdError } from '../../etcd/errors.ts';
import type {
  AlarmMember,
  AlarmType,
  HashKVResponse,
  Member,
  RangeRequest,
  RangeResponse,
  ResponseHeader,
  TxnRequest,
  TxnResponse,
} from '../../etcd/types.ts';
import type { Lease } from '../../lease/index.ts';
import type { RangeChunk, RangeChunkQuery } from '../../mvcc/index.ts';
import type { Status } from '../../raft/raw-node.ts';
import type { WatchStream as MvccWatchStream, WatchStreamOptions } from '../../watch/index.ts';
import type { EtcdBackendState } from '../etcd-snapshot.ts';
import type { Identity } from '../identity.ts';
import type { TimeToLiveAnswer } from '../lease-forward.ts';
import type { NodeOptions, NodeStatus, RequestOptions } from '../node.ts';
import type { Operation } from '../ops.ts';

/** The replicated state as services read it: serve linearizable answers only after `barrier()`. */
export interface StateView {
  range(req: RangeRequest): RangeResponse;
  /** One chunk of a streamed range (KV.RangeStream), reading nothing beyond it. */
  rangeChunk(query: RangeChunkQuery): RangeChunk;
  /** A txn of ranges only (the read path serves it; it changes nothing). */
  readTxn(req: TxnRequest): TxnResponse;
  hashKV(revision: number): HashKVResponse;
  /** The keys attached to a lease; none when the lease does not exist. */
  leaseKeys(id: bigint): Uint8Array[];
  /** The keys that name `id` as their lease in the keyspace. */
  keysForLease(id: bigint): Uint8Array[];
  leases(): Lease[];
  member(id: bigint): Member | undefined;
  members(): Member[];
  isRemoved(id: bigint): boolean;
  alarms(alarm?: AlarmType): AlarmMember[];
  /** Active alarms in Status.errors' text form. */
  alarmErrors(): string[];
  /** The keyspace's serialized size (dbSizeInUse). */
  dbSize(): number;
  /** What an etcd 3.4 backend would hold now (Maintenance.Snapshot). */
  backup(): EtcdBackendState;
}

export interface ServiceContext {
  readonly id: bigint;
  readonly options: NodeOptions;
  readonly state: StateView;
  /** Who the caller is and what it may do (etcd's AuthInfoFromCtx, IsAdminPermitted, requireAuthInfo). */
  readonly identity: Identity;
  readonly electionTimeoutMs: number;

  header(): ResponseHeader;
  /** Member* responses carry no revision (etcd). */
  memberHeader(): ResponseHeader;
  /** The response with this member's header, keeping the revision the response already names. */
  withHeader<T extends { header?: ResponseHeader }>(resp: T): T;

  /** Proposes `op` through Raft; resolves with its apply result on this member. */
  propose<T>(op: Operation, opts?: RequestOptions): Promise<T>;
  /** Proposes a membership change; resolves with the member list once applied here. */
  proposeConfChange(
    type: 'addNode' | 'addLearner' | 'removeNode',
    nodeId: bigint,
    peerURLs: readonly string[],
  ): Promise<Member[]>;
  /** A linearizable read barrier (ReadIndex): resolves once everything committed before the call is applied. */
  barrier(): Promise<void>;
  /** A lease keep-alive (served locally by the leader when it can). */
  keepAlive(id: bigint, cb: (ttl: number | EtcdError) => void): void;
  /** A lease's TimeToLive as the leader knows it (its own estimate where the leader cannot be asked). */
  leaseTimeToLive(id: bigint, cb: TimeToLiveAnswer): void;
  /** A fresh random ID, decided before proposing (lease and member IDs). */
  randomId(): bigint;

  /** Raft's view of this member (etcd-io/raft's Status). */
  raftStatus(): Status;
  leaderId(): bigint;
  /** Starts handing leadership to `target` (the caller waits for `leaderId()` to change). */
  transferLeadership(target: bigint): void;
  /** A snapshot at the applied index, saved, with the log before it dropped (Defragment). */
  forceSnapshot(): Promise<void>;
  /** Test hook: corrupts the keyspace behind Raft's back. */
  testingCorrupt(): void;

  newWatchStream(options: WatchStreamOptions): MvccWatchStream;
  /** Called after every Ready; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  nodeStatus(): NodeStatus;
}
