// In-memory LogStorage: the reference adapter for the storage contract (src/storage.ts). Nothing survives the
// process, but the data lives in a MemoryStorageBackend that outlives any one MemoryStorage, so tests can
// close and reopen it as if the node had restarted.

import type { Entry, HardState, Snapshot } from '../../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../../src/raft/types.ts';
import type { LoadedState, LogStorage, PersistBatch } from '../../../src/storage.ts';

/** The "durable" data: survives `close()` and is shared by every MemoryStorage opened on it. */
export class MemoryStorageBackend {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot: Snapshot | undefined = undefined;
  /** A contiguous run of entries; may start below the snapshot index until `compact` drops those. */
  entries: readonly Entry[] = [];
}

export class MemoryStorage implements LogStorage {
  readonly backend: MemoryStorageBackend;
  private closed = false;

  constructor(backend: MemoryStorageBackend = new MemoryStorageBackend()) {
    this.backend = backend;
  }

  async load(): Promise<LoadedState> {
    await this.settle();
    const { hardState, snapshot, entries } = this.backend;
    const after = snapshot?.metadata.index ?? 0;
    return {
      hardState: { ...hardState },
      snapshot: snapshot && copySnapshot(snapshot),
      entries: entries.filter((e) => e.index > after).map(copyEntry),
    };
  }

  async save(batch: PersistBatch): Promise<void> {
    await this.settle();
    // Work out the whole new state first so a refused batch leaves the stored one untouched.
    const snapshot = batch.snapshot ? copySnapshot(batch.snapshot) : this.backend.snapshot;
    let entries = batch.snapshot ? [] : this.backend.entries;
    if (batch.entries.length > 0) entries = appendEntries(entries, snapshot, batch.entries);
    this.backend.snapshot = snapshot;
    this.backend.entries = entries;
    if (batch.hardState) this.backend.hardState = { ...batch.hardState };
  }

  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await this.settle();
    const current = this.backend.snapshot;
    // A snapshot older than the one stored adds nothing; keep the newer one.
    if (current && current.metadata.index > snapshot.metadata.index) return;
    this.backend.snapshot = copySnapshot(snapshot);
  }

  async compact(index: number): Promise<void> {
    await this.settle();
    this.backend.entries = this.backend.entries.filter((e) => e.index > index);
  }

  async close(): Promise<void> {
    await this.settle();
    this.closed = true;
  }

  /** Resolves on a later microtask, like real I/O would, and refuses use after close. */
  private async settle(): Promise<void> {
    await Promise.resolve();
    if (this.closed) throw new Error('MemoryStorage is closed');
  }
}

/** Stored entries with `incoming` appended, overwriting any stored suffix from `incoming[0].index` on. */
function appendEntries(
  stored: readonly Entry[],
  snapshot: Snapshot | undefined,
  incoming: readonly Entry[],
): Entry[] {
  for (let i = 1; i < incoming.length; i++) {
    if (incoming[i].index !== incoming[i - 1].index + 1) {
      throw new Error(`entries not contiguous at index ${incoming[i - 1].index}`);
    }
  }
  const first = incoming[0].index;
  const last = stored.length > 0 ? stored[stored.length - 1].index : (snapshot?.metadata.index ?? 0);
  if (first > last + 1) throw new Error(`gap in log: last stored index ${last}, batch starts at ${first}`);
  const kept = stored.filter((e) => e.index < first);
  return kept.concat(incoming.map(copyEntry));
}

function copyEntry(entry: Entry): Entry {
  return { term: entry.term, index: entry.index, type: entry.type, data: copyBytes(entry.data) };
}

function copySnapshot(snapshot: Snapshot): Snapshot {
  const { index, term, confState } = snapshot.metadata;
  return {
    metadata: {
      index,
      term,
      confState: { voters: [...confState.voters], learners: [...confState.learners] },
    },
    data: copyBytes(snapshot.data),
  };
}

/** A plain Uint8Array copy (Buffer#slice would share memory). */
function copyBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}
