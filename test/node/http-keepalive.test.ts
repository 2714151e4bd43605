// The client port's HTTP/1.1 side keeps a keep-alive connection usable after a refused request: a body over
// --max-request-bytes (declared or streamed) gets etcd's 400 and either its rest is drained or the connection is
// closed on purpose (`Connection: close`), so the client's next request never lands on a poisoned socket. Node's
// fetch (undici) reuses sockets, as the etcd3 client's and most HTTP clients do.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

let cluster: MemoryCluster;
let server: ClientServer;
let base: string;
const LIMIT = 512 * 1024;
const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1 });
  const node = cluster.nodes[0];
  server = await startClientServer({
    node,
    gateway: createGateway(node, { maxRequestBytes: LIMIT }),
    maxRequestBytes: LIMIT,
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server?.close();
  await cluster?.close();
});

const put = (key: string, value: string) =>
  fetch(`${base}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(key), value: b64(value) }) });

/** One keep-alive agent, one socket: every request goes over the same connection unless the server closes it. */
function request(agent: http.Agent, path: string, body: Buffer | string, chunked = false) {
  return new Promise<{ status: number; body: string; socket: unknown }>((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method: 'POST', agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => {
        text += d;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, socket: req.socket }));
    });
    req.on('error', reject);
    if (chunked) {
      // No content-length: the size is only known while reading.
      const half = Math.ceil(Buffer.byteLength(body) / 2);
      const buf = Buffer.from(body);
      req.write(buf.subarray(0, half));
      req.end(buf.subarray(half));
    } else {
      req.setHeader('content-length', Buffer.byteLength(body));
      req.end(body);
    }
  });
}

describe('HTTP/1.1 keep-alive after refused requests', () => {
  it('fetch: oversized put, then a malformed one, then a normal one, all answered', async () => {
    const big = 'x'.repeat(LIMIT * 4);
    for (let round = 0; round < 5; round++) {
      const tooLarge = await put('big', big);
      expect(tooLarge.status).toBe(400);
      expect(await tooLarge.json()).toMatchObject({ code: 3, error: 'etcdserver: request is too large' });
      const malformed = await fetch(`${base}/v3/kv/put`, { method: 'POST', body: '{"key": ' });
      expect(malformed.status).toBe(400);
      await malformed.text();
      const ok = await put(`k${round}`, 'v');
      expect(ok.status).toBe(200);
      await ok.json();
    }
  });

  it('http.Agent with one socket: declared and streamed oversized bodies, then normal requests', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const big = Buffer.alloc(LIMIT * 8, 'y');
      const normal = JSON.stringify({ key: b64('after'), value: b64('v') });
      for (const chunked of [false, true]) {
        const refused = await request(agent, '/v3/kv/put', big, chunked);
        expect(refused.status).toBe(400);
        expect(JSON.parse(refused.body)).toMatchObject({ code: 3 });
        const ok = await request(agent, '/v3/kv/put', normal);
        expect(ok.status).toBe(200);
        const again = await request(agent, '/v3/kv/range', JSON.stringify({ key: b64('after') }));
        expect(again.status).toBe(200);
        expect(JSON.parse(again.body).kvs).toHaveLength(1);
      }
    } finally {
      agent.destroy();
    }
  });

  it('a JSON body nested 100,000 deep gets 400 with code 3, not a 500', async () => {
    for (const [open, depth] of [
      ['[', 100_000],
      ['{"a":', 20_000],
    ] as const) {
      const r = await fetch(`${base}/v3/kv/put`, { method: 'POST', body: open.repeat(depth) });
      expect(r.status).toBe(400);
      expect(await r.json()).toMatchObject({
        code: 3,
        error: `invalid character '${open[0]}' exceeded max depth`,
      });
    }
    // Go's limit is 10,000 levels: 10,000 still parses (and is then the wrong type for the field).
    const r = await fetch(`${base}/v3/kv/put`, {
      method: 'POST',
      body: `{"key":${'['.repeat(9_999)}${']'.repeat(9_999)}}`,
    });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { error: string }).error).not.toContain('max depth');
    const ok = await put('still', 'up');
    expect(ok.status).toBe(200);
  });
});
