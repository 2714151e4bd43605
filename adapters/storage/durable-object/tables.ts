// The rows of the Durable Object LogStorage (index.ts): its tables in the object's SQLite database, and how entries,
// hard state and snapshot are written to and read from them. What a save, compaction or load means for the Raft
// log (contiguity, gaps, one transaction per Ready) is index.ts's business; this file only knows the rows.
//
// Schema (table names carry a prefix, `raft_` by default, so one object can host other tables or several logs):
//
//   <p>entries(idx INTEGER PRIMARY KEY, term, type, parts, data BLOB)
//       One row per entry; type 0 normal, 1 confChange. `data` holds the first `chunkBytes` of the entry's data,
//       `parts` counts the further chunks in <p>entry_parts (0 for every entry up to `chunkBytes`).
//   <p>entry_parts(idx, part, data BLOB, PRIMARY KEY (idx, part))   part = 1..parts
//   <p>snapshot_chunks(seq INTEGER PRIMARY KEY, data BLOB)          the stored snapshot's data, seq = 0..chunks-1
//   <p>meta(k TEXT PRIMARY KEY, v TEXT)
//       'schema'    → '1'
//       'hardState' → JSON {term, vote (decimal string: a uint64 does not fit SQLite's or JS's numbers), commit}
//       'snapshot'  → JSON {index, term, voters, learners (decimal strings), size, chunks}
//
// Row size: SQLite-backed objects allow 2 MB per row (locally, workerd refuses a 3 MB BLOB with SQLITE_TOOBIG).
// Data is cut into chunks of `chunkBytes` (default 1.5 MiB, leaving room for the other columns under a
// 2,000,000-byte row): an entry of up to 1.5 MiB (1 MiB entries included) is one row, and anything larger —
// snapshots especially — is spread over chunk rows, so no size of entry or snapshot is refused.

import type { Entry, EntryType, HardState, Snapshot } from '../../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../../src/raft/types.ts';
import type { DurableObjectStorageApi, SqlValue } from './sql.ts';

const SCHEMA_VERSION = '1';

const TYPE_CODES: Record<EntryType, number> = { normal: 0, confChange: 1 };
const TYPES: readonly EntryType[] = ['normal', 'confChange'];

/** The stored snapshot's metadata row (the `snapshot` key of <p>meta). */
export interface StoredSnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly voters: readonly string[];
  readonly learners: readonly string[];
  readonly size: number;
  readonly chunks: number;
}

interface StoredHardState {
  readonly term: number;
  readonly vote: string;
  readonly commit: number;
}

type EntryRow = { idx: number; term: number; type: number; parts: number; data: ArrayBuffer | null };

export class RaftTables {
  private readonly storage: DurableObjectStorageApi;
  private readonly chunkBytes: number;
  private readonly t: {
    readonly entries: string;
    readonly parts: string;
    readonly snapshot: string;
    readonly meta: string;
  };

  /** `prefix` and `chunkBytes` are checked by the caller. */
  constructor(storage: DurableObjectStorageApi, prefix: string, chunkBytes: number) {
    this.storage = storage;
    this.chunkBytes = chunkBytes;
    this.t = {
      entries: `${prefix}entries`,
      parts: `${prefix}entry_parts`,
      snapshot: `${prefix}snapshot_chunks`,
      meta: `${prefix}meta`,
    };
  }

  /** The entries stored after index `after`, in order; throws on a hole or an unknown entry type. */
  readEntries(after: number): Entry[] {
    const entries: Entry[] = [];
    const rows = this.sql<EntryRow>(
      `SELECT idx, term, type, parts, data FROM ${this.t.entries} WHERE idx > ? ORDER BY idx`,
      after,
    );
    for (const row of rows) {
      const expected = entries.length > 0 ? entries[entries.length - 1].index + 1 : undefined;
      if (expected !== undefined && row.idx !== expected) {
        throw new Error(`corrupt log: entry ${expected} missing (next stored is ${row.idx})`);
      }
      const type = TYPES[row.type];
      if (type === undefined) throw new Error(`corrupt log: entry ${row.idx} has unknown type ${row.type}`);
      const data = row.parts > 0 ? this.readEntryData(row) : bytesOf(row.data);
      entries.push({ term: row.term, index: row.idx, type, data });
    }
    return entries;
  }

  /** Deletes every stored entry (a snapshot replaces the log). */
  deleteAllEntries(): void {
    this.sql(`DELETE FROM ${this.t.entries}`);
    this.sql(`DELETE FROM ${this.t.parts}`);
  }

  /** Deletes the entries from index `first` on (a conflicting suffix). */
  deleteEntriesFrom(first: number): void {
    this.sql(`DELETE FROM ${this.t.entries} WHERE idx >= ?`, first);
    this.sql(`DELETE FROM ${this.t.parts} WHERE idx >= ?`, first);
  }

  /** Deletes the entries up to index `index` (compaction). */
  deleteEntriesUpTo(index: number): void {
    this.sql(`DELETE FROM ${this.t.entries} WHERE idx <= ?`, index);
    this.sql(`DELETE FROM ${this.t.parts} WHERE idx <= ?`, index);
  }

  private sql<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): T[] {
    return this.storage.sql.exec<T>(query, ...bindings).toArray();
  }

  createSchema(): void {
    const { entries, parts, snapshot, meta } = this.t;
    this.sql(`CREATE TABLE IF NOT EXISTS ${meta} (k TEXT PRIMARY KEY, v TEXT NOT NULL)`);
    const [found] = this.sql<{ v: string }>(`SELECT v FROM ${meta} WHERE k = 'schema'`);
    if (found && found.v !== SCHEMA_VERSION) {
      throw new Error(`unsupported storage schema ${found.v} (this adapter writes ${SCHEMA_VERSION})`);
    }
    this.sql(
      `CREATE TABLE IF NOT EXISTS ${entries} (idx INTEGER PRIMARY KEY, term INTEGER NOT NULL, ` +
        'type INTEGER NOT NULL, parts INTEGER NOT NULL, data BLOB)',
    );
    this.sql(
      `CREATE TABLE IF NOT EXISTS ${parts} (idx INTEGER NOT NULL, part INTEGER NOT NULL, data BLOB, ` +
        'PRIMARY KEY (idx, part))',
    );
    this.sql(`CREATE TABLE IF NOT EXISTS ${snapshot} (seq INTEGER PRIMARY KEY, data BLOB)`);
    if (!found) this.sql(`INSERT INTO ${meta} (k, v) VALUES ('schema', ?)`, SCHEMA_VERSION);
  }

  /** The last index of the log: the last stored entry, else the snapshot's index, else 0. */
  lastIndex(): number {
    const [row] = this.sql<{ last: number | null }>(`SELECT MAX(idx) AS last FROM ${this.t.entries}`);
    return row?.last ?? this.readSnapshotMeta()?.index ?? 0;
  }

  writeEntry(entry: Entry): void {
    const { data } = entry;
    const chunks = Math.max(1, Math.ceil(data.length / this.chunkBytes));
    this.sql(
      `INSERT INTO ${this.t.entries} (idx, term, type, parts, data) VALUES (?, ?, ?, ?, ?)`,
      entry.index,
      entry.term,
      TYPE_CODES[entry.type],
      chunks - 1,
      this.chunk(data, 0),
    );
    for (let part = 1; part < chunks; part++) {
      this.sql(
        `INSERT INTO ${this.t.parts} (idx, part, data) VALUES (?, ?, ?)`,
        entry.index,
        part,
        this.chunk(data, part),
      );
    }
  }

  private readEntryData(row: EntryRow): Uint8Array {
    const pieces = [bytesOf(row.data)];
    const parts = this.sql<{ part: number; data: ArrayBuffer | null }>(
      `SELECT part, data FROM ${this.t.parts} WHERE idx = ? ORDER BY part`,
      row.idx,
    );
    parts.forEach((p, i) => {
      if (p.part !== i + 1) throw new Error(`corrupt log: entry ${row.idx} is missing part ${i + 1}`);
      pieces.push(bytesOf(p.data));
    });
    if (parts.length !== row.parts) {
      throw new Error(`corrupt log: entry ${row.idx} has ${parts.length} of ${row.parts} parts`);
    }
    return concat(pieces);
  }

  writeHardState(hardState: HardState): void {
    const stored: StoredHardState = {
      term: hardState.term,
      vote: hardState.vote.toString(),
      commit: hardState.commit,
    };
    this.putMeta('hardState', JSON.stringify(stored));
  }

  readHardState(): HardState {
    const json = this.getMeta('hardState');
    if (json === undefined) return { ...EMPTY_HARD_STATE };
    const stored = JSON.parse(json) as StoredHardState;
    return { term: stored.term, vote: BigInt(stored.vote), commit: stored.commit };
  }

  /** Replaces the stored snapshot (metadata and every chunk). */
  writeSnapshot(snapshot: Snapshot): void {
    const { index, term, confState } = snapshot.metadata;
    const { data } = snapshot;
    const chunks = Math.ceil(data.length / this.chunkBytes);
    this.sql(`DELETE FROM ${this.t.snapshot}`);
    for (let seq = 0; seq < chunks; seq++) {
      this.sql(`INSERT INTO ${this.t.snapshot} (seq, data) VALUES (?, ?)`, seq, this.chunk(data, seq));
    }
    const meta: StoredSnapshotMeta = {
      index,
      term,
      voters: confState.voters.map(String),
      learners: confState.learners.map(String),
      size: data.length,
      chunks,
    };
    this.putMeta('snapshot', JSON.stringify(meta));
  }

  readSnapshotMeta(): StoredSnapshotMeta | undefined {
    const json = this.getMeta('snapshot');
    return json === undefined ? undefined : (JSON.parse(json) as StoredSnapshotMeta);
  }

  readSnapshot(): Snapshot | undefined {
    const meta = this.readSnapshotMeta();
    if (!meta) return undefined;
    const rows = this.sql<{ seq: number; data: ArrayBuffer | null }>(
      `SELECT seq, data FROM ${this.t.snapshot} ORDER BY seq`,
    );
    const data = new Uint8Array(meta.size);
    let offset = 0;
    rows.forEach((row, i) => {
      const piece = bytesOf(row.data);
      if (row.seq !== i || offset + piece.length > meta.size) {
        throw new Error(`corrupt snapshot ${meta.index}: bad chunk ${row.seq}`);
      }
      data.set(piece, offset);
      offset += piece.length;
    });
    if (rows.length !== meta.chunks || offset !== meta.size) {
      throw new Error(
        `corrupt snapshot ${meta.index}: ${offset} of ${meta.size} bytes in ${rows.length} chunks`,
      );
    }
    return {
      metadata: {
        index: meta.index,
        term: meta.term,
        confState: { voters: meta.voters.map(BigInt), learners: meta.learners.map(BigInt) },
      },
      data,
    };
  }

  private getMeta(key: string): string | undefined {
    const [row] = this.sql<{ v: string }>(`SELECT v FROM ${this.t.meta} WHERE k = ?`, key);
    return row?.v;
  }

  private putMeta(key: string, value: string): void {
    this.sql(`INSERT OR REPLACE INTO ${this.t.meta} (k, v) VALUES (?, ?)`, key, value);
  }

  /** Chunk `n` of `data` as an ArrayBuffer of its own (SQLite copies it; the caller may reuse `data`). */
  private chunk(data: Uint8Array, n: number): ArrayBuffer {
    const start = n * this.chunkBytes;
    return data.slice(start, Math.min(start + this.chunkBytes, data.length)).buffer;
  }
}

/** A BLOB as read back: a fresh ArrayBuffer (or null for an empty one, depending on the runtime). */
function bytesOf(value: ArrayBuffer | null): Uint8Array {
  return value === null ? new Uint8Array(0) : new Uint8Array(value);
}

function concat(pieces: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of pieces) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
