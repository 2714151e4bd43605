// KV.RangeStream on the JSON gateway (edgecd's /edgecd/v1/kv/rangestream; etcd v3.7 maps RangeStream to no gateway
// path), in process: newline-terminated `{"result":{"range_response":…}}` lines that merge into /v3/kv/range's
// answer, read lazily (a compaction while the client is not reading ends the reply with an `{"error":…}` line),
// refusals as grpc-gateway answers a server stream refused before its first message, and /v3/ left as etcd's.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway, type FetchHandler } from '../../src/api/gateway/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

const MAX_REQUEST_BYTES = 16 * 1024;
const KEYS = 1000;
const te = new TextEncoder();
const b64 = (s: string) => Buffer.from(s).toString('base64');
const keyOf = (i: number) => `k${String(i).padStart(4, '0')}`;
const PREFIX = { key: b64('k'), range_end: b64('l') };
const PATH = 'http://127.0.0.1/edgecd/v1/kv/rangestream';

type Json = Record<string, unknown> & { kvs?: unknown[]; header?: { revision?: string } };

let cluster: MemoryCluster;
let node: EdgeNode;
let gateway: FetchHandler;

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1, node: { maxRequestBytes: MAX_REQUEST_BYTES } });
  node = cluster.nodes[0]!;
  for (let i = 0; i < KEYS; i += 20) {
    const success = [];
    for (let j = i; j < i + 20; j++)
      success.push({ requestPut: { key: te.encode(keyOf(j)), value: te.encode('v'.repeat(j % 500)) } });
    await node.txn({ compare: [], success, failure: [] });
  }
  gateway = createGateway(node);
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

const post = (url: string, body: unknown) =>
  gateway(new Request(url, { method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body) }));

/** The reply's lines, parsed. */
async function lines(res: Response): Promise<Record<string, unknown>[]> {
  const text = await res.text();
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The range_response of every result line, merged; only the last may carry header, more and count. */
function merge(results: readonly Record<string, unknown>[]): Json {
  const chunks = results.map((l) => (l.result as { range_response: Json }).range_response);
  for (const c of chunks.slice(0, -1)) expect(Object.keys(c)).toEqual(['kvs']);
  const last = chunks[chunks.length - 1]!;
  expect(last.header).toBeDefined();
  const kvs = chunks.flatMap((c) => c.kvs ?? []);
  return { ...last, ...(kvs.length > 0 ? { kvs } : {}) };
}

describe('/edgecd/v1/kv/rangestream', () => {
  it('streams result lines that merge into /v3/kv/range’s answer', async () => {
    for (const req of [
      PREFIX,
      { ...PREFIX, limit: 123 },
      { ...PREFIX, keys_only: true },
      { ...PREFIX, count_only: true },
      { key: b64(keyOf(3)) },
      { key: b64('x') },
      { ...PREFIX, sort_target: 'VERSION', serializable: true },
    ]) {
      const expected = (await (await post('http://127.0.0.1/v3/kv/range', req)).json()) as Json;
      const res = await post(PATH, req);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const results = await lines(res);
      expect(merge(results)).toEqual(expected);
    }
    const whole = await lines(await post(PATH, PREFIX));
    expect(whole.length).toBeGreaterThan(5);
    expect(merge(whole).count).toBe(String(KEYS));
  });

  it('reads the next chunk only when the client takes the previous one', async () => {
    const res = await post(PATH, PREFIX);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    const r = await node.put({ key: te.encode('a'), value: te.encode('moves the revision') });
    await node.compact({ revision: r.header.revision });
    let text = new TextDecoder().decode(first.value);
    for (let c = await reader.read(); !c.done; c = await reader.read())
      text += new TextDecoder().decode(c.value);
    const all = text.trim().split('\n');
    expect(all.length).toBeLessThan(5);
    expect(JSON.parse(all[all.length - 1]!)).toEqual({
      error: {
        grpc_code: 11,
        http_code: 400,
        message: 'etcdserver: mvcc: required revision has been compacted',
        http_status: 'Bad Request',
      },
    });
  });

  it('answers refusals as grpc-gateway answers a stream refused before its first message', async () => {
    const refused = await post(PATH, { ...PREFIX, sort_order: 'DESCEND' });
    expect(refused.status).toBe(501);
    expect(await lines(refused)).toEqual([
      {
        error: {
          grpc_code: 12,
          http_code: 501,
          message: 'RangeStream does not support custom sort orders',
          http_status: 'Not Implemented',
        },
      },
    ]);
    const filtered = await post(PATH, { ...PREFIX, min_create_revision: '3' });
    expect(filtered.status).toBe(501);
    const empty = await post(PATH, {});
    expect(empty.status).toBe(400);
    expect((await lines(empty))[0]).toMatchObject({ error: { message: 'etcdserver: key is not provided' } });
    // A body that does not decode is an ordinary error reply.
    const bad = await post(PATH, '{"key":');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'unexpected EOF', message: 'unexpected EOF', code: 3 });
  });

  it('leaves etcd’s /v3/ paths as etcd has them: no /v3/kv/rangestream', async () => {
    const res = await post('http://127.0.0.1/v3/kv/rangestream', PREFIX);
    expect([res.status, await res.text()]).toEqual([404, 'Not Found\n']);
    const get = await gateway(new Request(PATH));
    expect(get.status).toBe(404);
  });
});
