// Property tests of the gRPC request decoder (adapters/runtime/node/grpc/decode.ts), called directly: fixed seed,
// FUZZ_RUNS runs per property (default 300; `npm run fuzz` raises it).
// - any bytes, for every request message etcd's services take: a decoded object or a ProtoDecodeError, never
//   another exception (TypeError, RangeError: a crash), and no allocation beyond the input's size;
// - every well-formed message (as protobufjs encodes it) decodes to exactly what proto-loader's decoder gives.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeMessage, MAX_DEPTH } from '../../adapters/runtime/node/grpc/decode.ts';
import { loadPackage, loadServices } from '../../adapters/runtime/node/grpc/proto.ts';
import { ProtoDecodeError } from '../../adapters/runtime/node/grpc/proto-reader.ts';
import { ONEOFS } from '../../adapters/runtime/node/grpc/proto-schema.ts';
import { requestSchemas } from '../../adapters/runtime/node/grpc/strict.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 12);

const schemas = requestSchemas();
const methods = Object.entries(loadServices()).flatMap(([service, def]) =>
  Object.entries(def).map(([method, m]) => ({
    path: `${service}/${method}`,
    type: `${service.slice(0, service.lastIndexOf('.'))}.${(m as unknown as { requestType: { type: { name: string } } }).requestType.type.name}`,
    serialize: m.requestSerialize as (value: unknown) => Buffer,
    deserialize: m.requestDeserialize as (buf: Buffer) => unknown,
  })),
);

function decodeOrError(type: string, buf: Uint8Array): unknown {
  try {
    return decodeMessage(schemas.get(type) as NonNullable<ReturnType<typeof schemas.get>>, buf);
  } catch (err) {
    if (err instanceof ProtoDecodeError) return err;
    throw err;
  }
}

/** Bytes that look like protobuf more often than uniform noise does: tags, varints, lengths, then noise. */
const protobufish = fc
  .array(
    fc.oneof(
      fc.uint8Array({ maxLength: 4 }),
      fc.integer({ min: 0, max: 0x7ff }).map((t) => Uint8Array.of(t & 0x7f)),
      fc.constantFrom(
        Uint8Array.of(0x0a, 0x7f),
        Uint8Array.of(0x12, 0xff, 0xff, 0xff, 0xff, 0x0f),
        Uint8Array.of(0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
        Uint8Array.of(0x0b),
        Uint8Array.of(0x0c),
        Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      ),
    ),
    { maxLength: 12 },
  )
  .map((parts) => Buffer.concat(parts));

describe('gRPC request decoder', () => {
  it('lists every oneof of the loaded protos (proto-loader drops oneof_index)', () => {
    const withOneofs = Object.entries(loadPackage())
      .filter(([, def]) => ((def as { type?: { oneofDecl?: unknown[] } }).type?.oneofDecl?.length ?? 0) > 0)
      .map(([name]) => name)
      .sort();
    expect(withOneofs).toEqual(Object.keys(ONEOFS).sort());
  });

  it('any bytes: a message or a ProtoDecodeError, for every request type', () => {
    fc.assert(
      fc.property(fc.constantFrom(...methods), protobufish, (m, bytes) => {
        decodeOrError(m.type, bytes);
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });

  it('a length prefix of 2^31 or 2^63 allocates nothing and is refused', () => {
    const before = process.memoryUsage().arrayBuffers;
    for (const len of [
      [0x80, 0x80, 0x80, 0x80, 0x08],
      [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01],
    ]) {
      for (let i = 0; i < 1000; i++) {
        expect(decodeOrError('etcdserverpb.PutRequest', Uint8Array.of(0x0a, ...len, 1))).toBeInstanceOf(
          ProtoDecodeError,
        );
        expect(decodeOrError('etcdserverpb.PutRequest', Uint8Array.of(0x7a, ...len, 1))).toBeInstanceOf(
          ProtoDecodeError,
        );
      }
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it(`nesting past ${MAX_DEPTH} messages is refused, not a stack overflow`, () => {
    let txn = Buffer.from([0x0a, 1, 0x6b]);
    for (let i = 0; i < 20_000; i++) {
      // TxnRequest{success: [RequestOp{request_txn: txn}]}
      const op = Buffer.concat([Buffer.from([0x22]), Buffer.from(varintBytes(txn.length)), txn]);
      txn = Buffer.concat([Buffer.from([0x12]), Buffer.from(varintBytes(op.length)), op]);
    }
    const err = decodeOrError('etcdserverpb.TxnRequest', txn);
    expect(err).toBeInstanceOf(ProtoDecodeError);
    expect((err as Error).message).toMatch(/nested deeper than/);
  });

  it('well-formed messages decode as proto-loader decodes them', () => {
    const put = methods.find((m) => m.path === 'etcdserverpb.KV/Put');
    const range = methods.find((m) => m.path === 'etcdserverpb.KV/Range');
    const txn = methods.find((m) => m.path === 'etcdserverpb.KV/Txn');
    const watch = methods.find((m) => m.path === 'etcdserverpb.Watch/Watch');
    if (!put || !range || !txn || !watch) throw new Error('methods missing');
    const bytes = fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b));
    const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String);
    const putRequest = fc.record(
      {
        key: bytes,
        value: bytes,
        lease: int64,
        prev_kv: fc.boolean(),
        ignore_value: fc.boolean(),
        ignore_lease: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const rangeRequest = fc.record(
      {
        key: bytes,
        range_end: bytes,
        limit: int64,
        revision: int64,
        sort_order: fc.integer({ min: 0, max: 2 }),
        sort_target: fc.integer({ min: 0, max: 4 }),
        serializable: fc.boolean(),
        keys_only: fc.boolean(),
        count_only: fc.boolean(),
        min_mod_revision: int64,
        max_create_revision: int64,
      },
      { requiredKeys: [] },
    );
    const compare = fc.record(
      {
        result: fc.integer({ min: 0, max: 3 }),
        target: fc.integer({ min: 0, max: 4 }),
        key: bytes,
        version: int64,
        range_end: bytes,
      },
      { requiredKeys: [] },
    );
    const op = fc.oneof(
      putRequest.map((p) => ({ request_put: p })),
      rangeRequest.map((r) => ({ request_range: r })),
    );
    const txnRequest = fc.record(
      {
        compare: fc.array(compare, { maxLength: 3 }),
        success: fc.array(op, { maxLength: 3 }),
        failure: fc.array(op, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    const watchRequest = fc.record({
      create_request: fc.record(
        {
          key: bytes,
          start_revision: int64,
          filters: fc.array(fc.integer({ min: 0, max: 1 }), { maxLength: 3 }),
          prev_kv: fc.boolean(),
          watch_id: int64,
        },
        { requiredKeys: [] },
      ),
    });
    const cases = fc.oneof(
      putRequest.map((v) => [put, v] as const),
      rangeRequest.map((v) => [range, v] as const),
      txnRequest.map((v) => [txn, v] as const),
      watchRequest.map((v) => [watch, v] as const),
    );
    fc.assert(
      fc.property(cases, ([m, value]) => {
        const wire = m.serialize(value);
        expect(normalize(decodeOrError(m.type, wire))).toEqual(normalize(m.deserialize(wire)));
      }),
      { seed: SEED, numRuns: RUNS },
    );
  });
});

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

/** Buffers as hex, so that views and copies compare by content. */
function normalize(v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)]));
  return v;
}
