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
const emptyUser = {
  error: 'etcdserver: user name is empty',
  message: 'etcdserver: user name is empty',
  code: 3,
};

/** A one-member cluster with auth options (bcrypt cost 4), once it has a leader. */
async function startNode(): Promise<EdgeNode> {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [{ id: 1n, name: 'n1', peerURLs: ['mem://n1'] }];
  const n = await createNode({
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
  await waitFor(() => n.nodeStatus().leader !== 0n);
  return n;
}

beforeAll(async () => {
  node = await startNode();
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

// The security advisories etcd fixed after 3.4.23, as its patched release-3.4 line (3.4.26 … 3.4.44) behaves, and
// GHSA-xg4h-6gfc-h4m8 as 3.5.33 / 3.6 fixed it (docs/security.md has the table). root; alice: READWRITE on /app/,
// READ on the single key /pub, WRITE only on /wo/. A lease of root's holds /secret/k, a lease of alice's /app/a.
describe('security advisories: the gateway answers as patched etcd', () => {
  let n: EdgeNode;
  let g: FetchHandler;
  let root: string;
  let alice: string;
  let rootLease: string;
  let aliceLease: string;

  const req = async (path: string, body: unknown, token?: string): Promise<{ status: number; json: J }> => {
    const res = await g(post(path, body, token));
    return { status: res.status, json: await res.json() };
  };
  /** The first line of a streamed reply (watch, keepalive), then the stream is dropped. */
  const firstLine = async (path: string, body: unknown, token?: string): Promise<J> => {
    const ac = new AbortController();
    const res = await g(post(path, body, token, ac.signal));
    const line = await new LineReader(res.body!.getReader()).next();
    ac.abort();
    return line;
  };
  const tokenFor = async (name: string, password: string) =>
    (await req('/v3/auth/authenticate', { name, password })).json.token as string;
  const ok = async (path: string, body: unknown, token?: string): Promise<J> => {
    const r = await req(path, body, token);
    expect(r.status, `${path} ${JSON.stringify(r.json)}`).toBe(200);
    return r.json;
  };
  const txn = (success: unknown[]) => ({ success });
  const nested = (op: unknown, depth = 1): unknown =>
    depth === 0 ? op : { request_txn: { success: [nested(op, depth - 1)] } };

  beforeAll(async () => {
    n = await startNode();
    g = createGateway(n);
    await ok('/v3/auth/user/add', { name: 'root', password: 'rootpw' });
    await ok('/v3/auth/role/add', { name: 'root' });
    await ok('/v3/auth/user/grant', { user: 'root', role: 'root' });
    await ok('/v3/auth/role/add', { name: 'app' });
    const grant = (perm: unknown) => ok('/v3/auth/role/grant', { name: 'app', perm });
    await grant({ permType: 'READWRITE', key: b64('/app/'), range_end: b64('/app0') });
    await grant({ permType: 'READ', key: b64('/pub') });
    await grant({ permType: 'WRITE', key: b64('/wo/'), range_end: b64('/wo0') });
    await ok('/v3/auth/user/add', { name: 'alice', password: 'alicepw' });
    await ok('/v3/auth/user/grant', { user: 'alice', role: 'app' });
    await ok('/v3/auth/enable', {});
    root = await tokenFor('root', 'rootpw');
    alice = await tokenFor('alice', 'alicepw');
    rootLease = (await ok('/v3/lease/grant', { TTL: 600 }, root)).ID;
    await ok('/v3/kv/put', { key: b64('/secret/k'), value: b64('s'), lease: rootLease }, root);
    aliceLease = (await ok('/v3/lease/grant', { TTL: 600 }, alice)).ID;
    await ok('/v3/kv/put', { key: b64('/app/a'), value: b64('a'), lease: aliceLease }, alice);
  });

  afterAll(async () => {
    await n?.close();
  });

  it('CVE-2023-32082 / GHSA-3p4g-rcw5-8298: TimeToLive lists a lease’s keys only to who may read them all', async () => {
    for (const path of ['/v3/lease/timetolive', '/v3/kv/lease/timetolive']) {
      expect(await req(path, { ID: rootLease, keys: true }, alice)).toEqual({ status: 403, json: denied });
    }
    // Without `keys` nothing is listed and nothing is checked (etcd checks only when keys are asked for).
    const bare = await ok('/v3/lease/timetolive', { ID: rootLease }, alice);
    expect(bare).toMatchObject({ ID: rootLease, grantedTTL: '600' });
    expect(bare.keys).toBeUndefined();
    expect((await ok('/v3/lease/timetolive', { ID: aliceLease, keys: true }, alice)).keys).toEqual([
      b64('/app/a'),
    ]);
    expect((await ok('/v3/lease/timetolive', { ID: rootLease, keys: true }, root)).keys).toEqual([
      b64('/secret/k'),
    ]);
    expect((await ok('/v3/lease/timetolive', { ID: '12345', keys: true }, alice)).TTL).toBe('-1');
  });

  it('GHSA-q8m4-xhhv-38mg: without credentials the lease, member, alarm, status and compaction APIs refuse', async () => {
    const anonymous: [string, unknown][] = [
      ['/v3/lease/grant', { TTL: 60 }],
      ['/v3/lease/revoke', { ID: aliceLease }],
      ['/v3/kv/lease/revoke', { ID: aliceLease }],
      ['/v3/lease/timetolive', { ID: aliceLease }],
      ['/v3/lease/leases', {}],
      ['/v3/kv/lease/leases', {}],
      ['/v3/cluster/member/list', {}],
      ['/v3/maintenance/alarm', {}],
      ['/v3/maintenance/alarm', { action: 'DEACTIVATE', memberID: '1', alarm: 'NOSPACE' }],
      ['/v3/maintenance/status', {}],
      ['/v3/kv/compaction', { revision: 1 }],
      ['/v3/maintenance/transfer-leadership', { targetID: '1' }],
    ];
    for (const [path, body] of anonymous) {
      expect(await req(path, body), path).toEqual({ status: 400, json: emptyUser });
    }
    expect(await firstLine('/v3/lease/keepalive', { ID: aliceLease })).toEqual({
      error: { grpc_code: 3, http_code: 400, message: emptyUser.error, http_status: 'Bad Request' },
    });
    // A token that is sent must be valid.
    expect(await req('/v3/lease/grant', { TTL: 60 }, 'forged.1')).toMatchObject({ status: 401 });
    expect(await req('/v3/cluster/member/list', {}, 'forged.1')).toMatchObject({ status: 401 });
    // Nothing was created or revoked.
    expect((await ok('/v3/lease/leases', {}, root)).leases).toHaveLength(2);
  });

  it('GHSA-q8m4-xhhv-38mg: a user without the root role lists members, alarms and status; changes stay root only', async () => {
    expect((await ok('/v3/cluster/member/list', {}, alice)).members).toHaveLength(1);
    expect(await ok('/v3/maintenance/alarm', {}, alice)).toEqual({});
    // Status: any identified user, as etcd 3.5.32+/3.6 (release-3.4 keeps it root only; see docs/security.md).
    expect((await ok('/v3/maintenance/status', {}, alice)).version).toBe('3.4.23');
    const activate = { action: 'ACTIVATE', memberID: '1', alarm: 'NOSPACE' };
    expect(await req('/v3/maintenance/alarm', activate, alice)).toEqual({ status: 403, json: denied });
    expect(await req('/v3/kv/compaction', { revision: 1 }, alice)).toEqual({ status: 403, json: denied });
    expect(await req('/v3/maintenance/transfer-leadership', { targetID: '1' }, alice)).toEqual({
      status: 403,
      json: denied,
    });
    expect((await ok('/v3/maintenance/status', {}, root)).version).toBe('3.4.23');
    expect((await ok('/v3/cluster/member/list', {}, root)).members).toHaveLength(1);
  });

  it('GHSA-q8m4-xhhv-38mg: keep-alive, revoke and list need permission on the leases’ keys', async () => {
    expect(await firstLine('/v3/lease/keepalive', { ID: rootLease }, alice)).toEqual({
      error: { grpc_code: 7, http_code: 403, message: denied.error, http_status: 'Forbidden' },
    });
    expect((await firstLine('/v3/lease/keepalive', { ID: aliceLease }, alice)).result).toMatchObject({
      ID: aliceLease,
      TTL: '600',
    });
    expect((await firstLine('/v3/lease/keepalive', { ID: rootLease }, root)).result.TTL).toBe('600');
    expect(await req('/v3/lease/revoke', { ID: rootLease }, alice)).toEqual({ status: 403, json: denied });
    // One lease holding a key alice may not read hides the whole list from her.
    expect(await req('/v3/lease/leases', {}, alice)).toEqual({ status: 403, json: denied });
    await ok('/v3/kv/put', { key: b64('/secret/k'), value: b64('s') }, root); // detached
    expect((await ok('/v3/lease/leases', {}, alice)).leases).toHaveLength(2);
    await ok('/v3/kv/put', { key: b64('/secret/k'), value: b64('s'), lease: rootLease }, root);
    // Her own leases she may grant and revoke.
    const mine = (await ok('/v3/lease/grant', { TTL: 60 }, alice)).ID;
    await ok('/v3/lease/revoke', { ID: mine }, alice);
  });

  it('GHSA-rfx7-8w68-q57q: a nested txn cannot bypass key permissions', async () => {
    const put = (key: string) => ({ request_put: { key: b64(key), value: b64('x') } });
    const range = (key: string) => ({ request_range: { key: b64(key) } });
    for (const depth of [1, 2]) {
      expect(await req('/v3/kv/txn', txn([nested(put('/secret/x'), depth)]), alice)).toEqual({
        status: 403,
        json: denied,
      });
      expect(await req('/v3/kv/txn', txn([nested(range('/secret/k'), depth)]), alice)).toEqual({
        status: 403,
        json: denied,
      });
    }
    // The failure branch of a nested txn is checked too, whichever branch would run.
    const inFailure = { request_txn: { failure: [put('/secret/x')] } };
    expect(await req('/v3/kv/txn', txn([inFailure]), alice)).toEqual({ status: 403, json: denied });
    expect((await ok('/v3/kv/range', { key: b64('/secret/x') }, root)).count).toBeUndefined();
    // Inside her prefix, nesting works.
    expect((await ok('/v3/kv/txn', txn([nested(put('/app/n'), 2)]), alice)).succeeded).toBe(true);
    expect((await ok('/v3/kv/range', { key: b64('/app/n') }, alice)).count).toBe('1');
  });

  it('GHSA-x35m-3gp4-4fh5 / CVE-2026-44283: prev_kv needs READ; a txn put may not attach a lease whose keys it cannot write', async () => {
    await ok('/v3/kv/put', { key: b64('/wo/k'), value: b64('old') }, root);
    const wo = { key: b64('/wo/k'), value: b64('new') };
    expect(await ok('/v3/kv/put', wo, alice)).not.toHaveProperty('prev_kv');
    expect(await req('/v3/kv/put', { ...wo, prev_kv: true }, alice)).toEqual({ status: 403, json: denied });
    expect(await req('/v3/kv/deleterange', { key: wo.key, prev_kv: true }, alice)).toEqual({
      status: 403,
      json: denied,
    });
    for (const depth of [0, 1]) {
      const withPrev = nested({ request_put: { ...wo, prev_kv: true } }, depth);
      expect(await req('/v3/kv/txn', txn([withPrev]), alice)).toEqual({ status: 403, json: denied });
      const onRootLease = nested(
        { request_put: { key: b64('/app/l'), value: b64('1'), lease: rootLease } },
        depth,
      );
      expect(await req('/v3/kv/txn', txn([onRootLease]), alice)).toEqual({ status: 403, json: denied });
    }
    const onRootLease = { key: b64('/app/l'), value: b64('1'), lease: rootLease };
    expect(await req('/v3/kv/put', onRootLease, alice)).toEqual({ status: 403, json: denied });
    expect((await ok('/v3/kv/txn', txn([{ request_put: wo }]), alice)).succeeded).toBe(true);
    const onOwnLease = { request_put: { key: b64('/app/l'), value: b64('1'), lease: aliceLease } };
    expect((await ok('/v3/kv/txn', txn([nested(onOwnLease)]), alice)).succeeded).toBe(true);
    // root's lease still holds only /secret/k, and the write-only key kept what alice wrote.
    expect((await ok('/v3/lease/timetolive', { ID: rootLease, keys: true }, root)).keys).toEqual([
      b64('/secret/k'),
    ]);
    expect((await ok('/v3/kv/range', { key: wo.key }, root)).kvs[0].value).toBe(b64('new'));
  });

  it('GHSA-xg4h-6gfc-h4m8: READ on one key does not open a watch from that key to the end of the keyspace', async () => {
    const watch = async (key: string, rangeEnd: string | undefined, token: string) =>
      (
        await firstLine(
          '/v3/watch',
          { create_request: { key: b64(key), ...(rangeEnd !== undefined ? { range_end: rangeEnd } : {}) } },
          token,
        )
      ).result;
    const toEnd = b64('\0');
    expect(await watch('/pub', undefined, alice)).toMatchObject({ created: true });
    expect((await watch('/pub', undefined, alice)).canceled).toBeUndefined();
    for (const key of ['/pub', '/app/']) {
      const r = await watch(key, toEnd, alice);
      expect(r, key).toMatchObject({ created: true, canceled: true, watch_id: '-1' });
      expect(r.cancel_reason).toBe('rpc error: code = PermissionDenied desc = etcdserver: permission denied');
    }
    expect((await watch('/app/', b64('/app0'), alice)).canceled).toBeUndefined();
    expect((await watch('/pub', toEnd, root)).canceled).toBeUndefined();
  });
});
