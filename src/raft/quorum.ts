// Majority quorum math (etcd-io/raft quorum/majority.go), for single (non-joint) configurations.

import type { NodeId } from './types.ts';

export type VoteResult = 'won' | 'lost' | 'pending';

/** The largest index that a majority of `voters` have acknowledged. An empty config commits everything. */
export function committedIndex(voters: readonly NodeId[], acked: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.MAX_SAFE_INTEGER;
  const indexes = voters.map(acked).sort((a, b) => b - a);
  return indexes[Math.floor(voters.length / 2)];
}

/** Tallies votes: won with a majority of grants, lost once a majority can no longer be reached. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const quorum = Math.floor(voters.length / 2) + 1;
  if (granted >= quorum) return 'won';
  if (voters.length - rejected < quorum) return 'lost';
  return 'pending';
}
