// The membership configuration and the leader's per-member progress (etcd-io/raft tracker/tracker.go), for
// single-server changes: a set of voters and a set of learners, never overlapping.

import { Progress } from './progress.ts';
import { committedIndex, type VoteResult, voteResult } from './quorum.ts';
import type { ConfState, NodeId } from './types.ts';

export class ProgressTracker {
  voters: NodeId[] = [];
  learners: NodeId[] = [];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  private readonly maxInflight: number;
  private readonly maxInflightBytes: number;

  constructor(maxInflight: number, maxInflightBytes: number) {
    this.maxInflight = maxInflight;
    this.maxInflightBytes = maxInflightBytes;
  }

  confState(): ConfState {
    return { voters: [...this.voters], learners: [...this.learners] };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  isLearner(id: NodeId): boolean {
    return this.learners.includes(id);
  }

  isMember(id: NodeId): boolean {
    return this.isVoter(id) || this.isLearner(id);
  }

  /** Replaces the configuration, keeping the progress of members that stay (with their learner flag updated). */
  setConf(conf: ConfState, lastIndex: number): void {
    this.voters = [...conf.voters].sort(compareIds);
    this.learners = [...conf.learners].sort(compareIds);
    const old = new Map(this.progress);
    this.progress.clear();
    const add = (id: NodeId, learner: boolean) => {
      const prev = old.get(id);
      const pr = new Progress(
        prev ? prev.next : lastIndex + 1,
        this.maxInflight,
        this.maxInflightBytes,
        learner,
      );
      if (prev) {
        pr.match = prev.match;
        pr.recentActive = prev.recentActive;
        pr.state = prev.state;
        pr.snapshot = prev.snapshot;
        pr.snapshotOffset = prev.snapshotOffset;
        if (prev.state === 'replicate') pr.becomeReplicate();
      } else {
        // A new member counts as active so that check-quorum does not depose the leader right after adding it.
        pr.recentActive = true;
      }
      this.progress.set(id, pr);
    };
    for (const id of this.voters) add(id, false);
    for (const id of this.learners) add(id, true);
  }

  /** Resets every follower's progress (a new leader knows nothing about them). */
  resetProgress(lastIndex: number, self: NodeId): void {
    for (const [id, pr] of this.progress) {
      const fresh = new Progress(lastIndex + 1, this.maxInflight, this.maxInflightBytes, pr.isLearner);
      if (id === self) {
        fresh.match = pr.match;
        fresh.next = lastIndex + 1;
        fresh.state = 'replicate';
      }
      this.progress.set(id, fresh);
    }
  }

  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }

  /** Check-quorum: were a majority of voters heard from since the last check? (self counts as active) */
  quorumActive(self: NodeId): boolean {
    const active = new Map<NodeId, boolean>();
    for (const id of this.voters)
      active.set(id, id === self || (this.progress.get(id)?.recentActive ?? false));
    return voteResult(this.voters, active) === 'won';
  }
}

export function compareIds(a: NodeId, b: NodeId): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
