// The request pipeline (src/api/pipeline.ts) through both API surfaces of one client port: gRPC (a grpc-js client
// built from the etcd3 package's protos) and the JSON gateway (HTTP/1.1). A 3-member in-process cluster whose
// third member is a learner, with a small --max-request-bytes given to the members only (the surfaces take the
// node's limits). Bad requests are refused before anything is proposed — the Raft index Status reports does not
// move — with the same code and text on both surfaces; a learner refuses what etcd's learner refuses on both.

import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { loadServices } from '../../adapters/runtime/node/grpc/proto.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

const MAX_REQUEST_BYTES = 16 * 1024;
const LEARNER = 3n;

let cluster: MemoryCluster;
/** Client ports by member ID: 1 (a voter) and 3 (the learner). */
const ports = new Map<bigint, number>();
const servers: ClientServer[] = [];

beforeAll(async () => {
  const members = [1n, 2n, 3n].map((id) => ({
    id,
    name: `n${id}`,
    peerURLs: [`mem://n${id}`],
    isLearner: id === LEARNER,
  }));
  cluster = await startMemoryCluster({ node: () => ({ members, maxRequestBytes: MAX_REQUEST_BYTES }) });
  for (const node of [cluster.nodes[0], cluster.nodes[2]]) {
    const server = await startClientServer({ node, gateway: createGateway(node) });
    servers.push(server);
    ports.set(node.id, server.port);
  }
  // Every member has published its name: nothing else is proposed while the tests watch the Raft index.
  await waitFor('names', async () =>
    (await cluster.nodes[0].memberList()).members.every((m) => m.name !== ''),
  );
  await waitFor('the learner to know its leader', () => cluster.nodes[2].nodeStatus().leader !== 0n);
}, 30_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await cluster?.close();
});

const require = createRequire(import.meta.url);
const protoDir = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto');
const loaded = grpc.loadPackageDefinition(
  protoLoader.loadSync(path.join(protoDir, 'rpc.proto'), { keepCase: true, longs: String, defaults: false }),
) as unknown as {
  etcdserverpb: Record<string, new (address: string, creds: grpc.ChannelCredentials) => grpc.Client>;
};
type Unary = (
  req: object,
  cb: (err: grpc.ServiceError | null, res?: Record<string, unknown>) => void,
) => void;

/** What a surface answered: the response, or etcd's error as gRPC code and text. */
type Answer = { ok: Record<string, unknown> } | { code: number; error: string };

function grpcCall(member: bigint, service: string, method: string, req: object): Promise<Answer> {
  const c = new loaded.etcdserverpb[service](
    `127.0.0.1:${ports.get(member)}`,
    grpc.credentials.createInsecure(),
  );
  return new Promise((resolve) => {
    (c as unknown as Record<string, Unary>)[method].call(c, req, (err, res) => {
      c.close();
      resolve(err ? { code: err.code, error: err.details } : { ok: res ?? {} });
    });
  });
}

interface HttpAnswer {
  readonly status: number;
  readonly text: string;
}

async function post(member: bigint, route: string, body: unknown): Promise<HttpAnswer> {
  const r = await fetch(`http://127.0.0.1:${ports.get(member)}${route}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, text: await r.text() };
}

/** A unary gateway answer as an Answer, checking that an error's HTTP status is the one its code maps to. */
async function gatewayCall(member: bigint, route: string, body: unknown): Promise<Answer> {
  const r = await post(member, route, body);
  const json = JSON.parse(r.text) as Record<string, unknown>;
  if (r.status === 200) return { ok: json };
  expect(json.message).toBe(json.error);
  expect(r.status).toBe(HTTP_STATUS[json.code as number]);
  return { code: json.code as number, error: json.error as string };
}

const HTTP_STATUS: Record<number, number> = { 3: 400, 14: 503 };

const b64 = (s: string) => Buffer.from(s).toString('base64');
const bytes = (s: string) => Buffer.from(s);

/** The Raft index member 1 reports in Maintenance.Status (through gRPC). */
async function raftIndex(): Promise<bigint> {
  const r = await grpcCall(1n, 'Maintenance', 'Status', {});
  if (!('ok' in r)) throw new Error(r.error);
  return BigInt(r.ok.raftIndex as string);
}

/** One bad request in both wire forms: gRPC (keepCase, bytes as Buffers) and the gateway's JSON. */
interface BadRequest {
  readonly what: string;
  readonly method: 'Range' | 'Put' | 'DeleteRange' | 'Txn';
  readonly grpc: object;
  readonly json: unknown;
  readonly error: string;
}

const ROUTE = {
  Range: '/v3/kv/range',
  Put: '/v3/kv/put',
  DeleteRange: '/v3/kv/deleterange',
  Txn: '/v3/kv/txn',
};

const manyCompares = Array.from({ length: 129 }, () => ({ key: 'k', target: 'VERSION', result: 'EQUAL' }));

const BAD_REQUESTS: readonly BadRequest[] = [
  {
    what: 'a put with an empty key',
    method: 'Put',
    grpc: { key: Buffer.alloc(0), value: bytes('v') },
    json: { value: b64('v') },
    error: 'etcdserver: key is not provided',
  },
  {
    what: 'a put with ignore_value and a value',
    method: 'Put',
    grpc: { key: bytes('k'), value: bytes('v'), ignore_value: true },
    json: { key: b64('k'), value: b64('v'), ignore_value: true },
    error: 'etcdserver: value is provided',
  },
  {
    what: 'a put with ignore_lease and a lease',
    method: 'Put',
    grpc: { key: bytes('k'), lease: '5', ignore_lease: true },
    json: { key: b64('k'), lease: '5', ignore_lease: true },
    error: 'etcdserver: lease is provided',
  },
  {
    what: 'a delete with an empty key',
    method: 'DeleteRange',
    grpc: { key: Buffer.alloc(0), range_end: bytes('z') },
    json: { range_end: b64('z') },
    error: 'etcdserver: key is not provided',
  },
  {
    what: 'a range with an empty key',
    method: 'Range',
    grpc: { key: Buffer.alloc(0) },
    json: {},
    error: 'etcdserver: key is not provided',
  },
  {
    what: 'a txn putting one key twice',
    method: 'Txn',
    grpc: { success: [{ request_put: { key: bytes('d') } }, { request_put: { key: bytes('d') } }] },
    json: { success: [{ request_put: { key: b64('d') } }, { request_put: { key: b64('d') } }] },
    error: 'etcdserver: duplicate key given in txn request',
  },
  {
    what: 'a txn putting a key it deletes',
    method: 'Txn',
    grpc: {
      success: [
        { request_delete_range: { key: bytes('a'), range_end: bytes('c') } },
        { request_put: { key: bytes('b') } },
      ],
    },
    json: {
      success: [
        { request_delete_range: { key: b64('a'), range_end: b64('c') } },
        { request_put: { key: b64('b') } },
      ],
    },
    error: 'etcdserver: duplicate key given in txn request',
  },
  {
    what: 'a txn with 129 compares (--max-txn-ops 128)',
    method: 'Txn',
    grpc: {
      compare: manyCompares.map((c) => ({ ...c, key: bytes(c.key) })),
      success: [{ request_put: { key: bytes('k') } }],
    },
    json: {
      compare: manyCompares.map((c) => ({ ...c, key: b64(c.key) })),
      success: [{ request_put: { key: b64('k') } }],
    },
    error: 'etcdserver: too many operations in txn request',
  },
  {
    what: 'a txn with an empty operation',
    method: 'Txn',
    grpc: { success: [{}] },
    json: { success: [{}] },
    error: 'etcdserver: key not found',
  },
  {
    what: 'a txn comparing an empty key',
    method: 'Txn',
    grpc: {
      compare: [{ key: Buffer.alloc(0), target: 'VERSION' }],
      success: [{ request_put: { key: bytes('k') } }],
    },
    json: { compare: [{ target: 'VERSION' }], success: [{ request_put: { key: b64('k') } }] },
    error: 'etcdserver: key is not provided',
  },
  {
    what: 'a put over --max-request-bytes',
    method: 'Put',
    grpc: { key: bytes('big'), value: Buffer.alloc(MAX_REQUEST_BYTES + 1024, 1) },
    json: { key: b64('big'), value: Buffer.alloc(MAX_REQUEST_BYTES + 1024, 1).toString('base64') },
    error: 'etcdserver: request is too large',
  },
];

describe('one request pipeline for gRPC and the JSON gateway', () => {
  it.each(BAD_REQUESTS)(
    '$what: the same etcd error on both surfaces, and nothing is proposed',
    async (bad) => {
      const before = await raftIndex();
      const viaGrpc = await grpcCall(1n, 'KV', bad.method, bad.grpc);
      const viaGateway = await gatewayCall(1n, ROUTE[bad.method], bad.json);
      expect(viaGrpc).toEqual({ code: grpc.status.INVALID_ARGUMENT, error: bad.error });
      expect(viaGateway).toEqual(viaGrpc);
      expect(await raftIndex()).toBe(before);
    },
  );

  it('a good put after them moves the Raft index (the probe above can see a proposal)', async () => {
    const before = await raftIndex();
    expect('ok' in (await gatewayCall(1n, '/v3/kv/put', { key: b64('good'), value: b64('v') }))).toBe(true);
    expect(await raftIndex()).toBeGreaterThan(before);
  });
});

describe("a learner refuses what etcd's learner refuses, on both surfaces", () => {
  const refused = { code: grpc.status.UNAVAILABLE, error: 'etcdserver: rpc not supported for learner' };

  it('writes and linearizable reads; a serializable read and Status are served', async () => {
    const unary: [method: 'Put' | 'Range' | 'Txn', grpcReq: object, jsonReq: unknown][] = [
      ['Put', { key: bytes('k'), value: bytes('v') }, { key: b64('k'), value: b64('v') }],
      ['Range', { key: bytes('good') }, { key: b64('good') }],
      [
        'Txn',
        { success: [{ request_range: { key: bytes('good') } }] },
        { success: [{ request_range: { key: b64('good') } }] },
      ],
    ];
    for (const [method, grpcReq, jsonReq] of unary) {
      expect(await grpcCall(LEARNER, 'KV', method, grpcReq)).toEqual(refused);
      expect(await gatewayCall(LEARNER, ROUTE[method], jsonReq)).toEqual(refused);
    }
    await waitFor('the learner to have the good put', async () => {
      const r = await grpcCall(LEARNER, 'KV', 'Range', { key: bytes('good'), serializable: true });
      return 'ok' in r && Array.isArray(r.ok.kvs) && r.ok.kvs.length === 1;
    });
    const served = await gatewayCall(LEARNER, '/v3/kv/range', { key: b64('good'), serializable: true });
    expect('ok' in served && served.ok.count).toBe('1');
    expect('ok' in (await grpcCall(LEARNER, 'Maintenance', 'Status', {}))).toBe(true);
    expect('ok' in (await gatewayCall(LEARNER, '/v3/maintenance/status', {}))).toBe(true);
  });

  it("the gateway's streams other than Watch: the error's status and one error line", async () => {
    const line = {
      error: { grpc_code: 14, http_code: 503, message: refused.error, http_status: 'Service Unavailable' },
    };
    for (const [route, body] of [
      ['/v3/lease/keepalive', { ID: '1' }],
      ['/v3/maintenance/snapshot', {}],
      ['/v3/election/observe', { name: b64('e') }],
    ] as const) {
      const r = await post(LEARNER, route, body);
      expect([route, r.status, JSON.parse(r.text)]).toEqual([route, 503, line]);
    }
  });
});

describe('a learner and RangeStream (etcd v3.7; edgecd serves it as a serializable Range)', () => {
  const kv = loadServices()['etcdserverpb.KV'];
  /** The chunks of a RangeStream call on `member`, or its error as an Answer. */
  function rangeStream(member: bigint, req: object): Promise<Answer> {
    const c = new grpc.Client(`127.0.0.1:${ports.get(member)}`, grpc.credentials.createInsecure());
    return new Promise((resolve) => {
      const chunks: unknown[] = [];
      const call = c.makeServerStreamRequest(
        '/etcdserverpb.KV/RangeStream',
        kv.RangeStream!.requestSerialize,
        kv.RangeStream!.responseDeserialize,
        req,
      );
      call.on('data', (m) => chunks.push(m));
      call.on('error', (err: grpc.ServiceError) => {
        c.close();
        resolve({ code: err.code, error: err.details });
      });
      call.on('end', () => {
        c.close();
        resolve({ ok: { chunks } });
      });
    });
  }

  it('serves a serializable one on both surfaces and refuses a linearizable one', async () => {
    const refused = { code: grpc.status.UNAVAILABLE, error: 'etcdserver: rpc not supported for learner' };
    expect(await rangeStream(LEARNER, { key: bytes('good') })).toEqual(refused);
    const served = await rangeStream(LEARNER, { key: bytes('good'), serializable: true });
    expect('ok' in served && served.ok.chunks).toHaveLength(1);
    const linearizable = await post(LEARNER, '/edgecd/v1/kv/rangestream', { key: b64('good') });
    expect([linearizable.status, JSON.parse(linearizable.text).error.message]).toEqual([503, refused.error]);
    const serializable = await post(LEARNER, '/edgecd/v1/kv/rangestream', {
      key: b64('good'),
      serializable: true,
    });
    expect(serializable.status).toBe(200);
    expect(JSON.parse(serializable.text).result.range_response.count).toBe('1');
  });
});

describe('the surfaces take the limits from the node', () => {
  it('EdgeNode.limits: the members were given --max-request-bytes, and --max-txn-ops is the default', () => {
    const node: EdgeNode = cluster.nodes[0];
    expect(node.limits).toEqual({ maxRequestBytes: MAX_REQUEST_BYTES, maxTxnOps: 128 });
  });
});
