// Lease messages (src/transport.ts LeaseMessage: a keep-alive a follower forwards to the leader, and the answer)
// as frames on the peer links, beside Raft messages. Sent only to an acceptor whose handshake reply said it takes
// them (`leases: true`); a member from before them would close the connection on this tag. Layout in ./README.md.
// Nothing here does I/O. Browser-safe.

import type { LeaseMessage } from '../../../src/transport.ts';

/** First byte of a lease message payload (a Raft message starts with 0xB2, a msgpack map never with either). */
export const LEASE_MESSAGE_TAG = 0xb3;

const TYPES = ['renew', 'renewed', 'notFound', 'retry'] as const;
/** tag, type, from, to (u64 each), request (u32), lease (i64). */
const FIXED_BYTES = 1 + 1 + 8 + 8 + 4 + 8;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;

export class LeaseCodecError extends Error {}

/** One frame (u32 big-endian payload length, then the payload) holding `m`. Throws on a value out of range. */
export function encodeLeaseFrame(m: LeaseMessage): Uint8Array {
  const type = TYPES.indexOf(m.type);
  const value = m.type === 'renew' ? m.applied : m.type === 'renewed' ? m.ttl : undefined;
  const ok =
    type >= 0 &&
    isU64(m.from) &&
    isU64(m.to) &&
    Number.isInteger(m.request) &&
    m.request >= 0 &&
    m.request <= 0xffffffff &&
    m.lease >= MIN_INT64 &&
    m.lease <= MAX_INT64 &&
    (value === undefined || isCount(value));
  if (!ok) throw new LeaseCodecError(`lease message out of range (${m.type})`);
  const size = FIXED_BYTES + (value === undefined ? 0 : 8);
  const frame = new Uint8Array(4 + size);
  const view = new DataView(frame.buffer);
  view.setUint32(0, size);
  frame[4] = LEASE_MESSAGE_TAG;
  frame[5] = type;
  view.setBigUint64(6, m.from, true);
  view.setBigUint64(14, m.to, true);
  view.setUint32(22, m.request, true);
  view.setBigInt64(26, m.lease, true);
  if (value !== undefined) view.setFloat64(34, value, true);
  return frame;
}

/** The lease message in a frame payload; throws LeaseCodecError on anything else (wrong size, type, number). */
export function decodeLeaseMessage(payload: Uint8Array): LeaseMessage {
  if (payload.length < FIXED_BYTES || payload[0] !== LEASE_MESSAGE_TAG)
    throw new LeaseCodecError('malformed lease message');
  const type = TYPES[payload[1]];
  const withValue = type === 'renew' || type === 'renewed';
  if (type === undefined || payload.length !== FIXED_BYTES + (withValue ? 8 : 0))
    throw new LeaseCodecError(`malformed lease message: type ${payload[1]}, ${payload.length} bytes`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const header = {
    from: view.getBigUint64(2, true),
    to: view.getBigUint64(10, true),
    request: view.getUint32(18, true),
    lease: view.getBigInt64(22, true),
  };
  if (!withValue) return { ...header, type };
  const value = view.getFloat64(30, true);
  if (!isCount(value)) throw new LeaseCodecError(`malformed lease message: ${value}`);
  return type === 'renew' ? { ...header, type, applied: value } : { ...header, type, ttl: value };
}

const isCount = (v: number) => Number.isSafeInteger(v) && v >= 0;
const isU64 = (v: bigint) => typeof v === 'bigint' && v >= 0n && v <= MAX_UINT64;
