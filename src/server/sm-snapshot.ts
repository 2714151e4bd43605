// The state machine's snapshot bytes (what a Raft snapshot carries). Format 2:
//
//   "ESM2"  metaLength u32 (little-endian)  meta  keyspace
//
// where meta is msgpack of { appliedIndex, lessor, members, dedup, alarms, auth } and the keyspace is the MVCC
// snapshot (src/mvcc/snapshot-binary.ts) to the end. The keyspace comes last and unwrapped so that it can be
// written in place, in steps, while the member goes on (a million keys are hundreds of MB: copying them once more
// into a msgpack map, as format 1 did, cost as much as writing them). Format 1 (one msgpack map with the keyspace
// inside, what earlier versions wrote and snapshot restore still builds) is read too.

import { decode, encode } from '@msgpack/msgpack';
import type { AuthState } from '../auth/auth-store.ts';
import { type ByteReader, ByteWindow, readRest } from '../mvcc/byte-reader.ts';
import type { SnapshotWriter } from '../mvcc/snapshot-binary.ts';

const MAGIC = [0x45, 0x53, 0x4d, 0x32]; // "ESM2"
const PREFIX_BYTES = 8;
/** What is read ahead for the metadata of a snapshot read piece by piece (the keyspace's window takes the rest). */
const META_WINDOW_BYTES = 64 * 1024;

/**
 * Everything in a state machine's snapshot; `mvcc` may be a view into the snapshot's bytes, or the rest of the
 * snapshot being read piece by piece.
 */
export interface StateMachineParts {
  readonly appliedIndex: number;
  readonly mvcc: Uint8Array | ByteReader;
  readonly lessor: Uint8Array;
  readonly members: unknown;
  readonly dedup: unknown;
  readonly alarms?: unknown;
  readonly auth?: AuthState;
}

/** A keyspace captured at one revision, to be written later (MvccStore.captureSnapshot). */
export interface CapturedKeyspace {
  readonly size: number;
  writer(out: Uint8Array, offset: number): SnapshotWriter;
  chunks(): { fill(out: Uint8Array): number };
}

/** A state machine snapshot handed out piece by piece (SnapshotSource's data: size and fill). */
export interface SnapshotPieces {
  readonly size: number;
  fill(out: Uint8Array): number;
}

/** A state machine snapshot being written: `bytes` is complete once `step` has returned true. */
export interface SnapshotInProgress {
  readonly bytes: Uint8Array;
  /** Writes up to `budget` more keyspace records; true when done. */
  step(budget: number): boolean;
}

export function writeStateMachineSnapshot(
  parts: Omit<StateMachineParts, 'mvcc'>,
  keyspace: CapturedKeyspace,
): SnapshotInProgress {
  const prefix = encodePrefix(parts);
  const bytes = new Uint8Array(prefix.length + keyspace.size);
  bytes.set(prefix, 0);
  const writer = keyspace.writer(bytes, prefix.length);
  return { bytes, step: (budget) => writer.step(budget) };
}

/** The same bytes as writeStateMachineSnapshot, into successive buffers, never one of the whole size. */
export function streamStateMachineSnapshot(
  parts: Omit<StateMachineParts, 'mvcc'>,
  keyspace: CapturedKeyspace,
): SnapshotPieces {
  const prefix = encodePrefix(parts);
  const chunks = keyspace.chunks();
  let given = 0;
  return {
    size: prefix.length + keyspace.size,
    fill(out) {
      if (given >= prefix.length) return chunks.fill(out);
      const n = Math.min(prefix.length - given, out.length);
      out.set(prefix.subarray(given, given + n), 0);
      given += n;
      return n;
    },
  };
}

/** Magic, the metadata's length and the metadata: what precedes the keyspace. */
function encodePrefix(parts: Omit<StateMachineParts, 'mvcc'>): Uint8Array {
  const meta = encode(
    {
      appliedIndex: parts.appliedIndex,
      lessor: parts.lessor,
      members: parts.members,
      dedup: parts.dedup,
      alarms: parts.alarms,
      auth: parts.auth,
    },
    { useBigInt64: true },
  );
  const prefix = new Uint8Array(PREFIX_BYTES + meta.length);
  prefix.set(MAGIC, 0);
  new DataView(prefix.buffer).setUint32(4, meta.length, true);
  prefix.set(meta, PREFIX_BYTES);
  return prefix;
}

/**
 * Reads either format, in memory or piece by piece (the keyspace then comes as the reader of the rest); throws a
 * plain Error naming what is wrong.
 */
export function readStateMachineSnapshot(data: Uint8Array | ByteReader): StateMachineParts {
  const whole = data instanceof Uint8Array;
  const input = whole ? ByteWindow.whole(data) : ByteWindow.over(data, META_WINDOW_BYTES);
  if (input.need(PREFIX_BYTES) && MAGIC.every((b, i) => input.bytes[i] === b)) {
    const metaLength = input.view.getUint32(4, true);
    if (!input.need(PREFIX_BYTES + metaLength))
      throw new Error('state machine snapshot: metadata past the end');
    const meta = decode(input.bytes.subarray(PREFIX_BYTES, PREFIX_BYTES + metaLength), {
      useBigInt64: true,
    });
    input.at = PREFIX_BYTES + metaLength;
    return checked({ ...(meta as object), mvcc: whole ? data.subarray(input.at) : input.rest() });
  }
  // Format 1 is one msgpack map, decoded whole.
  return checked(decode(whole ? data : readRest(input.rest(), input.left), { useBigInt64: true }));
}

function checked(d: unknown): StateMachineParts {
  const parts = d as Partial<StateMachineParts> | null;
  if (!parts || typeof parts !== 'object') throw new Error('state machine snapshot: not a map');
  if (!(parts.mvcc instanceof Uint8Array || isReader(parts.mvcc)) || !(parts.lessor instanceof Uint8Array)) {
    throw new Error('state machine snapshot: no keyspace or leases');
  }
  return parts as StateMachineParts;
}

function isReader(x: unknown): x is ByteReader {
  return typeof (x as ByteReader | undefined)?.read === 'function';
}
