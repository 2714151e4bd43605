// The Raft log as the core keeps it in memory (etcd-io/raft log.go + log_unstable.go, merged): entries since
// the last compaction, with three marks — `stable` (durable in storage), `committed`, `applied`.
//
// Storage adapters never serve reads to the core; they only persist what a Ready hands them. So the tail the
// core needs (for replication, conflict checks, catch-up) lives here, bounded by compaction.

import type { Entry, Snapshot } from './types.ts';

export class RaftLog {
  /** entries[i].index === offset + 1 + i. */
  private entries: Entry[] = [];
  /** Index and term of the last entry compacted away (a snapshot's index, or 0). */
  private offset = 0;
  private offsetTerm = 0;

  committed = 0;
  applied = 0;
  /** Entries with index ≤ stable are durable in storage. */
  stable = 0;
  /** The last index handed to the host in the outstanding Ready, not yet acknowledged by advance(). */
  private inProgress = 0;

  /** A snapshot received from the leader that is not yet durable and applied. */
  pendingSnapshot?: Snapshot;
  private snapshotInProgress = false;
  /**
   * A snapshot whose data is in memory, to send to followers: kept only while a follower restoring it could go on
   * from our log (its index ≥ the log's offset). The host offers one when asked (Raft.snapshotWanted), as etcd's
   * server builds the snapshot it sends from its backend; a snapshot stored or received is not kept here.
   */
  latestSnapshot?: Snapshot;
  /** Index of the newest snapshot taken, received or loaded (data kept or not). */
  snapshotIndex = 0;

  /** Restores the log from what storage loaded (all of it durable). */
  static recover(snapshot: Snapshot | undefined, entries: readonly Entry[], commit: number): RaftLog {
    const log = new RaftLog();
    if (snapshot) {
      log.offset = snapshot.metadata.index;
      log.offsetTerm = snapshot.metadata.term;
      log.snapshotIndex = snapshot.metadata.index;
    }
    for (const e of entries) {
      if (e.index <= log.offset) continue;
      if (e.index !== log.lastIndex() + 1) {
        throw new Error(`raft: recovered log has a gap at index ${log.lastIndex() + 1} (found ${e.index})`);
      }
      log.entries.push(e);
    }
    log.stable = log.lastIndex();
    log.inProgress = log.stable;
    log.committed = Math.max(log.offset, Math.min(commit, log.lastIndex()));
    log.applied = log.offset;
    return log;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.offset + this.entries.length;
  }

  /** The term of the entry at `index`, or undefined when it is compacted away or beyond the end. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1].term;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi), at most `maxBytes` of data but always at least one. lo must be ≥ firstIndex. */
  slice(lo: number, hi: number, maxBytes = Number.POSITIVE_INFINITY): Entry[] {
    if (lo < this.firstIndex()) throw new Error(`raft: slice(${lo}) below first index ${this.firstIndex()}`);
    hi = Math.min(hi, this.lastIndex() + 1);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.entries[i - this.offset - 1];
      bytes += e.data.length;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Follower side of AppendEntries: if our entry at prevIndex has prevTerm, append `entries` (overwriting a
   * conflicting suffix) and return the index of the last new entry; otherwise undefined.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    entries: readonly Entry[],
  ): { lastNew: number; truncatedFrom?: number } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    let truncatedFrom: number | undefined;
    if (conflict !== 0) {
      if (conflict <= this.committed) {
        throw new Error(
          `raft: entry ${conflict} conflicts with committed entry (committed ${this.committed})`,
        );
      }
      if (conflict <= this.lastIndex()) truncatedFrom = conflict;
      this.append(entries.slice(conflict - prevIndex - 1));
    }
    return { lastNew, truncatedFrom };
  }

  /** The first index where `entries` disagree with ours or extend past our end; 0 when all are present. */
  private findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * Fast backtracking (etcd-io/raft findConflictByTerm): the largest index ≤ `index` whose term is ≤ `term`,
   * so that one round trip skips a whole term of mismatching entries.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    index = Math.min(index, this.lastIndex());
    for (; index >= this.offset; index--) {
      const t = this.term(index);
      if (t === undefined) break;
      if (t <= term) return { index, term: t };
    }
    return { index, term: 0 };
  }

  /** Appends entries whose first index may overwrite a suffix of ours. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0].index;
    if (first <= this.offset)
      throw new Error(`raft: append at ${first} below compacted index ${this.offset}`);
    if (first > this.lastIndex() + 1) {
      throw new Error(`raft: append at ${first} leaves a gap after ${this.lastIndex()}`);
    }
    if (first <= this.lastIndex()) {
      this.entries.length = first - this.offset - 1;
      // What was durable or in flight beyond this point is being overwritten: it is no longer "ours".
      this.stable = Math.min(this.stable, first - 1);
      this.inProgress = Math.min(this.inProgress, first - 1);
    }
    for (const e of entries) this.entries.push(e);
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    if (index > this.lastIndex()) {
      throw new Error(`raft: commit ${index} beyond last index ${this.lastIndex()}`);
    }
    this.committed = index;
    return true;
  }

  /** Replaces the log by a snapshot received from the leader (not yet durable). */
  restore(snapshot: Snapshot): void {
    const { index, term } = snapshot.metadata;
    this.entries = [];
    this.offset = index;
    this.offsetTerm = term;
    this.committed = index;
    this.stable = index;
    this.inProgress = Math.min(this.inProgress, index);
    this.pendingSnapshot = snapshot;
    this.snapshotInProgress = false;
    this.snapshotIndex = index;
    this.latestSnapshot = undefined;
  }

  // The Ready/advance handshake.

  hasUnstable(): boolean {
    return this.lastIndex() > this.stable || (this.pendingSnapshot !== undefined && !this.snapshotInProgress);
  }

  /** Entries that the next Ready must persist. */
  unstableEntries(): Entry[] {
    const from = Math.max(this.stable, this.offset) + 1;
    return from > this.lastIndex() ? [] : this.slice(from, this.lastIndex() + 1);
  }

  /** The highest index that may be applied now: committed and durable here. */
  private applyLimit(): number {
    return Math.min(this.committed, this.stable);
  }

  hasNextCommitted(): boolean {
    return this.pendingSnapshot === undefined && this.applyLimit() > this.applied;
  }

  nextCommitted(maxBytes: number): Entry[] {
    if (!this.hasNextCommitted()) return [];
    return this.slice(Math.max(this.applied + 1, this.firstIndex()), this.applyLimit() + 1, maxBytes);
  }

  /** Marks what the outstanding Ready handed out as being persisted. */
  acceptReady(lastEntryIndex: number, withSnapshot: boolean): void {
    if (lastEntryIndex > 0) this.inProgress = lastEntryIndex;
    if (withSnapshot) this.snapshotInProgress = true;
  }

  /** The outstanding Ready is durable (and its committed entries applied up to `appliedTo`). */
  advance(appliedTo: number): void {
    if (this.snapshotInProgress && this.pendingSnapshot) {
      this.applied = Math.max(this.applied, this.pendingSnapshot.metadata.index);
      this.pendingSnapshot = undefined;
      this.snapshotInProgress = false;
    }
    if (this.inProgress > this.stable) this.stable = this.inProgress;
    if (appliedTo > this.applied) this.applied = appliedTo;
  }

  /** Drops in-memory entries ≤ `index` (a snapshot at ≥ index exists). */
  compact(index: number): void {
    if (index <= this.offset) return;
    if (index > this.applied) throw new Error(`raft: compact ${index} beyond applied ${this.applied}`);
    const term = this.term(index);
    if (term === undefined) throw new Error(`raft: compact ${index}: no such entry`);
    this.entries = this.entries.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
    // A follower restoring an older snapshot would need entries we no longer have.
    if (this.latestSnapshot && this.latestSnapshot.metadata.index < index) this.latestSnapshot = undefined;
  }
}
