// Malformed protobuf and gRPC frames on the client port get etcd 3.4's answers and change nothing. Each expected
// status and text below was recorded from a real etcd 3.4.23 (Debian's /usr/bin/etcd) sent the same bytes;
// test/node/grpc-differential.test.ts compares the two live on random payloads.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';
import { grpcFrame, lengthDelimited as ld, RawGrpcClient, varint } from '../support/raw-grpc.ts';

const PUT = '/etcdserverpb.KV/Put';
const RANGE = '/etcdserverpb.KV/Range';
const TXN = '/etcdserverpb.KV/Txn';
const WATCH = '/etcdserverpb.Watch/Watch';
const HEALTH = '/grpc.health.v1.Health/Check';

/** PutRequest{key: "k"} and friends. */
const KEY = [0x0a, 1, 0x6b];
const VALUE = [0x12, 1, 0x76];
const UNMARSHAL = 'grpc: error unmarshalling request: ';

interface Case {
  readonly name: string;
  readonly path?: string;
  readonly bytes: readonly number[];
  readonly flag?: number;
  /** etcd 3.4.23's grpc-status and grpc-message; 0 = applied (for a Put: one more key). */
  readonly status: number;
  readonly message?: string;
}

const refused = (name: string, bytes: readonly number[], message: string, path = PUT): Case => ({
  name,
  path,
  bytes,
  status: 13,
  message: UNMARSHAL + message,
});

const CASES: readonly Case[] = [
  { name: 'a well-formed put', bytes: [...KEY, ...VALUE], status: 0 },
  refused(
    'lease (field 3, varint) sent as bytes',
    [...KEY, 0x1a, 1, 0x32],
    'proto: wrong wireType = 2 for field Lease',
  ),
  refused('prev_kv (bool) sent as bytes', [...KEY, 0x22, 0], 'proto: wrong wireType = 2 for field PrevKv'),
  refused('key (bytes) sent as a varint', [0x08, 1], 'proto: wrong wireType = 0 for field Key'),
  refused(
    'key (bytes) sent as fixed32',
    [...KEY, 0x0d, 1, 2, 3, 4],
    'proto: wrong wireType = 5 for field Key',
  ),
  refused('field number 0', [0x00, 0x01, ...KEY], 'proto: PutRequest: illegal tag 0 (wire type 0)'),
  refused(
    'field number 0, wire type 2',
    [0x02, 0x00, ...KEY],
    'proto: PutRequest: illegal tag 0 (wire type 2)',
  ),
  refused(
    'field number 2^31',
    [...varint(2n ** 34n), 0x01, ...KEY],
    'proto: PutRequest: illegal tag -2147483648 (wire type 17179869184)',
  ),
  refused(
    'field number 2^32',
    [...varint(2n ** 35n), 0x01, ...KEY],
    'proto: PutRequest: illegal tag 0 (wire type 34359738368)',
  ),
  // gogo reads the field number as int32(tag >> 3): 2^29..2^31-1 are unknown fields (skipped), as in etcd.
  {
    name: 'field number 2^29 (unknown to gogo: skipped)',
    bytes: [...varint(2n ** 32n), 0x01, ...KEY],
    status: 0,
  },
  {
    name: 'field number 2^29-1 (max valid, unknown)',
    bytes: [...varint((2n ** 29n - 1n) << 3n), 1, ...KEY],
    status: 0,
  },
  refused('truncated varint', [...KEY, 0x18, 0x80], 'unexpected EOF'),
  refused('truncated tag', [...KEY, 0x80], 'unexpected EOF'),
  refused('a length past the end', [0x0a, 5, 0x6b], 'unexpected EOF'),
  refused('a length of 2^31', [0x0a, ...varint(2n ** 31n), 0x6b], 'unexpected EOF'),
  refused(
    'a length of 2^63',
    [0x0a, ...varint(2n ** 63n), 0x6b],
    'proto: negative length found during unmarshaling',
  ),
  refused('an 11-byte varint', [...KEY, 0x18, ...Array(10).fill(0xff), 0x01], 'proto: integer overflow'),
  refused('unknown fixed64 cut short', [...KEY, 0x79, 1, 2, 3], 'unexpected EOF'),
  refused('unknown bytes cut short', [...KEY, 0x7a, 9, 1, 1], 'unexpected EOF'),
  refused(
    'unknown bytes of length 2^63-1',
    [...KEY, 0x7a, ...varint(2n ** 63n - 1n), 0x6b],
    'proto: negative length found during unmarshaling',
  ),
  refused('an unterminated group', [...KEY, 0x7b, 0x08, 1], 'unexpected EOF'),
  refused('end group at top level', [...KEY, 0x7c], 'proto: PutRequest: wiretype end group for non-group'),
  refused('wire type 6', [...KEY, 0x7e], 'proto: illegal wireType 6'),
  refused('wire type 7', [...KEY, 0x7f], 'proto: illegal wireType 7'),
  { name: 'unknown varint field', bytes: [...KEY, 0x78, 0x05], status: 0 },
  { name: 'unknown fixed64 field', bytes: [...KEY, 0x79, 1, 2, 3, 4, 5, 6, 7, 8], status: 0 },
  { name: 'unknown fixed32 field', bytes: [...KEY, 0x7d, 1, 2, 3, 4], status: 0 },
  { name: 'unknown bytes field', bytes: [...KEY, 0x7a, 2, 1, 1], status: 0 },
  { name: 'unknown group', bytes: [...KEY, 0x7b, 0x08, 1, 0x7c], status: 0 },
  {
    name: 'compressed flag 1, no grpc-encoding',
    bytes: [...KEY, ...VALUE],
    flag: 1,
    status: 13,
    message: 'grpc: compressed flag set with identity or empty encoding',
  },
  {
    name: 'compressed flag 7',
    bytes: [...KEY, ...VALUE],
    flag: 7,
    status: 13,
    message: 'grpc: received unexpected payload format 7',
  },
  {
    name: 'compressed flag 128',
    bytes: [...KEY, ...VALUE],
    flag: 128,
    status: 13,
    message: 'grpc: received unexpected payload format 128',
  },
  { name: 'an empty put', bytes: [], status: 3, message: 'etcdserver: key is not provided' },
  refused(
    'RangeRequest.limit as bytes',
    [...KEY, 0x1a, 0],
    'proto: wrong wireType = 2 for field Limit',
    RANGE,
  ),
  refused(
    'Compare.version as bytes',
    ld(1, [0x1a, 1, 0x6b, 0x22, 0]),
    'proto: wrong wireType = 2 for field Version',
    TXN,
  ),
  refused(
    'a nested PutRequest with tag 0',
    ld(2, ld(2, [0x00, 0x01])),
    'proto: PutRequest: illegal tag 0 (wire type 0)',
    TXN,
  ),
  refused(
    'LeaseGrantRequest.TTL as bytes',
    [0x0a, 0],
    'proto: wrong wireType = 2 for field TTL',
    '/etcdserverpb.Lease/LeaseGrant',
  ),
  refused(
    'a Permission cut short',
    [...ld(1, [0x72]), ...ld(2, [0x12, 0x01])],
    'unexpected EOF',
    '/etcdserverpb.Auth/RoleGrantPermission',
  ),
  // grpc.health.v1 is golang/protobuf: a wrong wire type is an unknown field there.
  { name: 'health: service as a varint (skipped)', path: HEALTH, bytes: [0x08, 1], status: 0 },
  refused(
    'health: tag 0',
    [0x00, 1],
    'proto: grpc_health_v1.HealthCheckRequest: illegal tag 0 (wire type 0)',
    HEALTH,
  ),
  refused('health: cut short', [0x0a, 5], 'unexpected EOF', HEALTH),
  {
    name: 'watch: a malformed message ends the stream',
    path: WATCH,
    bytes: ld(1, [0x00]),
    status: 13,
    message:
      'grpc: failed to unmarshal the received message proto: WatchCreateRequest: illegal tag 0 (wire type 0)',
  },
];

let cluster: MemoryCluster;
let node: EdgeNode;
let server: ClientServer;
let client: RawGrpcClient;

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1 });
  node = cluster.nodes[0];
  server = await startClientServer({ node, host: '127.0.0.1', port: 0 });
  client = new RawGrpcClient(server.port);
}, 30_000);

afterAll(async () => {
  client?.close();
  await server?.close();
  await cluster?.close();
});

describe('malformed requests get etcd 3.4.23 answers and change nothing', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const path = c.path ?? PUT;
      const before = (await node.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) })).header
        .revision;
      const answer = await client.call(path, grpcFrame(c.bytes, c.flag ?? 0));
      expect(answer.status).toBe(c.status);
      if (c.message !== undefined) expect(answer.message).toBe(c.message);
      const after = (await node.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) })).header
        .revision;
      // Only a well-formed put (status 0 on KV/Put) may write.
      expect(after - before).toBe(path === PUT && c.status === 0 ? 1 : 0);
    });
  }

  it('the member keeps serving on the same connection', async () => {
    const answer = await client.call(PUT, grpcFrame([...KEY, ...VALUE]));
    expect(answer.status).toBe(0);
  });
});
