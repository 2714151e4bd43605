// msgpack payloads of the WAL and snapshot records (layouts in index.ts). Decoders validate every field: a
// payload whose CRC matched but whose shape is wrong is corruption (or a bug) and must not load.

import { Decoder, Encoder } from '@msgpack/msgpack';
import type {
  Entry,
  EntryType,
  HardState,
  NodeId,
  Snapshot,
  SnapshotMetadata,
} from '../../../src/raft/types.ts';
import type { SnapshotSource } from '../../../src/storage.ts';

export const FORMAT_VERSION = 1;

/** Where a received snapshot reset the log (the WAL's snapshot marker). */
export interface SnapshotMarker {
  readonly index: number;
  readonly term: number;
}

/** The state carried at the start of every segment, so deleting older segments loses nothing still needed. */
export interface SegmentHeader {
  readonly seq: number;
  /** The last log index when the segment was created: its first entry is at most prevIndex + 1. */
  readonly prevIndex: number;
  readonly hardState: HardState;
  readonly marker: SnapshotMarker | undefined;
}

/** One `save`: applied in order snapshot marker, entries, hard state. */
export interface BatchOp {
  readonly marker: SnapshotMarker | undefined;
  readonly entries: readonly Entry[];
  readonly hardState: HardState | undefined;
}

const encoder = new Encoder({ useBigInt64: true });
const decoder = new Decoder({ useBigInt64: true });

/** The encoding, in the encoder's shared buffer: valid until the next encode. */
function encodeShared(value: unknown): Uint8Array {
  return encoder.encodeSharedRef(value);
}

function hardStateTuple(hs: HardState): unknown[] {
  return [hs.term, hs.vote, hs.commit];
}

export function encodeSegmentHeader(header: SegmentHeader): Uint8Array {
  const { seq, prevIndex, hardState, marker } = header;
  return encodeShared([
    FORMAT_VERSION,
    seq,
    prevIndex,
    hardStateTuple(hardState),
    marker ? [marker.index, marker.term] : null,
  ]);
}

export function encodeBatch(ops: readonly BatchOp[]): Uint8Array {
  return encodeShared(
    ops.map((op) => {
      const flat: unknown[] = [];
      for (const e of op.entries) flat.push(e.term, e.type === 'confChange' ? 1 : 0, e.data);
      return [
        op.marker ? [op.marker.index, op.marker.term] : null,
        op.entries.length > 0 ? op.entries[0].index : 0,
        flat,
        op.hardState ? hardStateTuple(op.hardState) : null,
      ];
    }),
  );
}

export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const { index, term, confState } = snapshot.metadata;
  return encodeShared([index, term, confState.voters, confState.learners, snapshot.data]);
}

/**
 * encodeSnapshot's bytes before the snapshot's data: `prefix ‖ data` is the whole encoding, so a large snapshot
 * can be written without copying its data (msgpack: a 5-element array whose last element is a bin).
 */
export function encodeSnapshotPrefix(snapshot: Snapshot | SnapshotSource): Uint8Array {
  const { index, term, confState } = snapshot.metadata;
  const head = encodeShared([index, term, confState.voters, confState.learners]);
  const n = 'data' in snapshot ? snapshot.data.length : snapshot.size;
  const bin =
    n < 0x100
      ? [0xc4, n]
      : n < 0x10000
        ? [0xc5, n >>> 8, n & 0xff]
        : [0xc6, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  const out = new Uint8Array(head.length + bin.length);
  out.set(head, 0);
  out[0] = 0x95; // fixarray of 5 instead of 4
  out.set(bin, head.length);
  return out;
}

// Decoding: each decoder throws a plain Error naming what is malformed; callers add the file and offset.

class Malformed extends Error {}

function fail(what: string): never {
  throw new Malformed(`malformed ${what}`);
}

function arrayOf(value: unknown, what: string, length?: number): unknown[] {
  if (!Array.isArray(value) || (length !== undefined && value.length !== length)) fail(what);
  return value;
}

function index(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(what);
  return value;
}

function nodeId(value: unknown, what: string): NodeId {
  if (typeof value !== 'bigint' || value < 0n) fail(what);
  return value;
}

function bytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) fail(what);
  return value;
}

function decodeHardState(value: unknown): HardState {
  const [term, vote, commit] = arrayOf(value, 'hard state', 3);
  return {
    term: index(term, 'hard state term'),
    vote: nodeId(vote, 'vote'),
    commit: index(commit, 'commit'),
  };
}

function decodeMarker(value: unknown): SnapshotMarker | undefined {
  if (value === null) return undefined;
  const [i, t] = arrayOf(value, 'snapshot marker', 2);
  return { index: index(i, 'marker index'), term: index(t, 'marker term') };
}

export function decodeSegmentHeader(payload: Uint8Array): SegmentHeader {
  const [version, seq, prevIndex, hs, marker] = arrayOf(decoder.decode(payload), 'segment header', 5);
  if (version !== FORMAT_VERSION) fail(`segment header: unsupported format version ${String(version)}`);
  return {
    seq: index(seq, 'segment sequence'),
    prevIndex: index(prevIndex, 'segment prevIndex'),
    hardState: decodeHardState(hs),
    marker: decodeMarker(marker),
  };
}

/** Entry data are views into `payload`: copy what outlives it. */
export function decodeBatch(payload: Uint8Array): BatchOp[] {
  return arrayOf(decoder.decode(payload), 'batch').map((value) => {
    const [marker, first, flat, hs] = arrayOf(value, 'batch operation', 4);
    const firstIndex = index(first, 'first index');
    const list = arrayOf(flat, 'entries');
    if (list.length % 3 !== 0) fail('entries');
    const entries: Entry[] = [];
    for (let i = 0; i < list.length; i += 3) {
      const type: EntryType =
        list[i + 1] === 1 ? 'confChange' : list[i + 1] === 0 ? 'normal' : fail('entry type');
      entries.push({
        term: index(list[i], 'entry term'),
        index: firstIndex + i / 3,
        type,
        data: bytes(list[i + 2], 'entry data'),
      });
    }
    return {
      marker: decodeMarker(marker),
      entries,
      hardState: hs === null ? undefined : decodeHardState(hs),
    };
  });
}

export function decodeSnapshot(payload: Uint8Array): Snapshot {
  const [i, t, voters, learners, data] = arrayOf(decoder.decode(payload), 'snapshot', 5);
  return {
    metadata: {
      index: index(i, 'snapshot index'),
      term: index(t, 'snapshot term'),
      confState: {
        voters: arrayOf(voters, 'voters').map((v) => nodeId(v, 'voter')),
        learners: arrayOf(learners, 'learners').map((v) => nodeId(v, 'learner')),
      },
    },
    // A view into the payload (the caller's own copy of the file, read for this): a keyspace of hundreds of MB is
    // not copied a second time.
    data: bytes(data, 'snapshot data'),
  };
}

/**
 * The metadata of an encoded snapshot from its first bytes (`head`), and where its data starts and how long it is:
 * a large snapshot's data is then read piece by piece. Undefined when `head` does not hold all of the prefix as
 * encodeSnapshotPrefix writes it (the caller reads the whole payload instead); throws when it is malformed.
 */
export function decodeSnapshotHead(
  head: Uint8Array,
): { metadata: SnapshotMetadata; dataOffset: number; dataLength: number } | undefined {
  if (head[0] !== 0x95) fail('snapshot');
  const values: unknown[] = [];
  try {
    for (const value of decoder.decodeMulti(head.subarray(1))) {
      values.push(value);
      if (values.length === 4) break;
    }
  } catch {
    return undefined; // cut short by the end of `head`, or not what the prefix writer writes: decoded whole
  }
  if (values.length < 4) return undefined;
  const [i, t, voters, learners] = values;
  const metadata: SnapshotMetadata = {
    index: index(i, 'snapshot index'),
    term: index(t, 'snapshot term'),
    confState: {
      voters: arrayOf(voters, 'voters').map((v) => nodeId(v, 'voter')),
      learners: arrayOf(learners, 'learners').map((v) => nodeId(v, 'learner')),
    },
  };
  // The four values took exactly the bytes their encoding takes: the data's bin header follows them.
  const encoded = encodeShared([
    metadata.index,
    metadata.term,
    metadata.confState.voters,
    metadata.confState.learners,
  ]);
  for (let k = 1; k < encoded.length; k++) if (head[k] !== encoded[k]) return undefined;
  const at = encoded.length;
  if (head.length <= at) return undefined;
  const kind = head[at];
  const size = kind === 0xc4 ? 1 : kind === 0xc5 ? 2 : kind === 0xc6 ? 4 : 0;
  if (size === 0) fail('snapshot data');
  if (head.length < at + 1 + size) return undefined;
  let dataLength = 0;
  for (let k = 1; k <= size; k++) dataLength = dataLength * 256 + head[at + k];
  return { metadata, dataOffset: at + 1 + size, dataLength };
}

/** Why `entries` cannot be appended after index `last`, or undefined. */
export function checkAppend(entries: readonly Entry[], last: number): string | undefined {
  if (entries.length === 0) return undefined;
  for (let i = 1; i < entries.length; i++) {
    if (entries[i].index !== entries[i - 1].index + 1) {
      return `entries not contiguous at index ${entries[i - 1].index}`;
    }
  }
  const first = entries[0].index;
  if (first < 1) return `entry index ${first} is below 1`;
  if (first > last + 1) return `gap in log: last stored index ${last}, batch starts at ${first}`;
  return undefined;
}
