// When and how a member snapshots its state machine (etcd's --snapshot-count): every `count` applied entries, and
// on demand (Defragment). The state machine is captured at one point and its keyspace written a bounded number of
// records per task when the host can run later tasks, so that a large keyspace does not stop the member's event
// loop — heartbeats, votes and client requests go on meanwhile; a small keyspace is written at once.

import type { RawNode } from '../raft/raw-node.ts';
import type { Snapshot } from '../raft/types.ts';
import type { ReplicaIO } from './replica-io.ts';
import type { ServerStateMachine } from './state-machine.ts';

/** Keyspace records written per task (~5 MB of 256-byte values: a few ms). */
const STEP_RECORDS = 16_384;

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
  private readonly deps: SnapshotterDeps;
  private writing = false;

  constructor(deps: SnapshotterDeps, lastIndex: number) {
    this.deps = deps;
    this.lastIndex = lastIndex;
  }

  /** A snapshot from the leader was installed. */
  received(index: number): void {
    this.lastIndex = index;
  }

  /** After applying: a snapshot when `count` entries were applied since the last one. */
  maybe(): void {
    const { raw, io, sm } = this.deps;
    if (this.writing || sm.appliedIndex - this.lastIndex < this.deps.count) return;
    const point = raw.snapshotPoint();
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
      // Undefined when a snapshot from the leader (or a forced one) covered this point meanwhile.
      const snapshot = raw.createSnapshot(captured.bytes, point);
      if (snapshot) this.save(snapshot, (err) => err && this.deps.fail(err));
    };
    step();
  }

  /**
   * A snapshot now at the applied index, written at once (Defragment; tests); `done` runs once it is saved and the
   * log before it compacted, or at once when there is nothing newer to snapshot.
   */
  force(done: (error?: unknown) => void): Snapshot | undefined {
    const snapshot = this.deps.raw.createSnapshot(this.deps.sm.snapshot());
    if (snapshot) this.save(snapshot, done);
    else done();
    return snapshot;
  }

  private save(snapshot: Snapshot, done: (error?: unknown) => void): void {
    this.lastIndex = snapshot.metadata.index;
    this.deps.io.saveSnapshot(snapshot, done);
  }
}
