// The Auth service over gRPC and how every service carries identity: an in-process member served by
// startClientServer on a real port, driven by a raw grpc-js client (etcd's field names, metadata `token` before
// `authorization`) and the `etcd3` npm client with username/password. Also: the auth flags (config.ts → member.ts).

import net from 'node:net';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Etcd3, EtcdPermissionDeniedError } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { parseAuthToken, parseGoDuration, parseMemberConfig } from '../../adapters/runtime/node/config.ts';
import { requestOptions } from '../../adapters/runtime/node/grpc/calls.ts';
import { PROTO_DIR } from '../../adapters/runtime/node/grpc/index.ts';
import { authOptions } from '../../adapters/runtime/node/member.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { cryptoRandom, silentLogger } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

let node: EdgeNode;
let server: ClientServer;
let port: number;

async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const pkg = protoLoader.loadSync([path.join(PROTO_DIR, 'rpc.proto'), path.join(PROTO_DIR, 'v3lock.proto')], {
  keepCase: true,
  longs: String,
  defaults: false,
  includeDirs: [PROTO_DIR],
});
type ClientClass = new (address: string, creds: grpc.ChannelCredentials) => grpc.Client;
const loaded = grpc.loadPackageDefinition(pkg) as unknown as {
  etcdserverpb: Record<string, ClientClass>;
  v3lockpb: Record<string, ClientClass>;
};
// biome-ignore lint/suspicious/noExplicitAny: gRPC replies, checked by the assertions
type Reply = Record<string, any>;
type Unary = (
  req: object,
  md: grpc.Metadata,
  cb: (err: grpc.ServiceError | null, res?: Reply) => void,
) => void;

function call(service: string, method: string, req: object, md: Record<string, string> = {}): Promise<Reply> {
  const Client = service === 'Lock' ? loaded.v3lockpb.Lock : loaded.etcdserverpb[service];
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  return new Promise<Reply>((resolve, reject) => {
    (c as unknown as Record<string, Unary>)[method].call(c, req, metadata, (err, res) => {
      c.close();
      if (err) reject(err);
      else resolve(res ?? {});
    });
  });
}

/** Opens a Watch stream with metadata, sends one create request and returns the first response. */
function firstWatchResponse(key: string, md: Record<string, string>): Promise<Reply> {
  const c = new loaded.etcdserverpb.Watch(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const stream = (c as unknown as { Watch(md: grpc.Metadata): grpc.ClientDuplexStream<object, Reply> }).Watch(
    metadata,
  );
  return new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no watch response')), 5000);
    stream.on('data', (r: Reply) => {
      clearTimeout(timer);
      stream.cancel();
      c.close();
      resolve(r);
    });
    stream.on('error', () => {});
    stream.write({ create_request: { key: Buffer.from(key) } });
  });
}

const tokenOf = async (name: string, password: string) =>
  (await call('Auth', 'Authenticate', { name, password })).token as string;

beforeAll(async () => {
  port = await freePort();
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  node = await createNode({
    id: 1n,
    name: 'n1',
    clusterId: 42n,
    members: [{ id: 1n, name: 'n1', peerURLs: ['mem://n1'] }],
    clientURLs: [`http://127.0.0.1:${port}`],
    storage: new MemoryStorage(),
    transport: network.transport(1n),
    clock,
    random: cryptoRandom,
    tickMs: 10,
    electionTimeoutMs: 100,
    auth: { bcryptCost: 4 },
  });
  server = await startClientServer({ node, host: '127.0.0.1', port });
  await until(() => node.nodeStatus().leader !== 0n);
});

afterAll(async () => {
  await server?.close();
  await node?.close();
});

describe('Auth over gRPC', () => {
  it('all RPCs with etcd field names; enabling locks the store', async () => {
    expect(await call('Auth', 'AuthStatus', {})).toMatchObject({ header: { cluster_id: '42' } });
    await call('Auth', 'UserAdd', { name: 'root', password: 'rootpw' });
    await call('Auth', 'RoleAdd', { name: 'root' });
    await call('Auth', 'UserGrantRole', { user: 'root', role: 'root' });
    await call('Auth', 'AuthEnable', {});
    await expect(call('KV', 'Range', { key: Buffer.from('a') })).rejects.toMatchObject({
      code: 3,
      details: 'etcdserver: user name is empty',
    });
    const root = await tokenOf('root', 'rootpw');
    expect(root).toBeTruthy();
    const md = { token: root };
    expect((await call('Auth', 'AuthStatus', {}, md)).enabled).toBe(true);
    await call('Auth', 'RoleAdd', { name: 'app' }, md);
    await call(
      'Auth',
      'RoleGrantPermission',
      { name: 'app', perm: { permType: 2, key: Buffer.from('/app/'), range_end: Buffer.from('/app0') } },
      md,
    );
    await call('Auth', 'RoleGrantPermission', { name: 'app', perm: { key: Buffer.from('/pub') } }, md);
    const role = await call('Auth', 'RoleGet', { role: 'app' }, md);
    const perms = (role.perm as Reply[]).map((p) => ({
      permType: p.permType,
      key: Buffer.from(p.key).toString(),
      range_end: p.range_end ? Buffer.from(p.range_end).toString() : undefined,
    }));
    expect(perms).toEqual(
      expect.arrayContaining([
        { permType: 2, key: '/app/', range_end: '/app0' },
        { permType: undefined, key: '/pub', range_end: undefined },
      ]),
    );
    await call('Auth', 'UserAdd', { name: 'alice', password: 'alicepw' }, md);
    await call('Auth', 'UserAdd', { name: 'bob', password: 'x', options: { no_password: false } }, md);
    await call('Auth', 'UserGrantRole', { user: 'alice', role: 'app' }, md);
    expect((await call('Auth', 'UserGet', { name: 'alice' }, md)).roles).toEqual(['app']);
    expect((await call('Auth', 'UserList', {}, md)).users).toEqual(['alice', 'bob', 'root']);
    expect((await call('Auth', 'RoleList', {}, md)).roles).toContain('app');
    await call('Auth', 'UserChangePassword', { name: 'bob', password: 'y' }, md);
    await tokenOf('bob', 'y');
    await call('Auth', 'UserGrantRole', { user: 'bob', role: 'app' }, md);
    await call('Auth', 'UserRevokeRole', { name: 'bob', role: 'app' }, md);
    expect((await call('Auth', 'UserGet', { name: 'bob' }, md)).roles).toBeUndefined();
    await call('Auth', 'UserDelete', { name: 'bob' }, md);
    await call('Auth', 'RoleAdd', { name: 'tmp' }, md);
    await call('Auth', 'RoleDelete', { role: 'tmp' }, md);
    await expect(call('Auth', 'RoleGet', { role: 'tmp' }, md)).rejects.toMatchObject({
      code: 9,
      details: 'etcdserver: role name not found',
    });
  });

  it('metadata `token` is checked before `authorization`; a forged token is Unauthenticated', async () => {
    const root = await tokenOf('root', 'rootpw');
    const key = { key: Buffer.from('a') };
    await call('KV', 'Range', key, { authorization: root });
    await call('KV', 'Range', key, { token: root, authorization: 'forged' });
    await expect(call('KV', 'Range', key, { token: 'forged', authorization: root })).rejects.toMatchObject({
      code: 16,
      details: 'etcdserver: invalid auth token',
    });
  });

  it('a user limited to /app/: KV, watch, lease, lock and maintenance as that user', async () => {
    const md = { token: await tokenOf('alice', 'alicepw') };
    await call('KV', 'Put', { key: Buffer.from('/app/a'), value: Buffer.from('1') }, md);
    await expect(
      call('KV', 'Put', { key: Buffer.from('/b'), value: Buffer.from('1') }, md),
    ).rejects.toMatchObject({ code: 7, details: 'etcdserver: permission denied' });
    const inside = await firstWatchResponse('/app/a', md);
    expect(inside.created).toBe(true);
    expect(inside.canceled).toBeUndefined();
    const outside = await firstWatchResponse('/b', md);
    expect(outside.canceled).toBe(true);
    expect(outside.cancel_reason).toContain('permission denied');
    const lease = await call('Lease', 'LeaseGrant', { TTL: 30 }, md);
    expect(lease.TTL).toBe('30');
    const lock = await call('Lock', 'Lock', { name: Buffer.from('/app/l'), lease: lease.ID }, md);
    expect(Buffer.from(lock.key).toString()).toMatch(/^\/app\/l\//);
    await expect(
      call('Lock', 'Lock', { name: Buffer.from('/l'), lease: lease.ID }, md),
    ).rejects.toMatchObject({
      code: 2,
      details: 'etcdserver: permission denied',
    });
    await expect(call('Maintenance', 'Defragment', {}, md)).rejects.toMatchObject({
      code: 2,
      details: 'auth: permission denied',
    });
    await expect(call('Maintenance', 'HashKV', {}, md)).rejects.toMatchObject({
      code: 2,
      details: 'auth: permission denied',
    });
    await expect(call('Auth', 'UserList', {}, md)).rejects.toMatchObject({ code: 7 });
    await call('Maintenance', 'Defragment', {}, { token: await tokenOf('root', 'rootpw') });
  });

  it('the etcd3 client with username/password: allowed and denied operations', async () => {
    const alice = new Etcd3({
      hosts: `http://127.0.0.1:${port}`,
      auth: { username: 'alice', password: 'alicepw' },
    });
    try {
      await alice.put('/app/js').value('v');
      expect(await alice.get('/app/js').string()).toBe('v');
      const denied = alice.put('/js').value('v');
      await expect(denied).rejects.toThrow('etcdserver: permission denied');
      await expect(alice.get('/js').string()).rejects.toBeInstanceOf(EtcdPermissionDeniedError);
      await expect(alice.delete().key('/js')).rejects.toThrow('permission denied');
    } finally {
      alice.close();
    }
    const wrong = new Etcd3({
      hosts: `http://127.0.0.1:${port}`,
      auth: { username: 'alice', password: 'no' },
    });
    try {
      await expect(wrong.get('/app/js').string()).rejects.toThrow(
        'etcdserver: authentication failed, invalid user ID or password',
      );
    } finally {
      wrong.close();
    }
  });
});

/** Opens a stream (Watch or LeaseKeepAlive), writes one request; the first response, or the status it ends with. */
function firstOfStream(
  service: 'Watch' | 'Lease',
  request: object,
  md: Record<string, string>,
): Promise<Reply> {
  const c = new loaded.etcdserverpb[service](`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(md)) metadata.set(k, v);
  const method = service === 'Watch' ? 'Watch' : 'LeaseKeepAlive';
  const stream = (
    c as unknown as Record<string, (md: grpc.Metadata) => grpc.ClientDuplexStream<object, Reply>>
  )[method].call(c, metadata);
  return new Promise<Reply>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
      stream.cancel();
      c.close();
    };
    const timer = setTimeout(() => settle(() => reject(new Error('no response'))), 5000);
    stream.on('data', (r: Reply) => settle(() => resolve(r)));
    stream.on('error', (e: grpc.ServiceError) => settle(() => reject(e)));
    stream.write(request);
  });
}

// The security advisories etcd fixed after 3.4.23, as its patched release-3.4 line answers them over gRPC (and
// GHSA-xg4h-6gfc-h4m8 as 3.5.33 / 3.6); the same rules as the gateway (test/gateway/auth.test.ts), since both
// reach the node's checks. alice: READWRITE /app/, READ /pub, and here WRITE only on /wo/.
describe('security advisories over gRPC (patched etcd)', () => {
  const DENIED = { code: 7, details: 'etcdserver: permission denied' };
  const EMPTY_USER = { code: 3, details: 'etcdserver: user name is empty' };
  const bytes = (s: string) => Buffer.from(s);
  let root: Record<string, string>;
  let alice: Record<string, string>;
  let rootLease: string;
  let aliceLease: string;

  beforeAll(async () => {
    root = { token: await tokenOf('root', 'rootpw') };
    await call('Auth', 'RoleAdd', { name: 'wo' }, root);
    const perm = { permType: 1, key: bytes('/wo/'), range_end: bytes('/wo0') };
    await call('Auth', 'RoleGrantPermission', { name: 'wo', perm }, root);
    await call('Auth', 'UserGrantRole', { user: 'alice', role: 'wo' }, root);
    alice = { token: await tokenOf('alice', 'alicepw') };
    rootLease = (await call('Lease', 'LeaseGrant', { TTL: 600 }, root)).ID;
    await call('KV', 'Put', { key: bytes('/secret/k'), value: bytes('s'), lease: rootLease }, root);
    aliceLease = (await call('Lease', 'LeaseGrant', { TTL: 600 }, alice)).ID;
    await call('KV', 'Put', { key: bytes('/app/a'), value: bytes('a'), lease: aliceLease }, alice);
  });

  it('CVE-2023-32082 / GHSA-3p4g-rcw5-8298: LeaseTimeToLive with keys needs READ on every key', async () => {
    await expect(
      call('Lease', 'LeaseTimeToLive', { ID: rootLease, keys: true }, alice),
    ).rejects.toMatchObject(DENIED);
    const bare = await call('Lease', 'LeaseTimeToLive', { ID: rootLease }, alice);
    expect(bare).toMatchObject({ ID: rootLease, grantedTTL: '600' });
    expect(bare.keys).toBeUndefined();
    const own = await call('Lease', 'LeaseTimeToLive', { ID: aliceLease, keys: true }, alice);
    expect(own.keys.map(String)).toEqual(['/app/a']);
    const asRoot = await call('Lease', 'LeaseTimeToLive', { ID: rootLease, keys: true }, root);
    expect(asRoot.keys.map(String)).toEqual(['/secret/k']);
  });

  it('GHSA-q8m4-xhhv-38mg: no credentials → user name is empty on Lease, MemberList, Alarm, Status, Compact', async () => {
    const anonymous: [string, string, object][] = [
      ['Lease', 'LeaseGrant', { TTL: 60 }],
      ['Lease', 'LeaseRevoke', { ID: aliceLease }],
      ['Lease', 'LeaseTimeToLive', { ID: aliceLease }],
      ['Lease', 'LeaseLeases', {}],
      ['Cluster', 'MemberList', {}],
      ['Maintenance', 'Alarm', {}],
      ['Maintenance', 'Status', {}],
      ['Maintenance', 'MoveLeader', { targetID: '1' }],
      ['KV', 'Compact', { revision: 1 }],
    ];
    for (const [service, method, req] of anonymous) {
      await expect(call(service, method, req), method).rejects.toMatchObject(EMPTY_USER);
    }
    await expect(firstOfStream('Lease', { ID: aliceLease }, {})).rejects.toMatchObject(EMPTY_USER);
    await expect(call('Cluster', 'MemberList', {}, { token: 'forged.1' })).rejects.toMatchObject({
      code: 16,
    });
  });

  it('GHSA-q8m4-xhhv-38mg: any user lists members and alarms and reads Status; alarm changes, Compact, MoveLeader: root', async () => {
    expect((await call('Cluster', 'MemberList', {}, alice)).members).toHaveLength(1);
    expect(await call('Maintenance', 'Alarm', { action: 0 }, alice)).toEqual({});
    // Status: any identified user, as etcd 3.5.32+/3.6 (release-3.4 keeps it root only; see docs/security.md).
    expect((await call('Maintenance', 'Status', {}, alice)).version).toBe('3.4.23');
    await expect(
      call('Maintenance', 'Alarm', { action: 1, memberID: '1', alarm: 1 }, alice),
    ).rejects.toMatchObject(DENIED);
    await expect(call('KV', 'Compact', { revision: 1 }, alice)).rejects.toMatchObject(DENIED);
    await expect(call('Maintenance', 'MoveLeader', { targetID: '1' }, alice)).rejects.toMatchObject(DENIED);
    expect((await call('Maintenance', 'Status', {}, root)).version).toBe('3.4.23');
  });

  it('GHSA-q8m4-xhhv-38mg: LeaseKeepAlive, LeaseRevoke and LeaseLeases need permission on the keys', async () => {
    await expect(firstOfStream('Lease', { ID: rootLease }, alice)).rejects.toMatchObject(DENIED);
    expect(await firstOfStream('Lease', { ID: aliceLease }, alice)).toMatchObject({
      ID: aliceLease,
      TTL: '600',
    });
    expect(await firstOfStream('Lease', { ID: rootLease }, root)).toMatchObject({ TTL: '600' });
    await expect(call('Lease', 'LeaseRevoke', { ID: rootLease }, alice)).rejects.toMatchObject(DENIED);
    await expect(call('Lease', 'LeaseLeases', {}, alice)).rejects.toMatchObject(DENIED);
    expect((await call('Lease', 'LeaseLeases', {}, root)).leases.length).toBeGreaterThanOrEqual(2);
  });

  it('GHSA-rfx7-8w68-q57q: nested txn ops are checked like top-level ones', async () => {
    const put = { request_put: { key: bytes('/secret/x'), value: bytes('x') } };
    const range = { request_range: { key: bytes('/secret/k') } };
    for (const op of [put, range]) {
      const txn = { success: [{ request_txn: { success: [{ request_txn: { failure: [op] } }] } }] };
      await expect(call('KV', 'Txn', txn, alice)).rejects.toMatchObject(DENIED);
    }
    const inside = { request_put: { key: bytes('/app/nested'), value: bytes('x') } };
    expect(
      (await call('KV', 'Txn', { success: [{ request_txn: { success: [inside] } }] }, alice)).succeeded,
    ).toBe(true);
  });

  it('GHSA-x35m-3gp4-4fh5 / CVE-2026-44283: prev_kv needs READ; txn puts may not attach a foreign lease', async () => {
    await call('KV', 'Put', { key: bytes('/wo/k'), value: bytes('old') }, root);
    const wo = { key: bytes('/wo/k'), value: bytes('new') };
    await call('KV', 'Put', wo, alice);
    await expect(call('KV', 'Put', { ...wo, prev_kv: true }, alice)).rejects.toMatchObject(DENIED);
    await expect(call('KV', 'DeleteRange', { key: wo.key, prev_kv: true }, alice)).rejects.toMatchObject(
      DENIED,
    );
    const foreign = { key: bytes('/app/l'), value: bytes('1'), lease: rootLease };
    await expect(call('KV', 'Put', foreign, alice)).rejects.toMatchObject(DENIED);
    for (const op of [{ ...wo, prev_kv: true }, foreign]) {
      await expect(call('KV', 'Txn', { success: [{ request_put: op }] }, alice)).rejects.toMatchObject(
        DENIED,
      );
      const deep = { success: [{ request_txn: { success: [{ request_put: op }] } }] };
      await expect(call('KV', 'Txn', deep, alice)).rejects.toMatchObject(DENIED);
    }
    const own = { key: bytes('/app/l'), value: bytes('1'), lease: aliceLease };
    expect((await call('KV', 'Txn', { success: [{ request_put: own }] }, alice)).succeeded).toBe(true);
  });

  it('GHSA-xg4h-6gfc-h4m8: a watch from a readable key to the end of the keyspace is refused', async () => {
    const exact = await firstOfStream('Watch', { create_request: { key: bytes('/pub') } }, alice);
    expect(exact.created).toBe(true);
    expect(exact.canceled).toBeUndefined();
    const toEnd = { create_request: { key: bytes('/pub'), range_end: Buffer.from([0]) } };
    const refused = await firstOfStream('Watch', toEnd, alice);
    expect(refused).toMatchObject({ created: true, canceled: true, watch_id: '-1' });
    expect(refused.cancel_reason).toBe(
      'rpc error: code = PermissionDenied desc = etcdserver: permission denied',
    );
    expect((await firstOfStream('Watch', toEnd, root)).canceled).toBeUndefined();
  });
});

describe('requestOptions: what a gRPC call tells the node', () => {
  const md = (pairs: Record<string, string>) => {
    const m = new grpc.Metadata();
    for (const [k, v] of Object.entries(pairs)) m.set(k, v);
    return m;
  };
  const fake = (metadata: grpc.Metadata, cn?: unknown) => ({
    metadata,
    emit: () => true,
    getAuthContext: () => (cn === undefined ? {} : { sslPeerCertificate: { subject: { CN: cn } } as never }),
  });

  it('token before authorization; the TLS peer CN when present', () => {
    expect(requestOptions(fake(md({ authorization: 'a', token: 't' })))).toEqual({ token: 't' });
    expect(requestOptions(fake(md({ authorization: 'a' })))).toEqual({ token: 'a' });
    expect(requestOptions(fake(md({}), 'alice'))).toEqual({ commonName: 'alice' });
    expect(requestOptions(fake(md({}), ['first', 'second']))).toEqual({ commonName: 'first' });
    expect(requestOptions(fake(md({})))).toEqual({});
    const signal = new AbortController().signal;
    expect(requestOptions({ metadata: md({}), emit: () => true }, signal)).toEqual({ signal });
  });
});

describe('auth flags', () => {
  const base = ['--name', 'x'];
  it('defaults: simple tokens, TTL 300 s, bcrypt cost 10', () => {
    const c = parseMemberConfig(base, {});
    expect(c.authToken).toEqual({ type: 'simple' });
    expect(c.authTokenTtl).toBe(300);
    expect(c.bcryptCost).toBe(10);
    expect(authOptions(c, silentLogger)).toEqual({ bcryptCost: 10, tokenTtlSeconds: 300 });
  });

  it('--auth-token jwt options, --auth-token-ttl, --bcrypt-cost (out of 4..31 → default, as etcd)', () => {
    const c = parseMemberConfig(
      [
        ...base,
        '--auth-token',
        'jwt,pub-key=/p.pem,priv-key=/k.pem,sign-method=RS256,ttl=10m',
        '--auth-token-ttl=60',
        '--bcrypt-cost',
        '4',
      ],
      {},
    );
    expect(c.authToken).toEqual({
      type: 'jwt',
      signMethod: 'RS256',
      pubKeyPath: '/p.pem',
      privKeyPath: '/k.pem',
      ttlSeconds: 600,
    });
    expect(c.authTokenTtl).toBe(60);
    expect(c.bcryptCost).toBe(4);
    expect(
      authOptions({ ...c, authToken: { type: 'simple' }, bcryptCost: 3 }, silentLogger)?.bcryptCost,
    ).toBe(10);
    expect(parseMemberConfig(base, { ETCD_AUTH_TOKEN: 'simple', ETCD_BCRYPT_COST: '12' }).bcryptCost).toBe(
      12,
    );
    expect(parseAuthToken('jwt,priv-key=/k,sign-method=ES256')).toMatchObject({ ttlSeconds: 300 });
    expect(() => parseAuthToken('oauth')).toThrow('unknown token type');
    expect(() => parseAuthToken('jwt,pub-key=/p')).toThrow('sign-method');
    expect(parseGoDuration('1h30m')).toBe(5400);
    expect(parseGoDuration('1500ms')).toBe(1.5);
    expect(() => parseGoDuration('5x')).toThrow('invalid duration');
  });
});
