// Lease messages (src/transport.ts LeaseMessage: a keep-alive or a TimeToLive a follower forwards to the leader,
// and the answer) as frames on the peer links, beside Raft messages. Sent only to an acceptor whose handshake
// reply said it takes them (`leases: true`; the TimeToLive types `leaseTtl: true` too); a member from before them
// would close the connection on them. Layout in ./README.md.
// Nothing here does I/O. Browser-safe.

import type { LeaseMessage } from '../../../src/transport.ts';

/** First byte of a lease message payload (a Raft message starts with 0xB2, a msgpack map never with either). */
export const LEASE_MESSAGE_TAG = 0xb3;

const TYPES = ['renew', 'renewed', 'notFound', 'retry', 'ttl', 'ttlIs'] as const;
/** The types only an acceptor whose reply said `leaseTtl: true` takes (one from before them closes on them). */
export const LEASE_TTL_TYPES: ReadonlySet<LeaseMessage['type']> = new Set(['ttl', 'ttlIs']);
/** tag, type, from, to (u64 each), request (u32), lease (i64). */
const FIXED_BYTES = 1 + 1 + 8 + 8 + 4 + 8;
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const MAX_UINT64 = 2n ** 64n - 1n;

export class LeaseCodecError extends Error {}

/** One frame (u32 big-endian payload length, then the payload) holding `m`. Throws on a value out of range. */
export function encodeLeaseFrame(m: LeaseMessage): Uint8Array {
  const type = TYPES.indexOf(m.type);
  const value = m.type === 'renew' || m.type === 'ttl' ? m.applied : m.type === 'renewed' ? m.ttl : undefined;
  const ok =
    type >= 0 &&
    isU64(m.from) &&
    isU64(m.to) &&
    Number.isInteger(m.request) &&
    m.request >= 0 &&
    m.request <= 0xffffffff &&
    m.lease >= MIN_INT64 &&
    m.lease <= MAX_INT64 &&
    (value === undefined || isCount(value)) &&
    (m.type !== 'ttlIs' || (isTtl(m.ttl) && isCount(m.grantedTtl)));
  if (!ok) throw new LeaseCodecError(`lease message out of range (${m.type})`);
  const size = FIXED_BYTES + (m.type === 'ttlIs' ? 16 : value === undefined ? 0 : 8);
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
  if (m.type === 'ttlIs') {
    view.setFloat64(34, m.ttl, true);
    view.setFloat64(42, m.grantedTtl, true);
  }
  return frame;
}

/** The lease message in a frame payload; throws LeaseCodecError on anything else (wrong size, type, number). */
export function decodeLeaseMessage(payload: Uint8Array): LeaseMessage {
  if (payload.length < FIXED_BYTES || payload[0] !== LEASE_MESSAGE_TAG)
    throw new LeaseCodecError('malformed lease message');
  const type = TYPES[payload[1]];
  const values = type === 'ttlIs' ? 2 : type === 'renew' || type === 'renewed' || type === 'ttl' ? 1 : 0;
  if (type === undefined || payload.length !== FIXED_BYTES + 8 * values)
    throw new LeaseCodecError(`malformed lease message: type ${payload[1]}, ${payload.length} bytes`);
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const header = {
    from: view.getBigUint64(2, true),
    to: view.getBigUint64(10, true),
    request: view.getUint32(18, true),
    lease: view.getBigInt64(22, true),
  };
  if (type === 'notFound' || type === 'retry') return { ...header, type };
  const value = view.getFloat64(30, true);
  if (type === 'ttlIs') {
    const grantedTtl = view.getFloat64(38, true);
    if (!isTtl(value) || !isCount(grantedTtl))
      throw new LeaseCodecError(`malformed lease message: ${value}, ${grantedTtl}`);
    return { ...header, type, ttl: value, grantedTtl };
  }
  if (!isCount(value)) throw new LeaseCodecError(`malformed lease message: ${value}`);
  return type === 'renewed' ? { ...header, type, ttl: value } : { ...header, type, applied: value };
}

const isCount = (v: number) => Number.isSafeInteger(v) && v >= 0;
/** Seconds left, or -1 (expired). */
const isTtl = (v: number) => v === -1 || isCount(v);
const isU64 = (v: bigint) => typeof v === 'bigint' && v >= 0n && v <= MAX_UINT64;
