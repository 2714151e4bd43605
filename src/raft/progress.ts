// The leader's view of one follower (etcd-io/raft tracker/progress.go).
//
//   probe:     we don't know where the follower's log ends; send one MsgApp per heartbeat and back off on
//              rejection until it matches.
//   replicate: the follower's log matches up to `match`; stream entries optimistically (pipelining), bounded
//              by the inflight window.
//   snapshot:  the entries it needs are compacted away; send a snapshot in chunks, nothing else.

import { Inflights } from './inflights.ts';
import type { Snapshot } from './types.ts';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: a MsgApp was sent and is unanswered, so wait (until a heartbeat response) before the next. */
  probeSent = false;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;
  /** In snapshot state: the snapshot being sent and the next offset the follower expects. */
  snapshot?: Snapshot;
  snapshotOffset = 0;

  readonly isLearner: boolean;

  constructor(next: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean) {
    this.isLearner = isLearner;
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.snapshot = undefined;
    this.snapshotOffset = 0;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot' && this.snapshot) {
      // After a snapshot the follower has at least its index; continue from there.
      const snapshotIndex = this.snapshot.metadata.index;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, snapshotIndex + 1);
      return;
    }
    this.resetState('probe');
    this.next = this.match + 1;
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshot: Snapshot): void {
    this.resetState('snapshot');
    this.snapshot = snapshot;
  }

  /** An acknowledgement up to `index` arrived. Returns whether it told us something new. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /** Entries up to `lastIndex` were just sent: advance `next` optimistically when replicating. */
  sentEntries(lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (lastIndex >= this.next) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /**
   * A MsgApp was rejected: the follower has no entry matching `rejected`. `matchHint` is the index (found by
   * term, for fast backtracking) from which to probe next. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      // Stale rejection: we already know the follower matches beyond it.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // Probing sends one message at a time, so a rejection not of next-1 is stale.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending more to this follower must wait. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
