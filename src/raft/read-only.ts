// ReadIndex bookkeeping on the leader (Raft §6.4, etcd-io/raft read_only.go), batched: all read requests that
// queue up between two Readys share one heartbeat round. A round records the commit index when it starts;
// once a quorum of voters answers its heartbeat, every request of that round — and of every earlier round,
// since a later confirmation also confirms leadership at the earlier time — can be served at its index.
//
// Requests wait in the queue until the leader has committed an entry of its own term: before that, its commit
// index may lag what an earlier leader committed.

import { voteResult } from './quorum.ts';
import type { ProgressTracker } from './tracker.ts';
import type { NodeId } from './types.ts';

export interface ReadRequest {
  readonly from: NodeId;
  readonly context: Uint8Array;
}

interface Round {
  readonly id: number;
  readonly index: number;
  readonly requests: ReadRequest[];
  readonly acks: Map<NodeId, boolean>;
}

export interface ReleasedRead extends ReadRequest {
  readonly index: number;
}

export class ReadOnly {
  private queued: ReadRequest[] = [];
  private rounds: Round[] = [];
  private nextRoundId = 1;

  reset(): void {
    this.queued = [];
    this.rounds = [];
  }

  enqueue(from: NodeId, context: Uint8Array): void {
    this.queued.push({ from, context });
  }

  hasQueued(leaderReady: boolean): boolean {
    return leaderReady && this.queued.length > 0;
  }

  /** Starts a round for the queued requests at `committed`; returns its heartbeat context. */
  startRound(committed: number, leaderReady: boolean): Uint8Array | undefined {
    if (!this.hasQueued(leaderReady)) return undefined;
    const round: Round = { id: this.nextRoundId++, index: committed, requests: this.queued, acks: new Map() };
    this.queued = [];
    this.rounds.push(round);
    return encodeRoundId(round.id);
  }

  /** The newest unconfirmed round's context, carried by regular heartbeats too. */
  lastContext(): Uint8Array | undefined {
    const last = this.rounds[this.rounds.length - 1];
    return last ? encodeRoundId(last.id) : undefined;
  }

  /** Records a heartbeat acknowledgement; returns the requests that became servable. */
  ack(from: NodeId, context: Uint8Array, tracker: ProgressTracker): ReleasedRead[] {
    const id = decodeRoundId(context);
    const at = this.rounds.findIndex((r) => r.id === id);
    if (at < 0) return [];
    const round = this.rounds[at];
    round.acks.set(from, true);
    if (voteResult(tracker.voters, round.acks) !== 'won') return [];
    const done = this.rounds.splice(0, at + 1);
    const released: ReleasedRead[] = [];
    for (const r of done) for (const req of r.requests) released.push({ ...req, index: r.index });
    return released;
  }
}

function encodeRoundId(id: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, id);
  return out;
}

function decodeRoundId(context: Uint8Array): number {
  if (context.length !== 8) return -1;
  return new DataView(context.buffer, context.byteOffset, 8).getFloat64(0);
}
