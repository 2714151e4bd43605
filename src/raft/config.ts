// Tunables of the Raft core, with etcd's defaults where etcd has one.

import type { Logger, Random } from '../env.ts';
import type { NodeId } from './types.ts';

export interface RaftConfig {
  readonly id: NodeId;
  /** Ticks without hearing from a leader before campaigning (randomized in [electionTick, 2·electionTick)). */
  readonly electionTick: number;
  /** Ticks between leader heartbeats. */
  readonly heartbeatTick: number;
  /** Draws randomized election timeouts; the only randomness in the core. */
  readonly random: Random;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /** Upper bound on entry bytes in one MsgApp (always at least one entry). */
  readonly maxSizePerMsg: number;
  /** In-flight MsgApp window per follower in replicate state. */
  readonly maxInflightMsgs: number;
  /** In-flight bytes per follower (0 = unlimited). */
  readonly maxInflightBytes: number;
  /** Proposals are refused once this many uncommitted bytes are in the leader's log. */
  readonly maxUncommittedBytes: number;
  /** Proposals are refused with `tooManyRequests` when committed − applied exceeds this (etcd: 5000). */
  readonly maxApplyLag: number;
  /** Upper bound on committed entry bytes handed out by one Ready. */
  readonly maxCommittedSizePerReady: number;
  /** Snapshots travel in MsgSnap chunks of at most this many bytes. */
  readonly snapshotChunkBytes: number;
  /** Entries kept in memory behind a snapshot, so slightly slow followers catch up without one. */
  readonly snapshotCatchUpEntries: number;
  readonly logger?: Logger;
  /** TEST ONLY: commit entries of earlier terms by counting replicas (the bug of Raft §5.4.2, Figure 8). */
  readonly testingUnsafeCommitAnyTerm?: boolean;
  /** TEST ONLY: a known bug compiled in, to prove that the simulator's checks catch it. */
  readonly testingBug?: KnownBug;
}

/**
 * Bugs the simulator must catch (test builds only):
 *   voteIgnoresLog — grant votes without Raft §5.4.1's up-to-date check;
 *   ackBeforePersist — a follower acknowledges appended entries before they are durable.
 */
export type KnownBug = 'voteIgnoresLog' | 'ackBeforePersist';

export type RaftOptions = Partial<RaftConfig> & Pick<RaftConfig, 'id' | 'random'>;

export function raftConfig(options: RaftOptions): RaftConfig {
  return {
    electionTick: 10,
    heartbeatTick: 1,
    preVote: true,
    checkQuorum: true,
    maxSizePerMsg: 1024 * 1024,
    maxInflightMsgs: 256,
    maxInflightBytes: 0,
    maxUncommittedBytes: 64 * 1024 * 1024,
    maxApplyLag: 5000,
    maxCommittedSizePerReady: 16 * 1024 * 1024,
    snapshotChunkBytes: 1024 * 1024,
    snapshotCatchUpEntries: 5000,
    ...options,
  };
}
