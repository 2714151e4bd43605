// Loading a file WAL (the format is at the top of index.ts): replay the segments in order, truncate a torn tail,
// reconcile the log with the newest snapshot file, clamp a commit index beyond the durable log. Leaves the newest
// segment open for appends.
//
// Segments replay in sequence order (a missing sequence number is refused); zeros from a record boundary to the
// end of a segment end it (no record has length or type 0), as etcd's WAL reads them. A bad record (incomplete,
// CRC mismatch) at the end of the last segment, with no valid record anywhere after it, is a torn tail: the
// file is truncated to the last good record and the fact logged. Any other bad record, a malformed payload, or
// a gap in indexes is refused with the file and byte offset. A received snapshot is written as a snapshot file
// before its WAL marker; if the file survived a crash and the marker did not, load completes the reset. The
// returned entries must continue the newest snapshot without a hole, or load refuses; a hard state commit
// beyond the last durable entry is clamped (and logged). `compact` deletes whole segments, oldest first, whose
// entries are all at or below its index; entries at or below the snapshot index are skipped on load.

import { dirname, join } from 'node:path';
import type { Logger } from '../../../src/env.ts';
import { EMPTY_BYTES } from '../../../src/mvcc/bytes.ts';
import type { Entry, HardState, Snapshot } from '../../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../../src/raft/types.ts';
import type { LoadedState } from '../../../src/storage.ts';
import { ByteSlabs } from './byte-slabs.ts';
import { decodeBatch, decodeSegmentHeader, encodeBatch, type SnapshotMarker } from './codec.ts';
import { exists, type WalFs } from './fs.ts';
import {
  corrupt,
  decodeOr,
  findValidRecord,
  RECORD_BATCH,
  RECORD_SEGMENT_HEADER,
  type RecordWriter,
  readRecord,
} from './record.ts';
import { END_OF_DATA, endOfData, SegmentRecords } from './segment-records.ts';
import type { Segment, SegmentFiles, SegmentName } from './segments.ts';
import type { SnapshotFiles } from './snapshot-files.ts';

export interface RecoveryContext {
  readonly fs: WalFs;
  readonly logger: Logger;
  /** The data directory, holding `segments.dir` and `snapshots.dir`. */
  readonly dir: string;
  readonly segments: SegmentFiles;
  readonly snapshots: SnapshotFiles;
  readonly writer: RecordWriter;
  /** The snapshot's data left to read piece by piece (LoadOptions.snapshotReader). */
  readonly snapshotReader?: boolean;
}

/** What was loaded, and the WAL's own view of it that later writes continue from. */
export interface Recovered {
  readonly loaded: LoadedState;
  /** The last log index as the WAL replays it (a snapshot marker sets it to the snapshot index). */
  readonly logLast: number;
  readonly hardState: HardState;
  readonly marker: SnapshotMarker | undefined;
}

export async function recover(ctx: RecoveryContext): Promise<Recovered> {
  const { fs, segments, snapshots } = ctx;
  const walDir = segments.dir;
  const snapDir = snapshots.dir;
  const fresh = !(await exists(fs, walDir));
  if (fresh) {
    await fs.mkdir(walDir);
    await fs.mkdir(snapDir);
    await fs.fsyncDir(ctx.dir);
    await fs.fsyncDir(dirname(ctx.dir));
  } else if (!(await exists(fs, snapDir))) {
    await fs.mkdir(snapDir);
    await fs.fsyncDir(ctx.dir);
  }
  // The segments are read while the snapshot file is opened (or read whole, without `snapshotReader`).
  const snapshotLoad = snapshots.load(ctx.snapshotReader === true);
  snapshotLoad.catch(() => {}); // awaited below; a failing segment listing must not leave it unhandled
  const names = await segments.names();
  const newest = await snapshotLoad;
  try {
    const recovered = await replay(ctx, names, newest?.snapshot);
    const reader = newest?.reader;
    return reader ? { ...recovered, loaded: { ...recovered.loaded, snapshotReader: reader } } : recovered;
  } catch (error) {
    newest?.reader?.close();
    throw error;
  }
}

/** Replays the segments onto the newest snapshot (its metadata; the data may be left to read). */
async function replay(
  ctx: RecoveryContext,
  names: readonly SegmentName[],
  snapshot: Snapshot | undefined,
): Promise<Recovered> {
  const { fs, logger, segments } = ctx;
  const walDir = segments.dir;
  const snapDir = ctx.snapshots.dir;
  if (names.length === 0) {
    if (snapshot) throw new Error(`file WAL: ${walDir} has no segments but snapshot files exist`);
    await segments.cut({ prevIndex: 0, hardState: EMPTY_HARD_STATE, marker: undefined });
    return {
      loaded: { hardState: EMPTY_HARD_STATE, snapshot: undefined, entries: [] },
      logLast: 0,
      hardState: EMPTY_HARD_STATE,
      marker: undefined,
    };
  }

  // Replay. `log` holds entries logFirst..last (a marker or an overwrite below logFirst restarts it).
  let log: Entry[] = [];
  let logFirst = 1;
  let last = 0;
  let hardState = EMPTY_HARD_STATE;
  let marker: SnapshotMarker | undefined;
  let tornAt: { path: string; offset: number; size: number; reason: string } | undefined;
  /** Where the last segment's records end (zeros allocated ahead of them may follow: segments.ts append). */
  let end = 0;
  // Entries are kept as they are read (a record's payload lasts only until the next read: ./segment-records.ts):
  // copies in shared 1 MB slabs rather than one buffer each (an ArrayBuffer of its own costs ~2 µs and ~200 bytes:
  // 0.3 s for the 134k entries after a 1M-key snapshot). The newest snapshot covers entries up to its index: of
  // those only the term is looked at (below), so their bytes are not copied.
  const base = snapshot?.metadata.index ?? 0;
  const arena = new ByteSlabs(1 << 20);
  const keep = (e: Entry): Entry => ({
    term: e.term,
    index: e.index,
    type: e.type,
    data: e.index > base ? arena.copy(e.data) : EMPTY_BYTES,
  });
  let window: Uint8Array | undefined;
  for (let i = 0; i < names.length; i++) {
    const { name, seq, firstIndex } = names[i];
    const path = join(walDir, name);
    const records = await SegmentRecords.open(fs, path, window);
    try {
      let first = records.at(0);
      if (first === undefined || first === END_OF_DATA) {
        await records.reread(0);
        first = readRecord(records.bytes as Uint8Array, 0);
      }
      if (!first.ok || first.type !== RECORD_SEGMENT_HEADER) {
        throw corrupt(
          path,
          0,
          first.ok ? `record type ${first.type} where the segment header belongs` : first.reason,
        );
      }
      const header = decodeOr(path, 0, () => decodeSegmentHeader(first.payload));
      if (header.seq !== seq || header.prevIndex + 1 !== firstIndex) {
        throw corrupt(
          path,
          0,
          `segment header (seq ${header.seq}, prevIndex ${header.prevIndex}) does not match the file name`,
        );
      }
      if (i === 0) {
        last = header.prevIndex;
        logFirst = last + 1;
        hardState = header.hardState;
        marker = header.marker;
      } else if (header.prevIndex !== last) {
        throw corrupt(
          path,
          0,
          `segment starts after index ${header.prevIndex} but the log before it ends at ${last}`,
        );
      }
      const segment: Segment = { seq, name, maxIndex: header.prevIndex };
      segments.headerSize = first.next;
      segments.list.push(segment);
      let offset = first.next;
      // Zeros to the end are space allocated ahead of the records, not a record (none has length 0 or type 0).
      for (;;) {
        const record = records.at(offset) ?? (await records.reread(offset));
        if (record === END_OF_DATA) break;
        if (!record.ok) {
          const bytes = records.bytes as Uint8Array;
          const following = findValidRecord(bytes, offset);
          if (i === names.length - 1 && following < 0) {
            tornAt = { path, offset, size: endOfData(bytes), reason: record.reason };
            break;
          }
          throw corrupt(
            path,
            offset,
            `${record.reason}, ${following >= 0 ? `and a valid record follows at offset ${following}` : 'and it is not the last segment'}`,
          );
        }
        if (record.type !== RECORD_BATCH)
          throw corrupt(path, offset, `unexpected record type ${record.type}`);
        const ops = decodeOr(path, offset, () => decodeBatch(record.payload));
        for (const op of ops) {
          if (op.marker) {
            marker = op.marker;
            last = op.marker.index;
            log = [];
            logFirst = last + 1;
          }
          if (op.entries.length > 0) {
            const from = op.entries[0].index;
            if (from > last + 1) throw corrupt(path, offset, `gap in the log: index ${last} then ${from}`);
            if (from < logFirst) {
              log = [];
              logFirst = from;
            } else {
              log.length = from - logFirst;
            }
            for (const e of op.entries) log.push(keep(e));
            last = op.entries[op.entries.length - 1].index;
          }
          if (op.hardState) hardState = op.hardState;
          segment.maxIndex = Math.max(segment.maxIndex, last);
        }
        offset = record.next;
      }
      end = tornAt ? tornAt.offset : offset;
    } finally {
      records.close();
      window = records.window;
    }
  }

  const tail = names[names.length - 1];
  const active = await segments.activate(tail.name);
  if (tornAt) {
    await active.truncate(tornAt.offset);
    await active.sync();
    segments.allocated = tornAt.offset;
    logger.warn('file WAL: truncated a torn tail (a write cut short by a crash)', {
      file: tornAt.path,
      offset: tornAt.offset,
      droppedBytes: tornAt.size - tornAt.offset,
      reason: tornAt.reason,
    });
  }
  segments.size = end;

  // Reconcile with the newest snapshot file.
  if (marker && base < marker.index) {
    throw new Error(
      `file WAL: the log was reset by a snapshot at index ${marker.index}, but the newest snapshot file in ` +
        `${snapDir} is ${snapshot ? `at index ${base}` : 'missing'}; refusing to load`,
    );
  }
  let reset = false;
  if (snapshot) {
    const at = base >= logFirst && base <= last ? log[base - logFirst] : undefined;
    if ((at && at.term !== snapshot.metadata.term) || last < base) {
      // A received snapshot whose WAL marker did not survive: finish replacing the log with it.
      logger.warn('file WAL: completing an interrupted snapshot install; entries after it discarded', {
        snapshotIndex: base,
        snapshotTerm: snapshot.metadata.term,
        lastIndex: last,
      });
      reset = true;
      log = [];
      last = base;
      logFirst = base + 1;
      marker = { index: base, term: snapshot.metadata.term };
    }
  }
  if (last > base && logFirst > base + 1) {
    throw new Error(
      `file WAL: entries ${base + 1} to ${logFirst - 1} are missing (the oldest segment, ${names[0].name}, ` +
        `starts after index ${logFirst - 1}, the newest snapshot is at ${base}); refusing to load`,
    );
  }
  const durable = Math.max(last, base);
  if (hardState.commit > durable) {
    logger.warn('file WAL: hard state commit beyond the last durable entry; clamped', {
      commit: hardState.commit,
      lastIndex: durable,
    });
    hardState = { ...hardState, commit: durable };
  }
  if (reset) {
    const record = ctx.writer.frame(
      RECORD_BATCH,
      encodeBatch([{ marker, entries: [], hardState: undefined }]),
    );
    await segments.append(record);
    const newest = segments.list[segments.list.length - 1];
    newest.maxIndex = Math.max(newest.maxIndex, last);
  }
  const from = Math.max(0, base + 1 - logFirst);
  return {
    loaded: { hardState: { ...hardState }, snapshot, entries: log.slice(from) },
    logLast: last,
    hardState,
    marker,
  };
}
