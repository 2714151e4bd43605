// The edgecd Worker (wrangler.toml `main`): etcd's HTTP/JSON gateway at /v3/* (and /v3beta/*), /health,
// /version and /metrics, served by the cluster's Durable Objects (EdgecdMember, exported here for the binding).
//
// Routing: when the Worker hosts members of a joined group (./join.ts, ./routing.ts), a request goes to one of
// those the replicated member list has, learners taking serializable reads and watches. Otherwise it goes to one
// member of the Worker's own cluster (EDGECD_MEMBERS), picked at random — any member serves any request, because
// followers forward proposals to the leader and serve linearizable reads through ReadIndex. A request whose member fails
// to answer (the call throws: the object is being reset, or is unreachable) is retried on the next member when it
// cannot have changed anything (reads, status, health); a write is not retried — it may have been applied — and
// gets etcd's "unavailable" error (HTTP 503, code 14), as a client of etcd sees when its member dies mid-call.
// Streams (/v3/watch, /v3/lease/keepalive) are passed through as they are, body and reply streaming.

import { Hono } from 'hono';
import { gatewayError } from '../../../src/api/gateway/http.ts';
import { EtcdError } from '../../../src/etcd/errors.ts';
import { ETCD_VERSION } from '../../../src/server/node.ts';
import {
  encodeReply,
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
  PEER_SECRET_HEADER,
  peerSecretMatches,
} from '../../transport/fetch/index.ts';
import { clusterConfig } from './config.ts';
import { MEMBER_NAME, WORKER_MEMBER_PREFIX, workerPeerURL } from './join.ts';
import { type EdgecdEnv, EdgecdMember, memberStub } from './member.ts';
import { candidates, directory, forgetView, hostedMembers, servableByLearner } from './routing.ts';

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

/** Sends a client request to the first of `names` that answers (only the first, unless it changes nothing). */
async function forward(request: Request, env: EdgecdEnv, names: readonly string[]): Promise<Response> {
  const path = normalize(new URL(request.url).pathname);
  if (names.length === 0) return unavailable(new Error('no member of the group can serve this request here'));
  if (STREAMS.has(path)) {
    try {
      const res = await memberStub(env, names[0]).fetch(request);
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
  for (const name of retryable ? names : names.slice(0, 1)) {
    try {
      const copy = new Request(request.url, { method: request.method, headers: request.headers, body });
      return await memberStub(env, name).fetch(copy);
    } catch (error) {
      lastError = error;
    }
  }
  return unavailable(lastError);
}

/** The members to try: the joined group's when this Worker hosts one (./routing.ts), else its own cluster's. */
async function route(request: Request, env: EdgecdEnv): Promise<Response> {
  const hosted = await hostedMembers(env);
  if (hosted !== undefined) {
    const path = normalize(new URL(request.url).pathname);
    return forward(request, env, candidates(hosted, await servableByLearner(path, request)));
  }
  const { members } = clusterConfig(env);
  return forward(
    request,
    env,
    order(members.length).map((i) => members[i].name),
  );
}

/**
 * EDGECD_LOCATION_HINTS (`do-edge-eu=weur,do-edge-us=enam`): where to place each joined member's Durable Object
 * (Cloudflare's locationHint, honoured when the object is first created), so edge learners sit near their users.
 */
function locationHints(env: EdgecdEnv): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (env.EDGECD_LOCATION_HINTS ?? '').split(',')) {
    const [name, hint] = part.split('=').map((x) => x.trim());
    if (name && hint) out.set(name, hint);
  }
  return out;
}

/** The cluster's peer secret, when configured, presented by the caller. */
function peerAuthorized(request: Request, env: EdgecdEnv): boolean {
  const expected = env.EDGECD_PEER_SECRET;
  return !!expected && peerSecretMatches(expected, request.headers.get(PEER_SECRET_HEADER));
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

// Peer batches from members outside the namespace (Node members' HTTP links, ../../transport/peer/http-link.ts,
// and members of other Workers): POST /edgecd/peer/<member name> goes to that member's PEER_FETCH_PATH. With
// EDGECD_PEER_SECRET set, a batch must carry it (PEER_SECRET_HEADER) and may go to any member of the namespace
// (joined ones too); the member then checks the batch's cluster ID, target and sender. Without a secret only the
// Worker's own members take batches, and only with EDGECD_PEER_HTTP = "on": the IDs are derived from names and
// the token, so anyone who can reach the Worker could inject Raft messages — loopback development only.
app.post('/edgecd/peer/:member', async (c) => {
  const name = c.req.param('member');
  const fixed = clusterConfig(c.env).members.some((m) => m.name === name);
  const allowed = peerAuthorized(c.req.raw, c.env)
    ? fixed || MEMBER_NAME.test(name)
    : !c.env.EDGECD_PEER_SECRET &&
      (c.env as { EDGECD_PEER_HTTP?: string }).EDGECD_PEER_HTTP === 'on' &&
      fixed;
  if (!allowed) return c.text('403 forbidden: not a member of this cluster', 403);
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

// Starts a Durable Object member that `etcdctl member add` added to a running cluster (./join.ts): the body names
// running members' peer URLs ({ "peers": [...] }, optionally "peerURL"/"clientURL" when the Worker is reached
// under another name than the member was added with, and "locationHint" to place the object). Needs the peer
// secret.
app.post('/edgecd/v1/join/:member', async (c) => {
  if (!c.env.EDGECD_PEER_SECRET) return c.text('joining needs EDGECD_PEER_SECRET set on the Worker', 403);
  if (!peerAuthorized(c.req.raw, c.env)) return c.text('403 forbidden: wrong or missing peer secret', 403);
  const name = c.req.param('member');
  if (!MEMBER_NAME.test(name)) return c.text(`invalid member name "${name}" (a-z, 0-9, -)`, 400);
  if (clusterConfig(c.env).members.some((m) => m.name === name)) {
    return c.text(`"${name}" is one of EDGECD_MEMBERS (this Worker's own cluster)`, 409);
  }
  let body: { peers?: unknown; peerURL?: unknown; clientURL?: unknown; locationHint?: unknown };
  try {
    body = await c.req.json();
  } catch {
    return c.text('body must be JSON: { "peers": ["http://host:2380", ...] }', 400);
  }
  const peers = Array.isArray(body.peers) ? body.peers.filter((p): p is string => typeof p === 'string') : [];
  if (peers.length === 0) return c.text('"peers" must list peer URLs of running members', 400);
  const origin = new URL(c.req.url).origin;
  const text = (v: unknown, fallback: string) => (typeof v === 'string' && v !== '' ? v : fallback);
  const namespace = c.env.EDGECD_MEMBER;
  const placed = typeof body.locationHint === 'string' ? body.locationHint : locationHints(c.env).get(name);
  const hint = placed ? { locationHint: placed } : undefined;
  try {
    const record = await namespace.get(namespace.idFromName(name), hint).join({
      name,
      peerURL: text(body.peerURL, workerPeerURL(origin, name)),
      clientURL: text(body.clientURL, `${origin}${WORKER_MEMBER_PREFIX}${name}`),
      peers,
    });
    await directory(c.env).directoryAdd(name);
    forgetView();
    return c.json(record);
  } catch (error) {
    return c.text(error instanceof Error ? error.message : String(error), 409);
  }
});

// One member's client API (a joined member's client URL): /edgecd/member/<name>/v3/... goes to that member only.
app.all('/edgecd/member/:member/*', async (c) => {
  const name = c.req.param('member');
  if (!MEMBER_NAME.test(name) || !(await directory(c.env).directoryList()).includes(name)) {
    return c.text('404 page not found', 404);
  }
  const url = new URL(c.req.url);
  url.pathname = url.pathname.slice(`${WORKER_MEMBER_PREFIX}${name}`.length) || '/';
  return forward(new Request(url, c.req.raw), c.env, [name]);
});

const forwardRoute = (c: { req: { raw: Request }; env: EdgecdEnv }) => route(c.req.raw, c.env);
for (const path of ['/health', '/version', '/metrics', '/v3/*', '/v3beta/*', '/v3alpha/*', '/edgecd/v1/*']) {
  app.all(path, forwardRoute);
}
app.notFound((c) => c.text('404 page not found', 404));
app.onError((error) => unavailable(error));

export default app;
