// Gateway behaviour outside the shared conformance suite: leaderless /health, `hasleader`, the cluster-state feed,
// the request size limit, options.metrics, watch streams ending on disconnect, Authenticate with auth off, MoveLeader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/api/gateway/index.ts';
import { LineReader } from '../conformance/gateway.ts';
import { startMemoryCluster } from '../support/memory-cluster.ts';
import { startCluster, type TestCluster } from './cluster.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const post = (path: string, body: unknown, init: RequestInit = {}) =>
  new Request(`http://gw.test${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });

describe('gateway on a healthy cluster', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster();
  });
  afterAll(() => cluster.close());

  it('a body above maxRequestBytes is "request is too large" (400, code 3)', async () => {
    const gw = createGateway(cluster.nodes[0], { maxRequestBytes: 1024 });
    const res = await gw(post('/v3/kv/put', { key: b64('big'), value: b64('x'.repeat(2000)) }));
    expect(res.status).toBe(400);
    const msg = 'etcdserver: request is too large';
    expect(await res.json()).toEqual({ error: msg, message: msg, code: 3 });
    const ok = await gw(post('/v3/kv/put', { key: b64('small'), value: b64('x') }));
    expect(ok.status).toBe(200);
  });

  it('options.extraMetrics follows the gateway own gauges on /metrics', async () => {
    const gw = createGateway(cluster.nodes[0], { extraMetrics: async () => 'custom_metric 1\n' });
    const res = await gw(new Request('http://gw.test/metrics'));
    const text = await res.text();
    expect(text).toMatch(/^etcd_server_has_leader 1\n/m);
    expect(text.endsWith('\ncustom_metric 1\n')).toBe(true);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('/metrics counts the leader change it observed', async () => {
    const res = await createGateway(cluster.nodes[2])(new Request('http://gw.test/metrics'));
    const text = await res.text();
    expect(text).toMatch(/^etcd_server_leader_changes_seen_total 1$/m);
    expect(text).toMatch(/^etcd_server_version\{server_version="3.4.23"\} 1$/m);
  });

  it('cluster-state: NDJSON snapshots, a new one after a change, ends on disconnect', async () => {
    const gw = createGateway(cluster.nodes[0], { clock: cluster.clock });
    const ac = new AbortController();
    const res = await gw(new Request('http://gw.test/edgecd/v1/cluster-state', { signal: ac.signal }));
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const reader = res.body!.getReader();
    const lines = new LineReader(reader);
    const first = (await lines.next())!;
    expect(first).toMatchObject({ id: '1', name: 'n1', term: expect.any(Number) });
    expect(['leader', 'follower']).toContain(first.role);
    expect((first.members as unknown[]).length).toBe(3);
    await gw(post('/v3/kv/put', { key: b64('cs'), value: b64('1') }));
    const second = (await lines.next())!;
    expect(second.revision as number).toBeGreaterThan(first.revision as number);
    ac.abort();
    expect(await lines.next()).toBeUndefined();
  });

  it('cluster-state as Server-Sent Events', async () => {
    const ac = new AbortController();
    const res = await createGateway(cluster.nodes[1])(
      new Request('http://gw.test/edgecd/v1/cluster-state', {
        headers: { Accept: 'text/event-stream' },
        signal: ac.signal,
      }),
    );
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const { value } = await res.body!.getReader().read();
    const text = new TextDecoder().decode(value);
    expect(text).toMatch(/^data: \{.*\}\n\n$/);
    ac.abort();
  });

  it('watch: the stream ends when the client disconnects', async () => {
    const gw = createGateway(cluster.nodes[0]);
    const ac = new AbortController();
    const res = await gw(post('/v3/watch', { create_request: { key: b64('wx') } }, { signal: ac.signal }));
    const lines = new LineReader(res.body!.getReader());
    expect(((await lines.next())!.result as Record<string, unknown>).created).toBe(true);
    ac.abort();
    expect(await lines.next()).toBeUndefined();
  });

  it('watch: a cancel_request in the same body cancels the watcher', async () => {
    const gw = createGateway(cluster.nodes[0]);
    const ac = new AbortController();
    const body = `{"create_request":{"key":"${b64('wy')}","watch_id":3}}{"cancel_request":{"watch_id":3}}`;
    const res = await gw(post('/v3/watch', body, { signal: ac.signal }));
    const lines = new LineReader(res.body!.getReader());
    expect((await lines.next())!.result).toMatchObject({ watch_id: '3', created: true });
    expect((await lines.next())!.result).toMatchObject({ watch_id: '3', canceled: true });
    ac.abort();
  });

  it("unknown /v3/ paths are grpc-gateway 404s; Authenticate with auth off is etcd's error", async () => {
    const gw = createGateway(cluster.nodes[0]);
    const res = await gw(post('/v3/maintenance/downgrade', {}));
    expect(res.status).toBe(404);
    expect((await res.text()).trim()).toBe('Not Found');
    // etcd 3.4's gateway has no AuthStatus route.
    expect((await gw(post('/v3/auth/status', {}))).status).toBe(404);
    const auth = await gw(post('/v3/auth/authenticate', { name: 'root', password: 'x' }));
    expect(auth.status).toBe(412);
    expect(await auth.json()).toMatchObject({ error: 'etcdserver: authentication is not enabled', code: 9 });
  });

  it('MoveLeader: to the leader itself is a no-op, as etcd; unknown target; sent to a follower', async () => {
    const leader = cluster.nodes.find((n) => n.nodeStatus().role === 'leader')!;
    const follower = cluster.nodes.find((n) => n !== leader)!;
    const self = String(leader.nodeStatus().id);
    const toSelf = await createGateway(leader)(
      post('/v3/maintenance/transfer-leadership', { targetID: self }),
    );
    expect(toSelf.status).toBe(200);
    expect(leader.nodeStatus().role).toBe('leader');
    const unknown = await createGateway(leader)(
      post('/v3/maintenance/transfer-leadership', { targetID: '999' }),
    );
    expect(await unknown.json()).toMatchObject({ message: 'etcdserver: bad leader transferee', code: 9 });
    const fromFollower = await createGateway(follower)(
      post('/v3/maintenance/transfer-leadership', { targetID: self }),
    );
    expect(await fromFollower.json()).toMatchObject({ message: 'etcdserver: not leader', code: 9 });
  });
});

describe('gateway on a member without a leader', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startCluster(3, 1); // one of three members: never elects a leader
  });
  afterAll(() => cluster.close());

  it('/health is {"health":"false"} with 503; /metrics has_leader 0', async () => {
    const gw = createGateway(cluster.nodes[0]);
    const res = await gw(new Request('http://gw.test/health'));
    expect(res.status).toBe(503);
    expect(JSON.parse(await res.text())).toEqual({ health: 'false' });
    const metrics = await (await gw(new Request('http://gw.test/metrics'))).text();
    expect(metrics).toMatch(/^etcd_server_has_leader 0$/m);
  });

  it('Grpc-Metadata-Hasleader: true (etcd\'s hasleader metadata) is "no leader" at once, unary or streaming', async () => {
    const gw = createGateway(cluster.nodes[0]);
    const hasLeader = { headers: { 'Grpc-Metadata-Hasleader': 'true' } };
    const put = await gw(post('/v3/kv/put', { key: b64('k'), value: b64('v') }, hasLeader));
    expect(put.status).toBe(503);
    const msg = 'etcdserver: no leader';
    expect(await put.json()).toEqual({ error: msg, message: msg, code: 14 });
    const watch = await gw(post('/v3/watch', { create_request: { key: b64('k') } }, hasLeader));
    expect(watch.status).toBe(503);
    expect(JSON.parse(await watch.text())).toEqual({
      error: { grpc_code: 14, http_code: 503, message: msg, http_status: 'Service Unavailable' },
    });
  });

  it('/metrics: a write waiting for a leader is pending, then failed once its deadline passes', async () => {
    const lonely = await startMemoryCluster({ size: 3, started: 1, node: { requestTimeoutMs: 300 } });
    try {
      const gw = createGateway(lonely.nodes[0]);
      const metric = async (name: string) => {
        const text = await (await gw(new Request('http://gw.test/metrics'))).text();
        return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
      };
      // The member's own publish proposal waits for a leader too (and retries), so compare with before.
      const failedBefore = await metric('etcd_server_proposals_failed_total');
      const put = gw(post('/v3/kv/put', { key: b64('k'), value: b64('v') }));
      await new Promise((r) => setTimeout(r, 50));
      expect(await metric('etcd_server_proposals_pending')).toBeGreaterThanOrEqual(1);
      expect(await (await put).json()).toMatchObject({ error: 'etcdserver: no leader' });
      expect(await metric('etcd_server_proposals_failed_total')).toBeGreaterThan(failedBefore);
    } finally {
      await lonely.close();
    }
  });
});
