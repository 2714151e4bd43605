// When and how a member snapshots its state machine. Every `count` applied entries (etcd's --snapshot-count) the
// in-memory Raft log is compacted, as etcd compacts its raft log. The state machine itself is written when
// `count` entries were applied and they add up to at least a quarter of the keyspace's size, so that writing
// snapshots costs at most a few times what was written (etcd's backend writes only what changed; rewriting a
// million-key keyspace every 10,000 puts cost more than the puts). The log on disk since the newest snapshot, and
// so the replay after a restart, stays under that quarter. A leader with a follower to catch up and no snapshot in
// memory asks for one (RawNode.wantsSnapshot), as etcd builds the snapshot it sends from its backend; a stored
// snapshot is not kept in memory otherwise. Defragment forces one.
// The state machine is captured at one point and written while the member goes on — heartbeats, votes and client
// requests meanwhile — so that a large keyspace does not stop its event loop. Where the storage can take it piece
// by piece (LogStorage.saveSnapshotStream, the file WAL), the storage pulls it through its own reused buffer as it
// writes: no buffer of the whole size, whose fresh pages alone cost more than encoding it (~2.6 ms per MB here).
// Otherwise, and for a snapshot kept to send to a follower, the keyspace is written into one buffer a bounded
// number of records per task when the host can run later tasks (at once in the simulator).

import type { RawNode, SnapshotPoint } from '../raft/raw-node.ts';
import type { Snapshot } from '../raft/types.ts';
import type { ReplicaIO } from './replica-io.ts';
import type { ServerStateMachine } from './state-machine.ts';

/**
 * Keyspace records written per task (~1 MB of 256-byte values, ~1–3 ms here). Each task holds up the requests
 * waiting behind it: `benchmark put` of 1M keys from 200 clients had a p99 of 141–144 ms with 16,384 records per
 * task and 97–101 ms with 4,096, at the same throughput.
 */
const STEP_RECORDS = 4096;
/** The data of a snapshot recorded in the log but streamed to storage (never kept in memory to send). */
const NO_DATA = new Uint8Array(0);
/** A snapshot is due once the entries applied since the last one add up to 1/SIZE_RATIO of the keyspace. */
const SIZE_RATIO = 4;

export interface SnapshotterDeps {
  readonly raw: RawNode;
  readonly io: ReplicaIO;
  /** The state machine (restoring a snapshot from the leader may replace its parts). */
  readonly sm: ServerStateMachine;
  /** Applied entries between snapshots (etcd's --snapshot-count). */
  readonly count: number;
  readonly stepRecords?: number;
  readonly stopped: () => boolean;
  /** Storage failed saving a snapshot: etcd panics; the member stops as on any storage failure. */
  readonly fail: (error: unknown) => void;
}

export class Snapshotter {
  /** The index of the newest snapshot this member holds (taken, received or loaded). */
  private lastIndex: number;
  /** The applied index at the last compaction of the in-memory log. */
  private compactedAt: number;
  /** Bytes of entries applied since the newest snapshot. */
  private bytesSince = 0;
  private readonly deps: SnapshotterDeps;
  private writing = false;

  constructor(deps: SnapshotterDeps, lastIndex: number) {
    this.deps = deps;
    this.lastIndex = lastIndex;
    this.compactedAt = lastIndex;
  }

  /** A snapshot from the leader was installed. */
  received(index: number): void {
    this.lastIndex = index;
    this.compactedAt = index;
    this.bytesSince = 0;
  }

  /** After applying `bytes` of entries (and on ticks, with 0): compacts the log, snapshots when due or asked. */
  maybe(bytes = 0): void {
    this.bytesSince += bytes;
    const { raw, io, sm, count } = this.deps;
    if (this.writing) return;
    const applied = sm.appliedIndex;
    const point = raw.snapshotPoint();
    // Only where the state machine is exactly at Raft's applied index (not while a Ready is being applied).
    if (applied !== point.index) return;
    if (applied - this.compactedAt >= count && raw.compactLog(applied)) this.compactedAt = applied;
    const wanted = raw.wantsSnapshot();
    const due = applied - this.lastIndex >= count && this.bytesSince * SIZE_RATIO >= sm.mvcc.sizeBytes;
    if (!wanted && !due) return;
    this.bytesSince = 0;
    if (!wanted && io.saveSnapshotStream) {
      this.stream(io.saveSnapshotStream.bind(io), point);
      return;
    }
    const captured = sm.captureSnapshot();
    const budget = io.later ? (this.deps.stepRecords ?? STEP_RECORDS) : Number.POSITIVE_INFINITY;
    const step = () => {
      if (this.deps.stopped()) return;
      if (!captured.step(budget)) {
        this.writing = true;
        io.later!(step);
        return;
      }
      this.writing = false;
      // Undefined when a snapshot from the leader (or a forced one) covered this point meanwhile, or nothing was
      // applied since the last one stored. Kept in memory to send only when a follower asked for one (and asks made
      // while it was being written are answered by it).
      const snapshot = raw.createSnapshot(captured.bytes, point, wanted);
      if (wanted) raw.wantsSnapshot();
      if (snapshot) this.save(snapshot, (err) => err && this.deps.fail(err));
    };
    step();
  }

  /**
   * A snapshot now at the applied index, written at once (Defragment; tests); `done` runs once it is saved and the
   * log before it compacted, or at once when there is nothing newer to snapshot.
   */
  force(done: (error?: unknown) => void): Snapshot | undefined {
    const snapshot = this.deps.raw.createSnapshot(this.deps.sm.snapshot(), undefined, false);
    this.bytesSince = 0;
    if (snapshot) this.save(snapshot, done);
    else done();
    return snapshot;
  }

  /**
   * The state machine as it is now, handed to the storage piece by piece as it writes them (a reused buffer): a
   * large keyspace is then never one buffer in memory, whose fresh pages alone cost more than encoding it.
   */
  private stream(save: NonNullable<ReplicaIO['saveSnapshotStream']>, point: SnapshotPoint): void {
    const pieces = this.deps.sm.streamSnapshot();
    const snapshot = this.deps.raw.createSnapshot(NO_DATA, point, false);
    if (!snapshot) return;
    this.lastIndex = snapshot.metadata.index;
    this.compactedAt = Math.max(this.compactedAt, snapshot.metadata.index);
    const source = {
      metadata: snapshot.metadata,
      size: pieces.size,
      fill: (out: Uint8Array) => pieces.fill(out),
    };
    save(source, (err) => err && this.deps.fail(err));
  }

  private save(snapshot: Snapshot, done: (error?: unknown) => void): void {
    this.lastIndex = snapshot.metadata.index;
    this.compactedAt = Math.max(this.compactedAt, snapshot.metadata.index);
    this.deps.io.saveSnapshot(snapshot, done);
  }
}
