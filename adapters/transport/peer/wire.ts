// The peer wire format every medium carries (TCP, WebSocket; HTTP batches hold its messages): a connection
// preamble, length-prefixed msgpack frames, the handshake and its reply, and Message encoding. The protocol is
// described in ./README.md. Nothing here does I/O. Browser-safe.

import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Message, MessageType, NodeId } from '../../../src/raft/types.ts';
import { BINARY_MESSAGE_TAG, decodeBinaryMessage, snapshotChunk } from './message-codec.ts';

/** First bytes of every peer connection: 0x89 'E' 'D' 'C'. The high first byte never starts a text protocol. */
export const MAGIC = Uint8Array.of(0x89, 0x45, 0x44, 0x43);
/** 2: messages in the binary layout of ./message-codec.ts (1 sent them as msgpack maps). */
export const PROTOCOL_VERSION = 2;
/** Magic (4 bytes) + protocol version (u32 big-endian). */
export const PREAMBLE_BYTES = 8;
export const FRAME_HEADER_BYTES = 4;
/** Default largest frame payload accepted from an established peer. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Largest handshake or handshake reply: nothing big is allocated for an unauthenticated connection. */
export const MAX_HANDSHAKE_BYTES = 4096;

export interface Handshake {
  readonly cluster: bigint;
  /** The dialer's member ID. */
  readonly from: NodeId;
  /** The member ID the dialer expects to reach. */
  readonly to: NodeId;
  /**
   * False when the dialer cannot be dialed back (a browser): the acceptor then sends its own messages to the
   * dialer as frames on this same connection (a reverse link). Absent means true.
   */
  readonly listens?: boolean;
}

export type RefusalCode = 'version' | 'cluster' | 'member' | 'target' | 'malformed';

export type HandshakeReply =
  /**
   * `leases`: the acceptor takes lease messages (./lease-codec.ts); `leaseTtl`: their TimeToLive types too.
   * Acceptors that predate them leave them out.
   */
  | { readonly ok: true; readonly leases?: true; readonly leaseTtl?: true }
  | { readonly ok: false; readonly code: RefusalCode; readonly reason: string };

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

/** One frame: u32 big-endian payload length, then the msgpack payload. */
export function encodeFrame(value: unknown): Uint8Array {
  const payload = encoder.encodeSharedRef(value);
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.length);
  new DataView(frame.buffer).setUint32(0, payload.length);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

export function encodePreamble(version: number = PROTOCOL_VERSION): Uint8Array {
  const preamble = new Uint8Array(PREAMBLE_BYTES);
  preamble.set(MAGIC, 0);
  new DataView(preamble.buffer).setUint32(MAGIC.length, version >>> 0);
  return preamble;
}

/** What a dialer writes first: the preamble and the handshake frame. */
export function encodeHello(handshake: Handshake, version: number = PROTOCOL_VERSION): Uint8Array {
  const frame = encodeFrame(handshake);
  const hello = new Uint8Array(PREAMBLE_BYTES + frame.length);
  hello.set(encodePreamble(version), 0);
  hello.set(frame, PREAMBLE_BYTES);
  return hello;
}

/** The protocol version in a preamble whose magic has been checked. */
export function preambleVersion(preamble: Uint8Array): number {
  return new DataView(preamble.buffer, preamble.byteOffset, PREAMBLE_BYTES).getUint32(MAGIC.length);
}

export function hasMagic(bytes: Uint8Array): boolean {
  return MAGIC.every((b, i) => bytes[i] === b);
}

export class FrameTooLargeError extends Error {
  readonly length: number;
  constructor(length: number, max: number) {
    super(`frame of ${length} bytes exceeds the limit of ${max}`);
    this.length = length;
  }
}

/**
 * Splits a byte stream into frame payloads. Each payload is a fresh copy: decoded byte fields view into it, and a
 * Raft entry kept in memory must not pin a whole socket read.
 */
export class FrameReader {
  maxFrameBytes: number;
  private readonly chunks: Uint8Array[] = [];
  private buffered = 0;
  /** Payload length of the frame being read, once its header is in; -1 before. */
  private need = -1;

  constructor(maxFrameBytes: number) {
    this.maxFrameBytes = maxFrameBytes;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** Adds `chunk`; returns the frames completed. Throws FrameTooLargeError before buffering an oversized frame. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Uint8Array[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < FRAME_HEADER_BYTES) break;
        const header = this.take(FRAME_HEADER_BYTES);
        const length = new DataView(header.buffer, header.byteOffset, FRAME_HEADER_BYTES).getUint32(0);
        if (length > this.maxFrameBytes) throw new FrameTooLargeError(length, this.maxFrameBytes);
        this.need = length;
      }
      if (this.buffered < this.need) break;
      frames.push(this.take(this.need));
      this.need = -1;
    }
    return frames;
  }

  /** Removes and returns the first `n` buffered bytes as a new array. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[0];
      const part = Math.min(n - filled, chunk.length);
      out.set(part === chunk.length ? chunk : chunk.subarray(0, part), filled);
      filled += part;
      if (part === chunk.length) this.chunks.shift();
      else this.chunks[0] = chunk.subarray(part);
    }
    this.buffered -= n;
    return out;
  }
}

export class ProtocolError extends Error {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function decodeHandshake(payload: Uint8Array): Handshake {
  const value = decode(payload);
  if (
    !isRecord(value) ||
    typeof value.cluster !== 'bigint' ||
    typeof value.from !== 'bigint' ||
    typeof value.to !== 'bigint'
  ) {
    throw new ProtocolError('malformed handshake');
  }
  const hello: Handshake = { cluster: value.cluster, from: value.from, to: value.to };
  return value.listens === false ? { ...hello, listens: false } : hello;
}

export function decodeHandshakeReply(payload: Uint8Array): HandshakeReply {
  const value = decode(payload);
  if (!isRecord(value) || typeof value.ok !== 'boolean') throw new ProtocolError('malformed handshake reply');
  if (value.ok) {
    if (value.leases !== true) return { ok: true };
    return value.leaseTtl === true ? { ok: true, leases: true, leaseTtl: true } : { ok: true, leases: true };
  }
  const code = typeof value.code === 'string' ? (value.code as RefusalCode) : 'malformed';
  return { ok: false, code, reason: typeof value.reason === 'string' ? value.reason : 'refused' };
}

/**
 * A Message from a frame payload. msgpack with useBigInt64 gives back every int64/uint64-coded integer as a
 * bigint, and a number ≥ 2^32 is coded that way, so the number fields are turned back into numbers here.
 */
export function decodeMessage(payload: Uint8Array): Message {
  if (payload[0] === BINARY_MESSAGE_TAG) {
    try {
      return decodeBinaryMessage(payload);
    } catch (error) {
      throw new ProtocolError((error as Error).message);
    }
  }
  const value = decode(payload);
  if (
    !isRecord(value) ||
    typeof value.type !== 'string' ||
    typeof value.from !== 'bigint' ||
    typeof value.to !== 'bigint'
  ) {
    throw new ProtocolError('malformed message');
  }
  numbers(value, MESSAGE_NUMBER_FIELDS);
  if (Array.isArray(value.entries)) {
    for (const entry of value.entries) if (isRecord(entry)) numbers(entry, ENTRY_NUMBER_FIELDS);
  }
  if ('snapshot' in value) {
    try {
      value.snapshot = snapshotChunk(value.snapshot);
    } catch (error) {
      throw new ProtocolError((error as Error).message);
    }
  }
  checkMessage(value);
  return value as unknown as Message;
}

/** Every type Raft defines; the local ones (MsgHup, …) pass here and are dropped by RawNode.step. */
// biome-ignore format: a table
const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  'MsgHup', 'MsgBeat', 'MsgProp', 'MsgApp', 'MsgAppResp', 'MsgVote', 'MsgVoteResp', 'MsgPreVote', 'MsgPreVoteResp',
  'MsgSnap', 'MsgSnapResp', 'MsgHeartbeat', 'MsgHeartbeatResp', 'MsgUnreachable', 'MsgCheckQuorum',
  'MsgTransferLeader', 'MsgTimeoutNow', 'MsgReadIndex', 'MsgReadIndexResp',
]);

const isCount = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown) => typeof v === 'bigint' && v >= 0n;

/**
 * Refuses a message Raft could not trust its types in (found by test/fuzz/peer-wire.test.ts: a term of -1, a
 * snapshot of 0, an entry without data all reached Raft). Absent fields are absent: our encoder never sends null.
 */
function checkMessage(m: Record<string, unknown>): void {
  const check = (ok: boolean, field: string) => {
    if (!ok) throw new ProtocolError(`malformed message: ${field}`);
  };
  const optional = (field: string, ok: (v: unknown) => boolean) =>
    check(!(field in m) || ok(m[field]), field);
  check(MESSAGE_TYPES.has(m.type as string), 'type');
  check(isId(m.from) && isId(m.to), 'from/to');
  check(isCount(m.term), 'term');
  for (const field of ['index', 'logTerm', 'commit', 'rejectHint', 'offset']) optional(field, isCount);
  optional('reject', (v) => typeof v === 'boolean');
  optional('transfer', (v) => typeof v === 'boolean');
  optional('context', (v) => v instanceof Uint8Array);
  // A proposal's entries get their term and index from the leader that appends them.
  const proposal = m.type === 'MsgProp';
  optional('entries', (v) => Array.isArray(v) && v.every((e) => isEntry(e, proposal)));
}

function isEntry(e: unknown, proposal: boolean): boolean {
  const placed = (v: unknown) => isCount(v) || (proposal && v === undefined);
  return (
    isRecord(e) &&
    placed(e.term) &&
    placed(e.index) &&
    (e.type === 'normal' || e.type === 'confChange') &&
    e.data instanceof Uint8Array
  );
}

const MESSAGE_NUMBER_FIELDS = ['term', 'index', 'logTerm', 'commit', 'rejectHint', 'offset'] as const;
const ENTRY_NUMBER_FIELDS = ['term', 'index'] as const;

function numbers(record: Record<string, unknown>, fields: readonly string[]): void {
  for (const field of fields) {
    const v = record[field];
    if (typeof v !== 'bigint') continue;
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new ProtocolError(`malformed message: ${field} out of range`);
    }
    record[field] = Number(v);
  }
}

function decode(payload: Uint8Array): unknown {
  try {
    return decoder.decode(payload);
  } catch (error) {
    throw new ProtocolError(`undecodable frame: ${(error as Error).message}`);
  }
}

/** Member IDs are logged in hex, as etcd does. */
export function formatId(id: NodeId): string {
  return id.toString(16);
}
