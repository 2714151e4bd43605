// Raft's data types, in the shape of etcd-io/raft's raftpb. Plain objects so that msgpack carries them as they
// are: indexes and terms are numbers (safe below 2^53), member IDs are bigints (etcd's are uint64).

export type NodeId = bigint;

/** The "no node" ID: no vote cast, no leader known. */
export const NONE: NodeId = 0n;

export type EntryType = 'normal' | 'confChange';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The bytes of data in `entries` (what Raft's size limits count). */
export function entriesBytes(entries: readonly Pick<Entry, 'data'>[]): number {
  let bytes = 0;
  for (const e of entries) bytes += e.data.length;
  return bytes;
}

/** What must be durable before a vote or an append acknowledgement is sent (Raft §5, Figure 2). */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId;
  readonly commit: number;
}

export const EMPTY_HARD_STATE: HardState = { term: 0, vote: NONE, commit: 0 };

/** The membership at some log index. Single-server changes only: no joint configurations. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export type ConfChangeType = 'addNode' | 'addLearner' | 'removeNode';

/**
 * One membership change, carried in a `confChange` entry. `addNode` on a learner promotes it. The context is
 * opaque to Raft (the server puts the member's name and URLs there).
 */
export interface ConfChange {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
  readonly context?: Uint8Array;
}

export interface SnapshotMetadata {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

/** A state-machine snapshot supplied by the application, covering the log up to `metadata.index`. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

export type MessageType =
  | 'MsgHup' // local: start an election
  | 'MsgBeat' // local: leader sends heartbeats
  | 'MsgProp' // proposal (local, or forwarded by a follower)
  | 'MsgApp'
  | 'MsgAppResp'
  | 'MsgVote'
  | 'MsgVoteResp'
  | 'MsgPreVote'
  | 'MsgPreVoteResp'
  | 'MsgSnap' // one chunk of an InstallSnapshot
  | 'MsgSnapResp' // chunk acknowledgement: the next offset the follower expects
  | 'MsgHeartbeat'
  | 'MsgHeartbeatResp'
  | 'MsgUnreachable' // local: the transport could not reach `from`
  | 'MsgCheckQuorum' // local: leader checks that a quorum was recently active
  | 'MsgTransferLeader'
  | 'MsgTimeoutNow'
  | 'MsgReadIndex'
  | 'MsgReadIndexResp';

/** A chunk of a snapshot in flight (Raft §7, InstallSnapshot with offset/done). */
export interface SnapshotChunk {
  readonly metadata: SnapshotMetadata;
  readonly offset: number;
  readonly data: Uint8Array;
  /** Total size of the snapshot data; the chunk with offset + data.length === total is the last. */
  readonly total: number;
}

export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** MsgApp: index of the entry before `entries`. MsgAppResp: last matching index (or rejected index). */
  readonly index?: number;
  /** MsgApp: term of the entry at `index`. MsgVote: last log term. MsgAppResp reject: hint term. */
  readonly logTerm?: number;
  readonly entries?: readonly Entry[];
  readonly commit?: number;
  readonly reject?: boolean;
  /** MsgAppResp reject: the follower's hint for where the leader should probe next (fast backtracking). */
  readonly rejectHint?: number;
  readonly snapshot?: SnapshotChunk;
  /** MsgSnapResp: the next offset the follower expects. */
  readonly offset?: number;
  /** MsgHeartbeat(Resp) and MsgReadIndex(Resp): opaque request context (ReadIndex batches). */
  readonly context?: Uint8Array;
  /** MsgVote/MsgPreVote sent in a leadership transfer: bypass the leader lease (Raft §4.2.3). */
  readonly transfer?: boolean;
}

export type StateRole = 'follower' | 'candidate' | 'preCandidate' | 'leader';

/** Volatile state that hosts observe (who leads, what we are). Not persisted. */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: StateRole;
}

/** A ReadIndex answer: once applied ≥ index, a read with this context is linearizable. */
export interface ReadState {
  readonly index: number;
  readonly context: Uint8Array;
}
