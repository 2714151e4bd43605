// Linearizable reads on a member (etcd's linearizableReadLoop): every read queued since the last round shares one
// ReadIndex request; a round's reads are released once this member has applied the index the leader answered.
// Sans I/O, as the Replica that owns it: the caller passes the time and asks Raft through `readIndex`.

import { type EtcdError, errors } from '../etcd/errors.ts';
import type { ReadState } from '../raft/types.ts';

type ReadCallback = (error?: EtcdError) => void;

interface QueuedRead {
  readonly cb: ReadCallback;
  readonly deadline: number;
}

interface ReadBatch {
  readonly context: Uint8Array;
  readonly reads: QueuedRead[];
  readonly sentAt: number;
  index?: number;
}

export class ReadIndexQueue {
  private queued: QueuedRead[] = [];
  private batches: ReadBatch[] = [];
  private seq = 0;
  /** Makes contexts unique across restarts of this member. */
  private readonly nonce: number;
  /** Asks Raft for a read index carrying `context`; false when no leader is known. */
  private readonly readIndex: (context: Uint8Array) => boolean;

  constructor(nonce: number, readIndex: (context: Uint8Array) => boolean) {
    this.nonce = nonce;
    this.readIndex = readIndex;
  }

  add(cb: ReadCallback, deadline: number): void {
    this.queued.push({ cb, deadline });
  }

  /** Sends one ReadIndex request for the queued reads, unless one is already in flight. */
  start(now: number): void {
    if (this.queued.length === 0) return;
    // One request in flight at a time: reads arriving meanwhile form the next batch.
    if (this.batches.some((b) => b.index === undefined)) return;
    const reads = this.queued;
    this.queued = [];
    // The nonce makes contexts unique across restarts: an answer meant for our previous incarnation must not
    // release a read of this one at an old index (a stale read; the simulator found it, seed 10).
    const context = new Uint8Array(12);
    const view = new DataView(context.buffer);
    view.setUint32(0, this.nonce);
    view.setFloat64(4, ++this.seq);
    const batch: ReadBatch = { context, reads, sentAt: now };
    if (!this.readIndex(context)) {
      // No leader known: the reads wait (like writes) until one is, or until their deadline.
      this.queued = reads;
      return;
    }
    this.batches.push(batch);
  }

  /** Raft's answers: the index each round must wait for. */
  answered(readStates: readonly ReadState[]): void {
    for (const rs of readStates) {
      const batch = this.batches.find((b) => sameBytes(b.context, rs.context));
      if (batch) batch.index = rs.index;
    }
  }

  /** Releases the rounds whose index this member has applied. */
  release(applied: number): void {
    const done = this.batches.filter((b) => b.index !== undefined && b.index <= applied);
    if (done.length === 0) return;
    this.batches = this.batches.filter((b) => !done.includes(b));
    for (const b of done) for (const r of b.reads) r.cb();
  }

  /** Asks again for rounds still unanswered: all of them (the leader changed), or those older than `staleMs`. */
  retry(all: boolean, now: number, staleMs: number): void {
    const stale = this.batches.filter((b) => b.index === undefined && (all || now - b.sentAt >= staleMs));
    if (stale.length === 0) return;
    this.batches = this.batches.filter((b) => !stale.includes(b));
    for (const b of stale) this.queued.unshift(...b.reads);
  }

  /** Fails reads past their deadline: with "no leader" if they never got a round and no leader is known. */
  expire(now: number, staleMs: number, noLeader: () => boolean): void {
    this.retry(false, now, staleMs);
    for (const b of this.batches) {
      const expired = b.reads.filter((r) => r.deadline <= now);
      for (const r of expired) r.cb(errors.timeout());
      if (expired.length > 0) b.reads.splice(0, b.reads.length, ...b.reads.filter((r) => r.deadline > now));
    }
    const expiredQueued = this.queued.filter((r) => r.deadline <= now);
    const leaderless = noLeader();
    for (const r of expiredQueued) r.cb(leaderless ? errors.noLeader() : errors.timeout());
    if (expiredQueued.length > 0) this.queued = this.queued.filter((r) => r.deadline > now);
  }

  /** Fails every read (the member stops). */
  stop(): void {
    for (const b of this.batches) for (const r of b.reads) r.cb(errors.stopped());
    for (const r of this.queued) r.cb(errors.stopped());
    this.batches = [];
    this.queued = [];
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
