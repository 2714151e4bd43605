// Raft messages in binary (peer protocol version 2): the hot path of every peer link. A message used to travel as
// a msgpack map, whose field names were encoded and decoded with every append and acknowledgement (~5% of a
// member's CPU under load); here the layout is fixed, the numbers are float64 (exact for every safe integer), and an
// entry's data is one length-prefixed copy. Snapshot chunks, rare and large, keep msgpack inside. Layout in
// ./README.md. Nothing here does I/O. Browser-safe.

import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Entry, Message, MessageType, SnapshotChunk } from '../../../src/raft/types.ts';

/** First byte of a binary message payload. A msgpack-encoded message (a map) never starts with it. */
export const BINARY_MESSAGE_TAG = 0xb2;

// biome-ignore format: a table
const TYPES: readonly MessageType[] = [
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgPreVote', 'MsgPreVoteResp',
  'MsgSnap', 'MsgSnapResp', 'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgUnreachable', 'MsgCheckQuorum',
  'MsgTransferLeader', 'MsgTimeoutNow', 'MsgReadIndex', 'MsgReadIndexResp',
];
const TYPE_CODES = new Map<MessageType, number>(TYPES.map((t, i) => [t, i]));

/** The optional number fields, in the order they follow `term`; bit i of the flags says field i is present. */
const NUMBER_FIELDS = ['index', 'logTerm', 'commit', 'rejectHint', 'offset'] as const;
const REJECT = 1 << 5;
const REJECT_TRUE = 1 << 6;
const TRANSFER = 1 << 7;
const TRANSFER_TRUE = 1 << 8;
const CONTEXT = 1 << 9;
const ENTRIES = 1 << 10;
const SNAPSHOT = 1 << 11;
const KNOWN_FLAGS = (1 << 12) - 1;
/** tag, type, flags (u16), from, to (u64 each), term (f64). */
const FIXED_BYTES = 1 + 1 + 2 + 8 + 8 + 8;
/** term, index (f64 each; NaN for a proposal's unplaced entry), type (u8), data length (u32). */
const ENTRY_FIXED_BYTES = 8 + 8 + 1 + 4;

const snapshotEncoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const snapshotDecoder = new Decoder({ useBigInt64: true });

export class MessageCodecError extends Error {}

/**
 * One frame (u32 big-endian payload length, then the payload) holding `m` in the binary layout. Copies every byte
 * array: the caller may reuse them once this returns.
 */
export function encodeMessageFrame(m: Message): Uint8Array {
  const type = TYPE_CODES.get(m.type);
  if (type === undefined) throw new MessageCodecError(`unknown message type ${m.type}`);
  let flags = 0;
  let size = 4 + FIXED_BYTES;
  for (let i = 0; i < NUMBER_FIELDS.length; i++) {
    if (m[NUMBER_FIELDS[i]] !== undefined) {
      flags |= 1 << i;
      size += 8;
    }
  }
  if (m.reject !== undefined) flags |= m.reject ? REJECT | REJECT_TRUE : REJECT;
  if (m.transfer !== undefined) flags |= m.transfer ? TRANSFER | TRANSFER_TRUE : TRANSFER;
  if (m.context !== undefined) {
    flags |= CONTEXT;
    size += 4 + m.context.length;
  }
  if (m.entries !== undefined) {
    flags |= ENTRIES;
    size += 4;
    for (const e of m.entries) size += ENTRY_FIXED_BYTES + e.data.length;
  }
  let snapshot: Uint8Array | undefined;
  if (m.snapshot !== undefined) {
    flags |= SNAPSHOT;
    snapshot = snapshotEncoder.encode(m.snapshot);
    size += 4 + snapshot.length;
  }
  const frame = new Uint8Array(size);
  const view = new DataView(frame.buffer);
  view.setUint32(0, size - 4);
  frame[4] = BINARY_MESSAGE_TAG;
  frame[5] = type;
  view.setUint16(6, flags, true);
  view.setBigUint64(8, m.from, true);
  view.setBigUint64(16, m.to, true);
  view.setFloat64(24, m.term, true);
  let at = 4 + FIXED_BYTES;
  for (const field of NUMBER_FIELDS) {
    const v = m[field];
    if (v === undefined) continue;
    view.setFloat64(at, v, true);
    at += 8;
  }
  const bytes = (data: Uint8Array) => {
    view.setUint32(at, data.length, true);
    frame.set(data, at + 4);
    at += 4 + data.length;
  };
  if (m.context !== undefined) bytes(m.context);
  if (m.entries !== undefined) {
    view.setUint32(at, m.entries.length, true);
    at += 4;
    for (const e of m.entries) {
      view.setFloat64(at, e.term ?? Number.NaN, true);
      view.setFloat64(at + 8, e.index ?? Number.NaN, true);
      frame[at + 16] = e.type === 'confChange' ? 1 : 0;
      at += 17;
      bytes(e.data);
    }
  }
  if (snapshot) bytes(snapshot);
  return frame;
}

/** A binary message payload (after the frame header) as a Message; byte fields view into `payload`. */
export function decodeBinaryMessage(payload: Uint8Array): Message {
  const r = new Reader(payload);
  if (r.u8() !== BINARY_MESSAGE_TAG) throw new MessageCodecError('not a binary message');
  const type = TYPES[r.u8()];
  if (type === undefined) throw new MessageCodecError('malformed message: type');
  const flags = r.u16();
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new MessageCodecError('malformed message: unknown flags');
  const m: Record<string, unknown> = { type, from: r.u64(), to: r.u64(), term: r.count('term') };
  for (let i = 0; i < NUMBER_FIELDS.length; i++) {
    if (flags & (1 << i)) m[NUMBER_FIELDS[i]] = r.count(NUMBER_FIELDS[i]);
  }
  if (flags & REJECT) m.reject = (flags & REJECT_TRUE) !== 0;
  if (flags & TRANSFER) m.transfer = (flags & TRANSFER_TRUE) !== 0;
  if (flags & CONTEXT) m.context = r.bytes();
  if (flags & ENTRIES) {
    const n = r.u32();
    // Each entry takes at least ENTRY_FIXED_BYTES: a count the payload cannot hold allocates nothing.
    if (n > r.remaining / ENTRY_FIXED_BYTES) throw new MessageCodecError('malformed message: entries');
    const entries: Entry[] = new Array(n);
    const proposal = type === 'MsgProp';
    for (let i = 0; i < n; i++) {
      const term = r.placed(proposal);
      const index = r.placed(proposal);
      const kind = r.u8();
      if (kind > 1) throw new MessageCodecError('malformed message: entry type');
      const data = r.bytes();
      const entryType = kind === 1 ? 'confChange' : 'normal';
      // A proposal's entries have no term and index yet: absent, as the msgpack form left them.
      entries[i] = (
        term === undefined || index === undefined
          ? { type: entryType, data }
          : { term, index, type: entryType, data }
      ) as Entry;
    }
    m.entries = entries;
  }
  if (flags & SNAPSHOT) m.snapshot = decodeSnapshotChunk(r.bytes());
  if (r.remaining !== 0) throw new MessageCodecError('malformed message: trailing bytes');
  return m as unknown as Message;
}

function decodeSnapshotChunk(bytes: Uint8Array): SnapshotChunk {
  let value: unknown;
  try {
    value = snapshotDecoder.decode(bytes);
  } catch (error) {
    throw new MessageCodecError(`malformed message: snapshot (${(error as Error).message})`);
  }
  return snapshotChunk(value);
}

/**
 * A msgpack-decoded snapshot chunk, checked (a record with data, offset, total, and metadata with a safe index and
 * term and a confState of member IDs) and its counts made numbers; else MessageCodecError. Both message forms
 * (binary, and version 1's msgpack in ./wire.ts) check their chunks here.
 */
export function snapshotChunk(value: unknown): SnapshotChunk {
  const s = value as Record<string, unknown> | null;
  const meta = s?.metadata as Record<string, unknown> | undefined;
  const conf = meta?.confState as Record<string, unknown> | undefined;
  const ok =
    s !== null &&
    typeof s === 'object' &&
    s.data instanceof Uint8Array &&
    conf !== undefined &&
    Array.isArray(conf.voters) &&
    conf.voters.every(isId) &&
    Array.isArray(conf.learners) &&
    conf.learners.every(isId);
  if (!ok) throw new MessageCodecError('malformed message: snapshot');
  const chunk = s as Record<string, unknown>;
  chunk.offset = count(chunk.offset, 'snapshot offset');
  chunk.total = count(chunk.total, 'snapshot total');
  (meta as Record<string, unknown>).index = count(meta?.index, 'snapshot index');
  (meta as Record<string, unknown>).term = count(meta?.term, 'snapshot term');
  return chunk as unknown as SnapshotChunk;
}

const isId = (v: unknown) => typeof v === 'bigint' && v >= 0n;

/** msgpack gives integers ≥ 2^32 back as bigints: a safe, non-negative integer as a number. */
function count(v: unknown, field: string): number {
  const n = typeof v === 'bigint' && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
    throw new MessageCodecError(`malformed message: ${field}`);
  return n;
}

/** Bounds-checked little-endian reads over one payload. */
class Reader {
  private readonly buf: Uint8Array;
  private readonly view: DataView;
  private at = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  private need(n: number): number {
    if (this.at + n > this.buf.length) throw new MessageCodecError('malformed message: truncated');
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(): number {
    return this.buf[this.need(1)];
  }

  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }

  u64(): bigint {
    return this.view.getBigUint64(this.need(8), true);
  }

  count(field: string): number {
    return count(this.view.getFloat64(this.need(8), true), field);
  }

  /** An entry's term or index: a count, or (a proposal's, not yet placed) absent. */
  placed(proposal: boolean): number | undefined {
    const v = this.view.getFloat64(this.need(8), true);
    if (proposal && Number.isNaN(v)) return undefined;
    return count(v, 'entry');
  }

  bytes(): Uint8Array {
    const n = this.u32();
    const at = this.need(n);
    return this.buf.subarray(at, at + n);
  }
}
