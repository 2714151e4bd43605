// KV/Put with seeded random payloads — well-formed fields, unknown fields of every wire type, wrong wire types,
// odd field numbers, truncations, raw bytes, nonzero compressed flags — sent as the same bytes to a real etcd 3.4.23
// and to edgecd: each must get the same grpc-status (and, for refusals, the same text). Both start empty and see
// the same sequence, so their keyspaces stay alike. GRPC_DIFF_RUNS sets the budget (default 500); the seed is fixed.
//
// Lengths in [2^63 - 2^32, 2^63) are never generated: etcd 3.4.23's generated code computes `iNdEx + byteLen`
// without an overflow check and panics (the whole process dies) — edgecd answers "negative length" as etcd 3.5.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';
import { grpcFrame, RawGrpcClient, varint } from '../support/raw-grpc.ts';
import { EtcdProcess } from './differential/harness.ts';

const hasEtcd = await import('node:fs').then((fs) => fs.existsSync('/usr/bin/etcd'));
const RUNS = Number(process.env.GRPC_DIFF_RUNS ?? 500);
const SEED = Number(process.env.GRPC_DIFF_SEED ?? 20261206);

const tag = (field: bigint, wt: number) => varint((field << 3n) | BigInt(wt));

/** A length prefix: small, past the end, 2^31-ish, or ≥ 2^63 (negative in Go) — never the panic zone. */
const length = (actual: number) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(BigInt(actual)) },
    { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 64n }) },
    { weight: 1, arbitrary: fc.constantFrom(2n ** 31n, 2n ** 32n - 1n, 2n ** 40n, 2n ** 62n) },
    { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 63n, max: 2n ** 64n - 1n }) },
  );

const bytesField = (field: bigint) =>
  fc
    .uint8Array({ maxLength: 6 })
    .chain((b) => length(b.length).map((n) => [...tag(field, 2), ...varint(n), ...b]));

const varintValue = fc.oneof(fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

/** Any field: known numbers with their own or a wrong wire type, unknown and odd numbers, groups, bad wire types. */
const fieldNumber = fc.oneof(
  { weight: 6, arbitrary: fc.bigInt({ min: 1n, max: 6n }) },
  { weight: 2, arbitrary: fc.bigInt({ min: 7n, max: 40n }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(0n, 2n ** 29n - 1n, 2n ** 29n, 2n ** 31n, 2n ** 32n, 2n ** 32n + 1n),
  },
);

const anyField: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }).map((k) => [0x0a, k.length, ...k]) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4 }).map((v) => [0x12, v.length, ...v]) },
  {
    weight: 4,
    arbitrary: fc
      .tuple(fieldNumber, fc.integer({ min: 0, max: 7 }))
      .chain(([f, wt]): fc.Arbitrary<number[]> => {
        switch (wt) {
          case 0:
            return varintValue.map((v) => [...tag(f, 0), ...varint(v)]);
          case 1:
            return fc.uint8Array({ minLength: 8, maxLength: 8 }).map((b) => [...tag(f, 1), ...b]);
          case 2:
            return bytesField(f);
          case 3:
            return fc
              .constantFrom<number[][]>([], [0x08, 1], [0x0b, 0x0c])
              .map((inner) => [...tag(f, 3), ...inner, ...tag(f, 4)]);
          case 5:
            return fc.uint8Array({ minLength: 4, maxLength: 4 }).map((b) => [...tag(f, 5), ...b]);
          default:
            return fc.uint8Array({ maxLength: 3 }).map((b) => [...tag(f, wt), ...b]);
        }
      }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 6 }).map((b) => [...b]) },
);

const payload = fc.record({
  fields: fc.array(anyField, { maxLength: 5 }),
  /** Bytes dropped from the end (a truncation), usually none. */
  cut: fc.oneof(
    { weight: 5, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) },
  ),
  flag: fc.oneof(
    { weight: 12, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 255 }) },
  ),
});

describe.skipIf(!hasEtcd)(
  'KV/Put: edgecd answers random payloads as etcd 3.4.23 does (needs /usr/bin/etcd)',
  () => {
    let etcd: EtcdProcess;
    let cluster: MemoryCluster;
    let node: EdgeNode;
    let server: ClientServer;
    let toEtcd: RawGrpcClient;
    let toEdgecd: RawGrpcClient;

    beforeAll(async () => {
      etcd = await EtcdProcess.start();
      cluster = await startMemoryCluster({ size: 1 });
      node = cluster.nodes[0];
      server = await startClientServer({ node, host: '127.0.0.1', port: 0 });
      toEtcd = new RawGrpcClient(Number(new URL(etcd.url).port));
      toEdgecd = new RawGrpcClient(server.port);
    }, 60_000);

    afterAll(async () => {
      toEtcd?.close();
      toEdgecd?.close();
      await server?.close();
      await cluster?.close();
      await etcd?.stop();
    });

    it(`${RUNS} seeded payloads (seed ${SEED}) get the same grpc-status`, async () => {
      const statuses = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(payload, async ({ fields, cut, flag }) => {
          const all = fields.flat();
          const bytes = all.slice(0, Math.max(0, all.length - cut));
          const frame = grpcFrame(bytes, flag);
          const [want, got] = [
            await toEtcd.call('/etcdserverpb.KV/Put', frame),
            await toEdgecd.call('/etcdserverpb.KV/Put', frame),
          ];
          statuses.set(String(want.status), (statuses.get(String(want.status)) ?? 0) + 1);
          expect({ status: got.status, bytes: Buffer.from(bytes).toString('hex') }).toEqual({
            status: want.status,
            bytes: Buffer.from(bytes).toString('hex'),
          });
          if (want.status === 13) expect(got.message).toBe(want.message);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
      if (process.env.GRPC_DIFF_VERBOSE) console.log(Object.fromEntries(statuses));
      // The mix covers both sides of the line: applied puts and refusals of several kinds.
      expect(statuses.get('0') ?? 0).toBeGreaterThan(RUNS / 20);
      expect(statuses.get('13') ?? 0).toBeGreaterThan(RUNS / 20);
    }, 600_000);
  },
);
