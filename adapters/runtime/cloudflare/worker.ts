// The edgecd Worker (wrangler.toml `main`): etcd's HTTP/JSON gateway at /v3/* (and /v3beta/*), /health,
// /version and /metrics, served by the cluster's Durable Objects (EdgecdMember, exported here for the binding).
//
// Routing: each request goes to one member, picked at random — any member serves any request, because followers
// forward proposals to the leader and serve linearizable reads through ReadIndex. A request whose member fails
// to answer (the call throws: the object is being reset, or is unreachable) is retried on the next member when it
// cannot have changed anything (reads, status, health); a write is not retried — it may have been applied — and
// gets etcd's "unavailable" error (HTTP 503, code 14), as a client of etcd sees when its member dies mid-call.
// Streams (/v3/watch, /v3/lease/keepalive) are passed through as they are, body and reply streaming.

import { Hono } from 'hono';
import { EtcdError } from '../../../src/api/errors.ts';
import { gatewayError } from '../../../src/api/gateway/http.ts';
import { ETCD_VERSION } from '../../../src/server/node.ts';
import { encodeReply, PEER_CONTENT_TYPE, PEER_FETCH_PATH } from '../../transport/fetch/index.ts';
import { clusterConfig } from './config.ts';
import { type EdgecdEnv, EdgecdMember, memberStub } from './member.ts';

export { AlarmClock } from './clock.ts';
export { clusterConfig } from './config.ts';
export type { EdgecdEnv, MemberStatus } from './member.ts';
export { EdgecdMember };

/** Requests that change nothing, safe to retry on another member. Paths as after /v3beta → /v3. */
const READ_ONLY = new Set([
  '/v3/kv/range',
  '/v3/lease/timetolive',
  '/v3/lease/leases',
  '/v3/cluster/member/list',
  '/v3/maintenance/status',
  '/v3/maintenance/hash',
  '/v3/maintenance/hashkv',
  '/health',
  '/version',
  '/metrics',
]);

/** Bidirectional streams: the request body is read by the member as it arrives. */
const STREAMS = new Set(['/v3/watch', '/v3/lease/keepalive']);

function normalize(path: string): string {
  return path.replace(/^\/v3beta\//, '/v3/');
}

/** Member indexes in the order to try: a random start, then round the ring. */
function order(n: number): number[] {
  const start = Math.floor(Math.random() * n);
  return Array.from({ length: n }, (_, i) => (start + i) % n);
}

function unavailable(error: unknown): Response {
  const reason = error instanceof Error ? error.message : String(error);
  return gatewayError(new EtcdError('Unavailable', `edgecd: member unavailable: ${reason}`));
}

async function forward(request: Request, env: EdgecdEnv): Promise<Response> {
  const { members } = clusterConfig(env);
  const path = normalize(new URL(request.url).pathname);
  const tries = order(members.length);
  if (STREAMS.has(path)) {
    try {
      const res = await memberStub(env, members[tries[0]].name).fetch(request);
      // `Content-Encoding: identity` keeps Cloudflare (and wrangler dev, which mimics it) from gzipping the
      // stream: a compressor would hold every event back until its buffer fills.
      const reply = new Response(res.body, res);
      reply.headers.set('content-encoding', 'identity');
      return reply;
    } catch (error) {
      return unavailable(error);
    }
  }
  const body =
    request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
  const retryable = READ_ONLY.has(path) || request.method === 'GET' || request.method === 'OPTIONS';
  let lastError: unknown;
  for (const i of retryable ? tries : tries.slice(0, 1)) {
    try {
      const copy = new Request(request.url, { method: request.method, headers: request.headers, body });
      return await memberStub(env, members[i].name).fetch(copy);
    } catch (error) {
      lastError = error;
    }
  }
  return unavailable(lastError);
}

export const app = new Hono<{ Bindings: EdgecdEnv }>();

app.get('/', (c) => {
  const config = clusterConfig(c.env);
  return c.json({
    name: 'edgecd',
    etcdVersion: ETCD_VERSION,
    clusterId: config.clusterId.toString(),
    members: config.members.map((m) => ({ name: m.name, id: m.id.toString() })),
    gateway: '/v3/',
  });
});

// Peer batches from members outside the namespace (Node members' HTTP links, ../../transport/tcp/http-link.ts):
// POST /edgecd/peer/<member name> goes to that member's PEER_FETCH_PATH. Opt-in (EDGECD_PEER_HTTP = "on"): the
// batch is checked against the cluster ID and member IDs only, which are derived from names and the token, so
// anyone who can reach the Worker could then inject Raft messages; put it behind access control when enabled.
app.post('/edgecd/peer/:member', async (c) => {
  if ((c.env as { EDGECD_PEER_HTTP?: string }).EDGECD_PEER_HTTP !== 'on') {
    return c.text('404 page not found', 404);
  }
  const name = c.req.param('member');
  if (!clusterConfig(c.env).members.some((m) => m.name === name)) return c.text('404 page not found', 404);
  const url = new URL(c.req.url);
  url.pathname = PEER_FETCH_PATH;
  try {
    const body = await c.req.raw.arrayBuffer();
    return await memberStub(c.env, name).fetch(
      new Request(url, { method: 'POST', headers: { 'content-type': PEER_CONTENT_TYPE }, body }),
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return new Response(encodeReply({ ok: false, code: 'closed', reason }) as Uint8Array<ArrayBuffer>, {
      status: 503,
      headers: { 'content-type': PEER_CONTENT_TYPE },
    });
  }
});

const forwardRoute = (c: { req: { raw: Request }; env: EdgecdEnv }) => forward(c.req.raw, c.env);
for (const path of ['/health', '/version', '/metrics', '/v3/*', '/v3beta/*', '/v3alpha/*', '/edgecd/v1/*']) {
  app.all(path, forwardRoute);
}
app.notFound((c) => c.text('404 page not found', 404));
app.onError((error) => unavailable(error));

export default app;
