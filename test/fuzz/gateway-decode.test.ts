// Property tests of the JSON gateway's request decoding (src/api/gateway/: json-scan.ts, decode.ts), fixed seed,
// FUZZ_RUNS runs per property (default 300; `npm run fuzz` raises it):
// - the decoders alone, on any bytes and on JSON shaped like etcd's requests with values of every wrong type:
//   a request, or a JsonSyntaxError / an InvalidArgument EtcdError with Go's text — never a TypeError or
//   RangeError (a crash in the decoder);
// - the whole fetch handler of a real in-process member: every answer is etcd's error body with a known code (a
//   JavaScript exception would surface as code 2 with its own text), and an error applied nothing (the revision
//   and the key count stay as they were).

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as d from '../../src/api/gateway/decode.ts';
import { firstValue } from '../../src/api/gateway/http.ts';
import { createGateway, type FetchHandler } from '../../src/api/gateway/index.ts';
import { JsonStreamDecoder, JsonSyntaxError } from '../../src/api/gateway/json-scan.ts';
import { EtcdError } from '../../src/etcd/errors.ts';
import type { EdgeNode } from '../../src/index.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
// Long budgets (`npm run fuzz`) need more than the default 30 s per test.
vi.setConfig({ testTimeout: 30_000 + RUNS * 20 });

const DECODERS: Record<string, [goType: string, decode: (m: d.MessageReader) => unknown]> = {
  range: ['etcdserverpb.RangeRequest', d.decodeRange],
  put: ['etcdserverpb.PutRequest', d.decodePut],
  deleterange: ['etcdserverpb.DeleteRangeRequest', d.decodeDeleteRange],
  txn: ['etcdserverpb.TxnRequest', d.decodeTxn],
  compaction: ['etcdserverpb.CompactionRequest', d.decodeCompaction],
  watch: ['etcdserverpb.WatchRequest', d.decodeWatch],
  leaseGrant: ['etcdserverpb.LeaseGrantRequest', d.decodeLeaseGrant],
  leaseId: ['etcdserverpb.LeaseRevokeRequest', d.decodeLeaseId],
  timeToLive: ['etcdserverpb.LeaseTimeToLiveRequest', d.decodeLeaseTimeToLive],
  memberAdd: ['etcdserverpb.MemberAddRequest', d.decodeMemberAdd],
  memberId: ['etcdserverpb.MemberRemoveRequest', d.decodeMemberId],
  moveLeader: ['etcdserverpb.MoveLeaderRequest', d.decodeMoveLeader],
  hashKV: ['etcdserverpb.HashKVRequest', d.decodeHashKV],
  alarm: ['etcdserverpb.AlarmRequest', d.decodeAlarm],
};

const FIELDS = [
  'key',
  'range_end',
  'rangeEnd',
  'value',
  'lease',
  'limit',
  'revision',
  'sort_order',
  'sort_target',
  'serializable',
  'keys_only',
  'count_only',
  'min_mod_revision',
  'prev_kv',
  'ignore_value',
  'ignore_lease',
  'compare',
  'success',
  'failure',
  'result',
  'target',
  'version',
  'create_revision',
  'mod_revision',
  'request_put',
  'request_range',
  'request_delete_range',
  'request_txn',
  'create_request',
  'cancel_request',
  'progress_request',
  'start_revision',
  'filters',
  'watch_id',
  'fragment',
  'physical',
  'TTL',
  'ID',
  'keys',
  'peerURLs',
  'isLearner',
  'targetID',
  'action',
  'memberID',
  'alarm',
  'name',
  'password',
  'role',
  'user',
  'perm',
  'permType',
  '__proto__',
  'constructor',
];

/** A JSON scalar of any type, including the awkward ones: huge and fractional numbers, numbers in strings. */
const scalar = fc.oneof(
  fc.constant('null'),
  fc.boolean().map(String),
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.constantFrom(
    '1e400',
    '-0',
    '0.5',
    '1E2',
    '9007199254740993',
    '18446744073709551616',
    '-9223372036854775809',
  ),
  fc.bigInt({ min: -(2n ** 66n), max: 2n ** 66n }).map((n) => JSON.stringify(String(n))),
  fc.constantFrom('"AA=="', '"a2V5"', '"!!"', '"a"', '""', '"PUT"', '"DESCEND"', '"NOSPACE"', '"\\ud800"'),
  fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
  fc.uint8Array({ maxLength: 8 }).map((b) => JSON.stringify(Buffer.from(b).toString('base64'))),
);

/** JSON text shaped like a request: objects keyed by etcd's field names, any value anywhere. */
const { json } = fc.letrec<{ json: string; obj: string; arr: string }>((tie) => ({
  json: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('obj'), tie('arr')),
  obj: fc
    .array(fc.tuple(fc.oneof(fc.constantFrom(...FIELDS), fc.string({ maxLength: 4 })), tie('json')), {
      maxLength: 5,
    })
    .map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  arr: fc.array(tie('json'), { maxLength: 3 }).map((a) => `[${a.join(',')}]`),
}));

/** Well-formed request-like JSON, then possibly cut, spliced or with bytes flipped. */
const body = fc.oneof(
  json.map((s) => Buffer.from(s)),
  fc.tuple(json, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3 })).map(([s, at, bytes]) => {
    const b = Buffer.from(s);
    const i = at % (b.length + 1);
    return Buffer.concat([b.subarray(0, i), bytes, b.subarray(i + (at % 2))]);
  }),
  fc.tuple(json, fc.nat()).map(([s, at]) => Buffer.from(s).subarray(0, at % (s.length + 1))),
  fc.uint8Array({ maxLength: 32 }).map((b) => Buffer.from(b)),
);

function decodeOrError(kind: string, bytes: Uint8Array): unknown {
  const [goType, decode] = DECODERS[kind];
  try {
    return decode(d.MessageReader.of(firstValue(bytes), goType));
  } catch (err) {
    if (err instanceof JsonSyntaxError) return err;
    if (err instanceof EtcdError && err.codeName === 'InvalidArgument') return err;
    throw err;
  }
}

describe('gateway request decoders', () => {
  it(
    'any request-like JSON, cut or spliced: a request or a JSON / InvalidArgument error',
    () => {
      fc.assert(
        fc.property(fc.constantFrom(...Object.keys(DECODERS)), body, (kind, bytes) => {
          decodeOrError(kind, bytes);
        }),
        { seed: SEED, numRuns: RUNS * 10 },
      );
    },
    30_000 + RUNS * 10,
  );

  it(
    'a streaming body split anywhere gives the values of the whole body, or the same error',
    () => {
      fc.assert(
        fc.property(fc.array(body, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 4 }), (parts, cuts) => {
          const whole = Buffer.concat(parts);
          const run = (chunks: Uint8Array[]) => {
            const dec = new JsonStreamDecoder();
            const got: unknown[] = [];
            try {
              for (const c of chunks) {
                dec.push(c);
                for (let v = dec.next(false); v !== undefined; v = dec.next(false)) got.push(v);
              }
              for (let v = dec.next(true); v !== undefined; v = dec.next(true)) got.push(v);
            } catch (err) {
              if (!(err instanceof JsonSyntaxError)) throw err;
              got.push(`error: ${err.message}`);
            }
            return got;
          };
          const points = [...new Set(cuts.map((c) => c % (whole.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...points].map((p, i) => whole.subarray(p, [...points, whole.length][i]));
          expect(run(chunks)).toEqual(run([whole]));
        }),
        { seed: SEED, numRuns: RUNS * 3 },
      );
    },
    30_000 + RUNS * 10,
  );

  it('nesting of 100,000 arrays is refused with Go\'s "exceeded max depth", not a stack overflow', () => {
    const deep = Buffer.from(`{"compare":${'['.repeat(100_000)}`);
    const err = decodeOrError('txn', deep);
    expect(err).toBeInstanceOf(JsonSyntaxError);
    expect((err as Error).message).toBe("invalid character '[' exceeded max depth");
  });
});

// Unary routes a stranger can POST to. Left out: those that block by design (lock, campaign), change the
// membership or the leader, or turn auth on (the later requests would then all be refused the same way).
const PATHS = [
  '/v3/kv/range',
  '/v3/kv/put',
  '/v3/kv/deleterange',
  '/v3/kv/txn',
  '/v3/kv/compaction',
  '/v3/lease/grant',
  '/v3/lease/revoke',
  '/v3/lease/timetolive',
  '/v3/lease/leases',
  '/v3/cluster/member/list',
  '/v3/maintenance/status',
  '/v3/maintenance/hash',
  '/v3/maintenance/alarm',
  '/v3/auth/authenticate',
  '/v3/auth/user/get',
  '/v3/auth/user/add',
  '/v3/auth/role/add',
  '/v3/auth/role/grant',
  '/v3/lock/unlock',
  '/v3/election/proclaim',
  '/v3/election/leader',
  '/v3/election/resign',
];

/** gRPC codes a decoding or validation failure may carry; 2 (Unknown) only with one of etcd's own texts. */
const EXPECTED_CODES = new Set([3, 5, 6, 7, 9, 11, 16]);
const UNKNOWN_TEXTS = [/^election: no leader$/, /^"leader" field must be provided$/, /^etcdserver: /];
/** A stream's first request that does not decode: grpc-gateway returns the decoder's own text as code 2. */
const STREAM_DECODE_TEXTS = [
  /^json: /,
  /^invalid character /,
  /^unexpected EOF$/,
  /^illegal base64 /,
  /^unknown value /,
];

describe('gateway fetch handler on a live member', () => {
  let cluster: MemoryCluster;
  let node: EdgeNode;
  let gw: FetchHandler;
  beforeAll(async () => {
    cluster = await startMemoryCluster({ size: 1 });
    node = cluster.nodes[0];
    gw = createGateway(node);
  });
  afterAll(() => cluster.close());

  it(
    "any body on any unary path: a response or etcd's error; an error applies nothing",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom(...PATHS), body, async (path, bytes) => {
          const before = node.nodeStatus();
          const res = await gw(new Request(`http://gw.test${path}`, { method: 'POST', body: bytes }));
          const text = await res.text();
          if (res.status === 200) return;
          const err = JSON.parse(text) as { error: string; message: string; code: number };
          expect(err.message).toBe(err.error);
          if (err.code === 2)
            expect(
              UNKNOWN_TEXTS.some((re) => re.test(err.message)),
              err.message,
            ).toBe(true);
          else expect(EXPECTED_CODES.has(err.code), `${res.status} ${text}`).toBe(true);
          const after = node.nodeStatus();
          expect([after.revision, after.keys, after.alarms]).toEqual([
            before.revision,
            before.keys,
            before.alarms,
          ]);
        }),
        { seed: SEED, numRuns: RUNS },
      );
    },
    30_000 + RUNS * 20,
  );

  it(
    "watch and keepalive streams: the first line is a result or etcd's error, never a crash",
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.constantFrom('/v3/watch', '/v3/lease/keepalive'), body, async (path, bytes) => {
          const ac = new AbortController();
          const res = await gw(
            new Request(`http://gw.test${path}`, { method: 'POST', body: bytes, signal: ac.signal }),
          );
          const reader = res.body!.getReader();
          // The client goes away after 100 ms, as an HTTP server reports it: the response body is canceled (an
          // aborted Request signal alone may never reach the handler in-process: undici holds it weakly).
          const timer = setTimeout(() => {
            ac.abort();
            void reader.cancel().catch(() => {});
          }, 100);
          let text = '';
          try {
            while (!text.includes('\n')) {
              const r = await reader.read();
              if (r.done) break;
              text += new TextDecoder().decode(r.value);
            }
          } catch {
            // aborted: the body held no request (etcd waits for one)
          } finally {
            clearTimeout(timer);
            ac.abort();
          }
          if (text === '') return;
          // A first request that does not decode is a unary-style error body; later ones are `{"error":…}` lines.
          const first = text.includes('\n') ? text.slice(0, text.indexOf('\n')) : text;
          const parsed = JSON.parse(first) as {
            result?: unknown;
            error?: unknown;
            code?: number;
            message?: string;
          };
          const line =
            res.status === 200
              ? (parsed as { result?: unknown; error?: { code: number; message: string } })
              : { error: { code: parsed.code as number, message: parsed.message as string } };
          if (line.error) {
            if (line.error.code === 2) {
              const texts = [...UNKNOWN_TEXTS, ...STREAM_DECODE_TEXTS];
              expect(
                texts.some((re) => re.test(line.error!.message)),
                line.error.message,
              ).toBe(true);
            } else expect(EXPECTED_CODES.has(line.error.code), text).toBe(true);
          } else expect(line.result).toBeDefined();
        }),
        { seed: SEED, numRuns: Math.ceil(RUNS / 3) },
      );
    },
    30_000 + RUNS * 100,
  );
});
