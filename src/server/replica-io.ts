// The contract between a Replica (./replica.ts, the member sans I/O) and the host that drives it: what the host
// provides (ReplicaIO: send, persist, save a snapshot, the time) and how it configures the member. The async node
// (./host.ts) and the deterministic simulator (../sim/kv-simulation.ts) are its two hosts.

import type { ValueStoreOptions } from '../mvcc/value-store.ts';
import type { RaftOptions } from '../raft/config.ts';
import type { Entry, Message, Snapshot } from '../raft/types.ts';
import type { PersistBatch, SnapshotSource } from '../storage.ts';
import type { AutoCompactionConfig } from './auto-compaction.ts';
import type { MemberMetrics } from './metrics.ts';

export interface ReplicaIO {
  /** `afterPersist`: these vouch for state that is durable now (votes, append acks). */
  send(messages: readonly Message[], afterPersist: boolean): void;
  /** Makes a Ready's batch durable; calls `done` once it is (possibly synchronously). */
  persist(batch: PersistBatch, done: (error?: unknown) => void): void;
  /** Makes a locally taken snapshot durable (then storage may compact behind it). */
  saveSnapshot(snapshot: Snapshot, done: (error?: unknown) => void): void;
  /**
   * As saveSnapshot, the data produced piece by piece while the storage writes it (LogStorage.saveSnapshotStream):
   * present when the storage can, and then used for snapshots not kept in memory to send.
   */
  saveSnapshotStream?(source: SnapshotSource, done: (error?: unknown) => void): void;
  /** Where each new keyspace keeps its values (a fresh spill each call, when the storage has one). */
  values?(): ValueStoreOptions;
  now(): number;
  /** Observes every applied entry (the simulator checks state-machine safety with it). */
  applied?(entry: Entry): void;
  /**
   * Storage failed (a write or fsync): the replica has stopped and will not continue — after a failed fsync
   * nothing it wrote can be trusted (etcd panics). The host decides how to end (the Node CLI exits non-zero).
   */
  fatal?(error: unknown): void;
  /** Times applies for etcd's backend-commit and slow-apply series (./metrics.ts). */
  readonly metrics?: MemberMetrics;
  /**
   * Runs `fn` soon, after the current burst of work (a microtask on real runtimes). With it, proposals and
   * messages arriving together are handled by one Ready: one write, one MsgApp per follower (batching). Without
   * it (the simulator), every input is processed at once.
   */
  defer?(fn: () => void): void;
  /**
   * Runs `fn` on a later task, after pending I/O (a 0 ms timer). With it, a large keyspace's snapshot is written
   * over several tasks while the member goes on; without it (the simulator), at once.
   */
  later?(fn: () => void): void;
}

export interface ReplicaConfig {
  readonly id: bigint;
  readonly clusterId: bigint;
  /** Milliseconds per Raft tick (etcd's --heartbeat-interval). */
  readonly tickMs: number;
  /** Ticks per election timeout (etcd: election-timeout / heartbeat-interval). */
  readonly electionTicks: number;
  /** Applied entries between state-machine snapshots (etcd's --snapshot-count). */
  readonly snapshotCount: number;
  /** Keyspace records a snapshot writes per task when the host can run later tasks (default 4,096). */
  readonly snapshotStepRecords?: number;
  readonly requestTimeoutMs: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  /** How often the leader checkpoints remaining lease TTLs. */
  readonly leaseCheckpointIntervalMs: number;
  /** Extra Raft tunables (tests and the simulator shrink chunk sizes, windows, …). */
  readonly raft?: Partial<RaftOptions>;
  /** etcd's --auto-compaction-*: off when absent. */
  readonly autoCompaction?: AutoCompactionConfig;
  /** etcd's --quota-backend-bytes: past it, writes that add data raise NOSPACE. 0 or absent: 2 GiB. */
  readonly quotaBytes?: number;
  /** How often the leader runs the corruption check (a `hashCheck` entry); 0 or absent: never (etcd's default). */
  readonly corruptCheckIntervalMs?: number;
}

export interface BootstrapMember {
  readonly id: bigint;
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly isLearner?: boolean;
}
