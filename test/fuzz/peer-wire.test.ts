// Property tests of everything a peer connection decodes before Raft sees it (adapters/transport/peer/wire.ts,
// inbound.ts and batch.ts: the HTTP batch decoder, which the Node peer port's HTTP path and the Worker
// share), fixed seed, FUZZ_RUNS runs per property (default 300; `npm run fuzz` raises it):
// - frames: however the bytes are split, the same frames; a length above the limit (2^31, 2^32−1) is refused
//   before anything is allocated;
// - handshakes, handshake replies, messages, batches: a value or the decoder's own error (ProtocolError, a
//   refusal), never a TypeError/RangeError; a message that passes is well-formed down to its entries, so a buggy
//   or hostile peer cannot hand Raft a term that is a string or an entry with no data;
// - an inbound connection fed any bytes, after a valid handshake or not: no exception escapes its data handler
//   (which would take the process down), and only well-formed messages from the authenticated peer, addressed to
//   this member, are delivered;
// - lease messages (lease-codec.ts, a follower's keep-alive forwarded to the leader and its answer): a well-formed
//   LeaseMessage or a LeaseCodecError; on an inbound connection they are delivered only when this member takes
//   them, from the authenticated peer and to this member, and a member that does not take them (one from before
//   them) closes the connection as on any undecodable frame.

import { Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { decodeBatch, encodeBatch } from '../../adapters/transport/peer/batch.ts';
import { type AcceptContext, InboundConnection } from '../../adapters/transport/peer/inbound.ts';
import {
  decodeLeaseMessage,
  encodeLeaseFrame,
  LEASE_MESSAGE_TAG,
  LeaseCodecError,
} from '../../adapters/transport/peer/lease-codec.ts';
import { BINARY_MESSAGE_TAG, encodeMessageFrame } from '../../adapters/transport/peer/message-codec.ts';
import type { PeerStream, StreamEvents } from '../../adapters/transport/peer/stream.ts';
import {
  decodeHandshake,
  decodeHandshakeReply,
  decodeMessage,
  encodeFrame,
  encodeHello,
  FRAME_HEADER_BYTES,
  FrameReader,
  FrameTooLargeError,
  MAX_HANDSHAKE_BYTES,
  ProtocolError,
} from '../../adapters/transport/peer/wire.ts';
import type { Message } from '../../src/raft/types.ts';
import type { LeaseMessage } from '../../src/transport.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
// Long budgets (`npm run fuzz`) need more than the default 30 s per test.
vi.setConfig({ testTimeout: 30_000 + RUNS * 20 });

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const CLUSTER = 42n;
const SELF = 1n;
const PEER = 2n;

const MESSAGE_TYPES = [
  'MsgProp',
  'MsgApp',
  'MsgAppResp',
  'MsgVote',
  'MsgVoteResp',
  'MsgPreVote',
  'MsgPreVoteResp',
  'MsgSnap',
  'MsgSnapResp',
  'MsgHeartbeat',
  'MsgHeartbeatResp',
  'MsgTransferLeader',
  'MsgTimeoutNow',
  'MsgReadIndex',
  'MsgReadIndexResp',
  'MsgHup',
  'MsgBeat',
  'MsgUnreachable',
  'MsgCheckQuorum',
] as const;

const isIndex = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isId = (v: unknown) => typeof v === 'bigint' && v >= 0n;
const optional = (v: unknown, check: (v: unknown) => boolean) => v === undefined || v === null || check(v);
const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);
const isConfState = (v: unknown) =>
  isRecord(v) &&
  Array.isArray(v.voters) &&
  v.voters.every(isId) &&
  Array.isArray(v.learners) &&
  v.learners.every(isId);
const isEntry = (v: unknown, proposal: boolean) =>
  isRecord(v) &&
  (isIndex(v.term) || (proposal && v.term === undefined)) &&
  (isIndex(v.index) || (proposal && v.index === undefined)) &&
  (v.type === 'normal' || v.type === 'confChange') &&
  v.data instanceof Uint8Array;

/** What a member may assume of a lease message from a peer (src/transport.ts). */
function leaseWellFormed(m: LeaseMessage): boolean {
  const value =
    m.type === 'renew' || m.type === 'ttl'
      ? m.applied
      : m.type === 'renewed'
        ? m.ttl
        : m.type === 'ttlIs'
          ? (m.ttl === -1 ? 0 : m.ttl) + (isIndex(m.grantedTtl) ? 0 : Number.NaN)
          : 0;
  return (
    ['renew', 'renewed', 'notFound', 'retry', 'ttl', 'ttlIs'].includes(m.type) &&
    isId(m.from) &&
    isId(m.to) &&
    Number.isInteger(m.request) &&
    m.request >= 0 &&
    m.request < 2 ** 32 &&
    typeof m.lease === 'bigint' &&
    isIndex(value)
  );
}

/** What Raft may assume of a message from a peer (src/raft/types.ts). */
function wellFormed(m: Message): boolean {
  const r = m as unknown as Record<string, unknown>;
  return (
    (MESSAGE_TYPES as readonly string[]).includes(m.type) &&
    isId(r.from) &&
    isId(r.to) &&
    isIndex(r.term) &&
    optional(r.index, isIndex) &&
    optional(r.logTerm, isIndex) &&
    optional(r.commit, isIndex) &&
    optional(r.rejectHint, isIndex) &&
    optional(r.offset, isIndex) &&
    optional(r.reject, (v) => typeof v === 'boolean') &&
    optional(r.transfer, (v) => typeof v === 'boolean') &&
    optional(r.context, (v) => v instanceof Uint8Array) &&
    optional(r.entries, (v) => Array.isArray(v) && v.every((e) => isEntry(e, m.type === 'MsgProp'))) &&
    optional(
      r.snapshot,
      (s) =>
        isRecord(s) &&
        isIndex(s.offset) &&
        isIndex(s.total) &&
        s.data instanceof Uint8Array &&
        isRecord(s.metadata) &&
        isIndex(s.metadata.index) &&
        isIndex(s.metadata.term) &&
        isConfState(s.metadata.confState),
    )
  );
}

/** Any msgpack-encodable value, bigints and byte arrays included. */
const { anyValue } = fc.letrec<{ anyValue: unknown }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, false, '', 'normal', 'confChange', 'MsgApp', 'MsgHup', 'MsgSnap'),
    fc.integer(),
    fc.double(),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 6 }),
    fc.uint8Array({ maxLength: 6 }),
    fc.array(tie('anyValue'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 4 }), tie('anyValue'), { maxKeys: 3 }),
  ),
}));

const index = fc.oneof(
  fc.nat(1000),
  fc.constantFrom(-1, 2 ** 53, 0.5, Number.NaN, 2n ** 60n, -1n, 3n, '1', null),
) as fc.Arbitrary<unknown>;
const id = fc.oneof(fc.constantFrom(SELF, PEER, 3n, 0n, -1n), anyValue);
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const entry = fc.oneof(
  fc.record(
    {
      term: index,
      index,
      type: fc.oneof(fc.constantFrom('normal', 'confChange'), anyValue),
      data: fc.oneof(fc.uint8Array({ maxLength: 4 }), anyValue),
    },
    { requiredKeys: ['type', 'data'] },
  ),
  anyValue,
);
const confState = fc.oneof(
  fc.record({ voters: fc.array(id, { maxLength: 3 }), learners: fc.array(id, { maxLength: 2 }) }),
  anyValue,
);

/** Message-shaped records, each field right or wrong, encoded as a peer would send them. */
const messageLike = fc
  .record(
    {
      type: fc.oneof(fc.constantFrom(...MESSAGE_TYPES), anyValue),
      from: fc.oneof(fc.constant(PEER), id),
      to: fc.oneof(fc.constant(SELF), id),
      term: index,
      index: maybe(index),
      logTerm: maybe(index),
      commit: maybe(index),
      reject: maybe(fc.oneof(fc.boolean(), anyValue)),
      rejectHint: maybe(index),
      offset: maybe(index),
      context: maybe(fc.oneof(fc.uint8Array({ maxLength: 4 }), anyValue)),
      transfer: maybe(fc.oneof(fc.boolean(), anyValue)),
      entries: maybe(fc.oneof(fc.array(entry, { maxLength: 3 }), anyValue)),
      snapshot: maybe(
        fc.oneof(
          fc.record({
            metadata: fc.oneof(fc.record({ index, term: index, confState }), anyValue),
            offset: index,
            total: index,
            data: fc.oneof(fc.uint8Array({ maxLength: 4 }), anyValue),
          }),
          anyValue,
        ),
      ),
    },
    { requiredKeys: ['type', 'from', 'to', 'term'] },
  )
  .map((m) => encoder.encode(m));

/** Well-formed messages in the binary layout (protocol version 2), before any damage. */
const binaryLike = fc
  .record(
    {
      type: fc.constantFrom(...MESSAGE_TYPES),
      from: fc.constantFrom(PEER, SELF, 3n, 0n, 2n ** 64n - 1n),
      to: fc.constantFrom(SELF, PEER),
      term: fc.nat(1000),
      index: maybe(fc.nat(1000)),
      commit: maybe(fc.nat(1000)),
      reject: maybe(fc.boolean()),
      context: maybe(fc.uint8Array({ maxLength: 4 })),
      entries: maybe(
        fc.array(
          fc.record({
            term: fc.nat(9),
            index: fc.nat(1000),
            type: fc.constantFrom('normal' as const, 'confChange' as const),
            data: fc.uint8Array({ maxLength: 6 }),
          }),
          { maxLength: 3 },
        ),
      ),
    },
    { requiredKeys: ['type', 'from', 'to', 'term'] },
  )
  .map((m) => encodeMessageFrame(m as Message).subarray(FRAME_HEADER_BYTES));

/** Well-formed lease messages, before any damage. */
const leaseLike = fc
  .record({
    type: fc.constantFrom(
      'renew' as const,
      'renewed' as const,
      'notFound' as const,
      'retry' as const,
      'ttl' as const,
      'ttlIs' as const,
    ),
    from: fc.constantFrom(PEER, SELF, 3n, 0n, 2n ** 64n - 1n),
    to: fc.constantFrom(SELF, PEER),
    request: fc.nat(),
    lease: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n),
    value: fc.oneof(fc.nat(1000), fc.maxSafeNat()),
  })
  .map(({ value, ...m }) =>
    encodeLeaseFrame(
      (m.type === 'renew' || m.type === 'ttl'
        ? { ...m, applied: value }
        : m.type === 'renewed'
          ? { ...m, ttl: value }
          : m.type === 'ttlIs'
            ? { ...m, ttl: value % 7 === 0 ? -1 : value, grantedTtl: value }
            : m) as LeaseMessage,
    ).subarray(FRAME_HEADER_BYTES),
  );

/** Payload bytes: message-shaped (msgpack, binary or a lease message), any value, cut or flipped, or noise. */
const payload = fc.oneof(
  messageLike,
  binaryLike,
  leaseLike,
  fc.tuple(leaseLike, fc.nat(), fc.nat(255)).map(([b, at, x]) => {
    const out = Uint8Array.from(b);
    out[at % out.length] ^= x;
    return out;
  }),
  fc.tuple(leaseLike, fc.nat()).map(([b, at]) => b.subarray(0, at % (b.length + 1))),
  fc.uint8Array({ maxLength: 40 }).map((noise) => Uint8Array.of(LEASE_MESSAGE_TAG, ...noise)),
  fc.tuple(binaryLike, fc.nat(), fc.nat(255)).map(([b, at, x]) => {
    const out = Uint8Array.from(b);
    out[at % out.length] ^= x;
    return out;
  }),
  fc.tuple(binaryLike, fc.nat()).map(([b, at]) => b.subarray(0, at % (b.length + 1))),
  fc.uint8Array({ maxLength: 40 }).map((noise) => Uint8Array.of(BINARY_MESSAGE_TAG, ...noise)),
  anyValue.map((v) => encoder.encode(v)),
  fc.tuple(messageLike, fc.nat(), fc.nat(255)).map(([b, at, x]) => {
    const out = Uint8Array.from(b);
    if (out.length > 0) out[at % out.length] ^= x;
    return out;
  }),
  fc.tuple(messageLike, fc.nat()).map(([b, at]) => b.subarray(0, at % (b.length + 1))),
  fc.uint8Array({ maxLength: 40 }),
);

function orProtocolError<T>(f: () => T): T | ProtocolError {
  try {
    return f();
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err;
  }
}

/** Splits `bytes` at the given points (each taken modulo the length). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const ends = [...points, bytes.length];
  return [0, ...points].map((p, i) => bytes.subarray(p, ends[i]));
}

describe('peer frames', () => {
  it('any split of a frame stream gives the same frames', () => {
    fc.assert(
      fc.property(fc.array(payload, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), (ps, cuts) => {
        const stream = Buffer.concat(ps.map((p) => encodeFrame(p)));
        const whole = new FrameReader(1 << 20).push(stream);
        const reader = new FrameReader(1 << 20);
        const parts = split(stream, cuts).flatMap((c) => reader.push(c));
        expect(parts.map((p) => Buffer.from(p))).toEqual(whole.map((p) => Buffer.from(p)));
        expect(reader.bufferedBytes).toBe(0);
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });

  it('a length prefix of 2^31 or 2^32−1 is refused before anything is allocated', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 1000; i++) {
      for (const header of [
        [0x80, 0, 0, 0],
        [0xff, 0xff, 0xff, 0xff],
      ]) {
        const reader = new FrameReader(MAX_HANDSHAKE_BYTES);
        expect(() => reader.push(Uint8Array.of(...header, 1, 2, 3))).toThrow(FrameTooLargeError);
      }
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });
});

describe('peer decoders', () => {
  it('handshakes and replies: a value or a ProtocolError', () => {
    const handshakeLike = fc
      .record(
        { cluster: id, from: id, to: id, listens: maybe(fc.oneof(fc.boolean(), anyValue)) },
        { requiredKeys: [] },
      )
      .map((h) => encoder.encode(h));
    fc.assert(
      fc.property(fc.oneof(handshakeLike, payload), (bytes) => {
        const h = orProtocolError(() => decodeHandshake(bytes));
        if (!(h instanceof ProtocolError)) {
          expect([typeof h.cluster, typeof h.from, typeof h.to]).toEqual(['bigint', 'bigint', 'bigint']);
        }
        const r = orProtocolError(() => decodeHandshakeReply(bytes));
        if (!(r instanceof ProtocolError)) expect(typeof r.ok).toBe('boolean');
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });

  it('messages: a well-formed Message or a ProtocolError', () => {
    fc.assert(
      fc.property(payload, (bytes) => {
        const m = orProtocolError(() => decodeMessage(bytes));
        if (!(m instanceof ProtocolError)) expect(wellFormed(m), String(m.type)).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });

  it('lease messages: a well-formed LeaseMessage or a LeaseCodecError; encoding gives the same bytes back', () => {
    fc.assert(
      fc.property(payload, (bytes) => {
        let m: LeaseMessage;
        try {
          m = decodeLeaseMessage(bytes);
        } catch (err) {
          if (err instanceof LeaseCodecError) return;
          throw err;
        }
        expect(leaseWellFormed(m)).toBe(true);
        expect(encodeLeaseFrame(m).subarray(FRAME_HEADER_BYTES)).toEqual(Uint8Array.from(bytes));
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });

  // Found by the property above: each reached Raft before decodeMessage checked every field.
  it.each([
    [
      'a MsgProp with snapshot 0',
      { type: 'MsgProp', from: PEER, to: SELF, term: 0, context: new Uint8Array(0), snapshot: 0 },
    ],
    ['a term of -1', { type: 'MsgProp', from: PEER, to: SELF, term: -1 }],
    [
      'a MsgApp entry without data',
      { type: 'MsgApp', from: PEER, to: SELF, term: 1, entries: [{ term: 1, index: 1, type: 'normal' }] },
    ],
    [
      'an entry term that is a string',
      {
        type: 'MsgApp',
        from: PEER,
        to: SELF,
        term: 1,
        entries: [{ term: '1', index: 1, type: 'normal', data: new Uint8Array(0) }],
      },
    ],
    ['an unknown type', { type: 'MsgBogus', from: PEER, to: SELF, term: 1 }],
    ['a null index', { type: 'MsgApp', from: PEER, to: SELF, term: 1, index: null }],
  ])('regression: %s is a ProtocolError', (_name, message) => {
    expect(() => decodeMessage(encoder.encode(message))).toThrow(ProtocolError);
  });

  it('a proposal a follower forwards carries entries without term and index, and passes', () => {
    const prop = {
      type: 'MsgProp',
      from: PEER,
      to: SELF,
      term: 0,
      entries: [{ type: 'normal', data: Uint8Array.of(1) }],
    };
    expect(decodeMessage(encoder.encode(prop))).toEqual(prop);
  });

  it('HTTP batches: never throws; what it accepts is well-formed, from the batch sender, to this member', () => {
    const batchLike = fc
      .tuple(
        fc.array(payload, { maxLength: 3 }),
        fc.oneof(fc.constant(CLUSTER), id),
        fc.oneof(fc.constant(PEER), id),
        fc.oneof(fc.constant(SELF), id),
      )
      .map(([msgs, cluster, from, to]) =>
        encodeBatch({ cluster: cluster as bigint, from: from as bigint, to: to as bigint, messages: msgs }),
      );
    fc.assert(
      fc.property(fc.oneof(batchLike, payload), (bytes) => {
        const batch = decodeBatch(bytes, { clusterId: CLUSTER, id: SELF });
        if (!batch.ok) {
          expect(typeof batch.reason).toBe('string');
          return;
        }
        for (const m of batch.messages) {
          expect(wellFormed(m)).toBe(true);
          expect([m.from, m.to]).toEqual([batch.from, SELF]);
        }
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });
});

/** A PeerStream that records what the connection writes and whether it closed. */
function fakeStream(): PeerStream & { events?: StreamEvents; ended: boolean; written: Uint8Array[] } {
  const s = {
    remote: 'fuzz:1',
    closed: new Promise<void>(() => {}),
    ended: false,
    written: [] as Uint8Array[],
    events: undefined as StreamEvents | undefined,
    write(data: Uint8Array) {
      s.written.push(data);
      return true;
    },
    end() {
      s.ended = true;
    },
    destroy() {
      s.ended = true;
    },
    listen(events: StreamEvents) {
      s.events = events;
    },
  };
  return s;
}

describe('inbound peer connection', () => {
  it('any bytes, after a valid handshake or not: nothing escapes; only well-formed messages of the peer', () => {
    const hello = encodeHello({ cluster: CLUSTER, from: PEER, to: SELF });
    const stream = fc.oneof(
      fc
        .array(payload, { maxLength: 4 })
        .map((ps) => Buffer.concat([hello, ...ps.map((p) => encodeFrame(p))])),
      fc
        .tuple(fc.array(payload, { maxLength: 3 }), fc.uint8Array({ maxLength: 12 }))
        .map(([ps, tail]) => Buffer.concat([hello, ...ps.map((p) => encodeFrame(p)), tail])),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([hello.subarray(0, 8), b])),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    );
    fc.assert(
      fc.property(stream, fc.array(fc.nat(), { maxLength: 5 }), fc.boolean(), (bytes, cuts, leases) => {
        const delivered: (Message | LeaseMessage)[] = [];
        const ctx: AcceptContext = {
          clusterId: CLUSTER,
          memberId: SELF,
          logger: { debug() {}, info() {}, warn() {}, error() {} },
          clock: new RealClock(),
          maxFrameBytes: 1 << 20,
          handshakeTimeoutMs: 60_000,
          leases,
          isPeer: (m) => m === PEER,
          mayReverse: () => false,
          deliver: (m, from) => {
            expect(from).toBe(PEER);
            delivered.push(m);
          },
          accepted() {},
          closed() {},
        };
        const s = fakeStream();
        const chunks = split(bytes, cuts);
        const conn = new InboundConnection(ctx, s, chunks[0]);
        try {
          for (const c of chunks.slice(1)) s.events?.data(c);
        } finally {
          conn.close();
          s.events?.close();
        }
        for (const m of delivered) {
          if ('request' in m) expect(leases && leaseWellFormed(m)).toBe(true);
          else expect(wellFormed(m)).toBe(true);
          expect([m.from, m.to]).toEqual([PEER, SELF]);
        }
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });
});
