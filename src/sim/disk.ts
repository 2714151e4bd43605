// A simulated disk for one node: what is durable, and what a crash does to a write in flight. The simulator
// drives RawNode synchronously (no promises), so this is not a LogStorage; it follows the same contract
// (src/storage.ts), including torn tails: a write interrupted by a crash survives entirely, not at all, or
// as a prefix of its entries without its hard state.

import { EMPTY_HARD_STATE, type Entry, type HardState, type Snapshot } from '../raft/types.ts';
import type { LoadedState, PersistBatch } from '../storage.ts';

export class SimDisk {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot?: Snapshot;
  /** Entries after the snapshot's index (or from 1), contiguous. */
  entries: Entry[] = [];

  load(): LoadedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }

  private offset(): number {
    return this.snapshot?.metadata.index ?? 0;
  }

  lastIndex(): number {
    return this.offset() + this.entries.length;
  }

  /** The term of a durable entry, or undefined. */
  term(index: number): number | undefined {
    const off = this.offset();
    if (index === off) return this.snapshot?.metadata.term ?? 0;
    if (index < off || index > this.lastIndex()) return undefined;
    return this.entries[index - off - 1].term;
  }

  /** Whether entry (index, term) is durable here, directly or inside the snapshot. */
  holds(index: number, term: number): boolean {
    if (index <= this.offset()) return true;
    return this.term(index) === term;
  }

  /** Persists a batch; `entryPrefix` < entries.length models a torn write (and drops the hard state). */
  write(batch: PersistBatch, entryPrefix = batch.entries.length): void {
    if (batch.snapshot) {
      this.snapshot = batch.snapshot;
      this.entries = [];
    }
    const entries = batch.entries.slice(0, entryPrefix);
    if (entries.length > 0) {
      const first = entries[0].index;
      const off = this.offset();
      if (first <= off) throw new Error(`sim disk: write at ${first} below snapshot ${off}`);
      if (first > this.lastIndex() + 1)
        throw new Error(`sim disk: gap before ${first} (last ${this.lastIndex()})`);
      this.entries.length = first - off - 1;
      for (const e of entries) this.entries.push(e);
    }
    if (batch.hardState && entryPrefix === batch.entries.length) this.hardState = batch.hardState;
  }

  saveSnapshot(snapshot: Snapshot): void {
    if (this.snapshot && this.snapshot.metadata.index >= snapshot.metadata.index) return;
    const off = this.offset();
    const keepFrom = snapshot.metadata.index - off;
    this.entries = keepFrom >= this.entries.length ? [] : this.entries.slice(keepFrom);
    this.snapshot = snapshot;
  }
}
