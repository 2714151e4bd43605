// The gateway's /v3/auth/* routes and how identity reaches the node: the `Authorization` header (and
// `Grpc-Metadata-Token`) as the token on every route, streams included, and the host-supplied client certificate
// CN (the fetch handler's second argument). Bodies and statuses as etcd 3.4.23's gateway answers them (checked
// against a real etcd; see test/e2e/auth.test.ts for the side-by-side run).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createGateway, type FetchHandler } from '../../src/api/gateway/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { LineReader } from '../conformance/gateway.ts';
import { waitFor } from './cluster.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
// biome-ignore lint/suspicious/noExplicitAny: JSON replies, checked by the assertions
type J = any;

/** The next `{"result":…}` line of a stream. */
async function nextResult(lines: LineReader): Promise<J> {
  return ((await lines.next()) as J)?.result;
}

function post(path: string, body: unknown, token?: string, signal?: AbortSignal): Request {
  return new Request(`http://gw.test${path}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: token === undefined ? {} : { Authorization: token },
    signal,
  });
}

let node: EdgeNode;
let gw: FetchHandler;

async function call(path: string, body: unknown, token?: string): Promise<{ status: number; json: J }> {
  const res = await gw(post(path, body, token));
  return { status: res.status, json: await res.json() };
}

async function tokenOf(name: string, password: string): Promise<string> {
  const r = await call('/v3/auth/authenticate', { name, password });
  expect(r.status).toBe(200);
  expect(typeof r.json.token).toBe('string');
  return r.json.token as string;
}

const denied = { error: 'etcdserver: permission denied', message: 'etcdserver: permission denied', code: 7 };

beforeAll(async () => {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [{ id: 1n, name: 'n1', peerURLs: ['mem://n1'] }];
  node = await createNode({
    id: 1n,
    name: 'n1',
    clusterId: 42n,
    members,
    clientURLs: ['http://n1.test:2379'],
    storage: new MemoryStorage(),
    transport: network.transport(1n),
    clock,
    random: cryptoRandom,
    tickMs: 10,
    electionTimeoutMs: 100,
    auth: { bcryptCost: 4 },
  });
  await waitFor(() => node.nodeStatus().leader !== 0n);
  gw = createGateway(node);
});

afterAll(async () => {
  await node?.close();
});

describe('gateway auth', () => {
  it('enabling needs root with the root role; then requests need a token', async () => {
    expect(await call('/v3/auth/enable', {})).toMatchObject({
      status: 412,
      json: { error: 'etcdserver: root user does not exist', code: 9 },
    });
    expect((await call('/v3/auth/user/add', { name: 'root', password: 'rootpw' })).status).toBe(200);
    expect(await call('/v3/auth/enable', {})).toMatchObject({
      status: 412,
      json: { error: 'etcdserver: root user does not have root role', code: 9 },
    });
    expect((await call('/v3/auth/role/add', { name: 'root' })).status).toBe(200);
    expect((await call('/v3/auth/user/grant', { user: 'root', role: 'root' })).status).toBe(200);
    const enabled = await call('/v3/auth/enable', {});
    expect(enabled.status).toBe(200);
    expect(Object.keys(enabled.json)).toEqual(['header']);

    expect(await call('/v3/kv/range', { key: b64('a') })).toEqual({
      status: 400,
      json: {
        error: 'etcdserver: user name is empty',
        message: 'etcdserver: user name is empty',
        code: 3,
      },
    });
  });

  it('authenticate → token; Authorization accepted; a forged token is 401', async () => {
    const root = await tokenOf('root', 'rootpw');
    expect((await call('/v3/kv/put', { key: b64('a'), value: b64('1') }, root)).status).toBe(200);
    expect(await call('/v3/kv/range', { key: b64('a') }, 'forged.token')).toEqual({
      status: 401,
      json: {
        error: 'etcdserver: invalid auth token',
        message: 'etcdserver: invalid auth token',
        code: 16,
      },
    });
    // grpc-gateway forwards Grpc-Metadata-Token as metadata `token`, which etcd checks before `authorization`.
    const res = await gw(
      new Request('http://gw.test/v3/kv/range', {
        method: 'POST',
        body: JSON.stringify({ key: b64('a') }),
        headers: { 'Grpc-Metadata-Token': root, Authorization: 'forged' },
      }),
    );
    expect(res.status).toBe(200);
  });

  it('wrong password and unknown user fail alike', async () => {
    const failed = {
      status: 400,
      json: {
        error: 'etcdserver: authentication failed, invalid user ID or password',
        message: 'etcdserver: authentication failed, invalid user ID or password',
        code: 3,
      },
    };
    expect(await call('/v3/auth/authenticate', { name: 'root', password: 'nope' })).toEqual(failed);
    expect(await call('/v3/auth/authenticate', { name: 'nobody', password: 'x' })).toEqual(failed);
  });

  it('roles, permissions and users with etcd field names and encodings', async () => {
    const root = await tokenOf('root', 'rootpw');
    expect((await call('/v3/auth/role/add', { name: 'app' }, root)).status).toBe(200);
    const grant = await call(
      '/v3/auth/role/grant',
      { name: 'app', perm: { permType: 'READWRITE', key: b64('/app/'), range_end: b64('/app0') } },
      root,
    );
    expect(grant.status).toBe(200);
    // a numeric enum is accepted too; READ (0) is omitted on output
    expect(
      (await call('/v3/auth/role/grant', { name: 'app', perm: { permType: 0, key: b64('/pub') } }, root))
        .status,
    ).toBe(200);
    const role = await call('/v3/auth/role/get', { role: 'app' }, root);
    expect(role.status).toBe(200);
    expect(role.json.perm).toEqual(
      expect.arrayContaining([
        { permType: 'READWRITE', key: b64('/app/'), range_end: b64('/app0') },
        { key: b64('/pub') },
      ]),
    );
    expect((await call('/v3/auth/user/add', { name: 'alice', password: 'alicepw' }, root)).status).toBe(200);
    expect((await call('/v3/auth/user/grant', { user: 'alice', role: 'app' }, root)).status).toBe(200);
    expect((await call('/v3/auth/user/get', { name: 'alice' }, root)).json.roles).toEqual(['app']);
    expect((await call('/v3/auth/user/list', {}, root)).json.users).toEqual(['alice', 'root']);
    expect((await call('/v3/auth/role/list', {}, root)).json.roles).toContain('app');
    expect(await call('/v3/auth/role/get', { role: 'nope' }, root)).toMatchObject({
      status: 412,
      json: { error: 'etcdserver: role name not found', code: 9 },
    });
  });

  it('a user limited to /app/: inside allowed, outside denied (KV, txn, admin RPCs)', async () => {
    const alice = await tokenOf('alice', 'alicepw');
    expect((await call('/v3/kv/put', { key: b64('/app/x'), value: b64('1') }, alice)).status).toBe(200);
    expect((await call('/v3/kv/range', { key: b64('/app/x') }, alice)).json.count).toBe('1');
    expect(await call('/v3/kv/put', { key: b64('/other'), value: b64('1') }, alice)).toEqual({
      status: 403,
      json: denied,
    });
    expect(await call('/v3/kv/range', { key: b64('a') }, alice)).toEqual({ status: 403, json: denied });
    expect(await call('/v3/kv/deleterange', { key: b64('a') }, alice)).toEqual({
      status: 403,
      json: denied,
    });
    const txn = (failureKey: string) => ({
      compare: [{ key: b64('/app/x'), result: 'EQUAL', target: 'VALUE', value: b64('1') }],
      success: [{ request_put: { key: b64('/app/y'), value: b64('2') } }],
      failure: [{ request_range: { key: b64(failureKey) } }],
    });
    expect((await call('/v3/kv/txn', txn('/app/z'), alice)).json.succeeded).toBe(true);
    expect(await call('/v3/kv/txn', txn('/other'), alice)).toEqual({ status: 403, json: denied });
    expect(await call('/v3/auth/user/list', {}, alice)).toEqual({ status: 403, json: denied });
    // Maintenance admin checks return the auth package's error as is: code 2, HTTP 500.
    expect(await call('/v3/maintenance/defragment', {}, alice)).toEqual({
      status: 500,
      json: { error: 'auth: permission denied', message: 'auth: permission denied', code: 2 },
    });
    const snap = await gw(post('/v3/maintenance/snapshot', {}, alice));
    expect(snap.status).toBe(500);
    expect(JSON.parse(await snap.text())).toEqual({
      error: {
        grpc_code: 2,
        http_code: 500,
        message: 'auth: permission denied',
        http_status: 'Internal Server Error',
      },
    });
    const root = await tokenOf('root', 'rootpw');
    expect(await call('/v3/maintenance/defragment', {}, root)).toEqual({ status: 200, json: {} });
  });

  it('watch and keepalive streams carry the token', async () => {
    const alice = await tokenOf('alice', 'alicepw');
    const ac = new AbortController();
    const ok = await gw(post('/v3/watch', { create_request: { key: b64('/app/w') } }, alice, ac.signal));
    const lines = new LineReader(ok.body!.getReader());
    expect(await nextResult(lines)).toMatchObject({ created: true });
    expect((await call('/v3/kv/put', { key: b64('/app/w'), value: b64('v') }, alice)).status).toBe(200);
    expect((await nextResult(lines)).events[0].kv.value).toBe(b64('v'));
    ac.abort();

    const ac2 = new AbortController();
    const no = await gw(post('/v3/watch', { create_request: { key: b64('/other') } }, alice, ac2.signal));
    const r = await nextResult(new LineReader(no.body!.getReader()));
    expect(r).toMatchObject({ created: true, canceled: true });
    expect(r.cancel_reason).toContain('permission denied');
    ac2.abort();

    const lease = await call('/v3/lease/grant', { TTL: 30 }, alice);
    expect(lease.status).toBe(200);
    const ka = await gw(post('/v3/lease/keepalive', { ID: lease.json.ID }, alice));
    expect(await nextResult(new LineReader(ka.body!.getReader()))).toMatchObject({
      ID: lease.json.ID,
      TTL: '30',
    });
  });

  it('lock and election routes run as the caller', async () => {
    const alice = await tokenOf('alice', 'alicepw');
    const lock = await call('/v3/lock/lock', { name: b64('/app/lk') }, alice);
    expect(lock.status).toBe(200);
    expect(Buffer.from(lock.json.key, 'base64').toString()).toMatch(/^\/app\/lk\//);
    expect((await call('/v3/lock/unlock', { key: lock.json.key }, alice)).status).toBe(200);
    // v3lock/v3election report the recipe's errors as code 2 (HTTP 500), as etcd.
    expect(await call('/v3/lock/lock', { name: b64('/x') }, alice)).toEqual({
      status: 500,
      json: { ...denied, code: 2 },
    });
    expect(await call('/v3/election/leader', { name: b64('/x') }, alice)).toEqual({
      status: 500,
      json: { ...denied, code: 2 },
    });
  });

  it('the client certificate CN identifies the caller when there is no token', async () => {
    const asAlice = (path: string, body: unknown) => gw(post(path, body), { commonName: 'alice' });
    expect((await asAlice('/v3/kv/put', { key: b64('/app/cn'), value: b64('1') })).status).toBe(200);
    expect((await asAlice('/v3/kv/put', { key: b64('/cn'), value: b64('1') })).status).toBe(403);
    const asRoot = await gw(post('/v3/auth/user/list', {}), { commonName: 'root' });
    expect(asRoot.status).toBe(200);
  });

  it('revoking a permission takes effect; auth disable opens the store again', async () => {
    const root = await tokenOf('root', 'rootpw');
    const alice = await tokenOf('alice', 'alicepw');
    expect(
      (await call('/v3/auth/role/revoke', { role: 'app', key: b64('/app/'), range_end: b64('/app0') }, root))
        .status,
    ).toBe(200);
    expect(await call('/v3/kv/range', { key: b64('/app/x') }, alice)).toEqual({ status: 403, json: denied });
    expect((await call('/v3/auth/user/revoke', { name: 'alice', role: 'app' }, root)).status).toBe(200);
    expect((await call('/v3/auth/user/get', { name: 'alice' }, root)).json.roles).toBeUndefined();
    expect((await call('/v3/auth/role/delete', { role: 'app' }, root)).status).toBe(200);
    expect((await call('/v3/auth/user/changepw', { name: 'alice', password: 'new' }, root)).status).toBe(200);
    await tokenOf('alice', 'new');
    expect((await call('/v3/auth/user/delete', { name: 'alice' }, root)).status).toBe(200);
    expect((await call('/v3/auth/disable', {}, root)).status).toBe(200);
    expect((await call('/v3/kv/range', { key: b64('a') })).status).toBe(200);
    expect(await call('/v3/auth/authenticate', { name: 'root', password: 'rootpw' })).toMatchObject({
      status: 412,
      json: { error: 'etcdserver: authentication is not enabled' },
    });
  });
});
