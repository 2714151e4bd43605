// Auth end to end through EdgeNode on in-process 3-member clusters: enabling, tokens (simple and JWT) issued on
// one member and used on another, range permissions for KV, txn branches, watch and admin RPCs, CN identity,
// token expiry, revocation taking effect, and disabling auth.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock, TimerHandle } from '../../src/env.ts';
import { EtcdError } from '../../src/etcd/errors.ts';
import type { WatchResponse } from '../../src/etcd/types.ts';
import type { EdgeNode, NodeOptions, RequestOptions } from '../../src/server/node.ts';
import { startMemoryCluster } from '../support/memory-cluster.ts';

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string) => te.encode(s);

const EMPTY_USER = 'etcdserver: user name is empty';
const DENIED = 'etcdserver: permission denied';
const INVALID_TOKEN = 'etcdserver: invalid auth token';
const AUTH_FAILED = 'etcdserver: authentication failed, invalid user ID or password';

/** The wall clock plus an offset the test can jump forward (token expiry). */
class SkewClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const t = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(t) };
  }
}

async function startCluster(clock: Clock, auth: NodeOptions['auth']): Promise<EdgeNode[]> {
  return (await startMemoryCluster({ clock, node: { auth } })).nodes;
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EtcdError);
    return (e as EtcdError).message;
  }
  return 'ok';
}

/** root with the root role, role `app` = READWRITE on prefix /app/, user alice with `app`; then enable. */
async function setUp(n: EdgeNode): Promise<void> {
  await n.userAdd({ name: 'root', password: 'rootpw' });
  await n.roleAdd({ name: 'root' });
  await n.userGrantRole({ user: 'root', role: 'root' });
  await n.roleAdd({ name: 'app' });
  await n.roleGrantPermission({
    name: 'app',
    perm: { permType: 'READWRITE', key: b('/app/'), rangeEnd: b('/app0') },
  });
  await n.userAdd({ name: 'alice', password: 'alicepw' });
  await n.userGrantRole({ user: 'alice', role: 'app' });
  expect(await n.authEnable()).toHaveProperty('header');
}

async function firstResponse(stream: AsyncIterable<WatchResponse>): Promise<WatchResponse> {
  for await (const r of stream) return r;
  throw new Error('stream ended');
}

describe('auth on a 3-member cluster (simple tokens)', () => {
  const clock = new SkewClock();
  let nodes: EdgeNode[];
  let alice: RequestOptions;
  let root: RequestOptions;

  beforeAll(async () => {
    nodes = await startCluster(clock, { bcryptCost: 4, tokenTtlSeconds: 30 });
  });
  afterAll(async () => {
    await Promise.all(nodes?.map((n) => n.close()) ?? []);
  });

  it('enabling needs root with the root role', async () => {
    const [a] = nodes;
    expect(await errorOf(a.authEnable())).toBe('etcdserver: root user does not exist');
    expect(await errorOf(a.authenticate({ name: 'root', password: 'x' }))).toBe(
      'etcdserver: authentication is not enabled',
    );
    await setUp(a);
    const status = await nodes[2].authStatus();
    expect(status.enabled).toBe(true);
    expect(status.header.revision).toBe(nodes[2].nodeStatus().revision);
  });

  it('no credentials: "user name is empty"; wrong password and unknown user fail alike', async () => {
    expect(await errorOf(nodes[1].range({ key: b('a') }))).toBe(EMPTY_USER);
    expect(await errorOf(nodes[1].put({ key: b('a'), value: b('1') }))).toBe(EMPTY_USER);
    expect(await errorOf(nodes[1].userList())).toBe(EMPTY_USER);
    expect(await errorOf(nodes[0].authenticate({ name: 'root', password: 'wrong' }))).toBe(AUTH_FAILED);
    expect(await errorOf(nodes[0].authenticate({ name: 'nobody', password: 'wrong' }))).toBe(AUTH_FAILED);
  });

  it('a token from member 1 works on members 2 and 3 (format <16 letters>.<index>)', async () => {
    const t = await nodes[0].authenticate({ name: 'alice', password: 'alicepw' });
    expect(t.token).toMatch(/^[a-zA-Z]{16}\.\d+$/);
    alice = { token: t.token };
    root = { token: (await nodes[0].authenticate({ name: 'root', password: 'rootpw' })).token };
    for (const n of nodes.slice(1)) {
      expect(await errorOf(n.put({ key: b('/app/x'), value: b('1') }, alice))).toBe('ok');
      expect((await n.range({ key: b('/app/x') }, alice)).count).toBe(1);
    }
  });

  it('a user limited to /app/: inside allowed, outside denied (KV and txn compares and both branches)', async () => {
    const n = nodes[1];
    expect(await errorOf(n.put({ key: b('/other'), value: b('1') }, alice))).toBe(DENIED);
    expect(await errorOf(n.range({ key: b('/app/'), rangeEnd: b('/app0') }, alice))).toBe('ok');
    expect(await errorOf(n.range({ key: b('/'), rangeEnd: b('0') }, alice))).toBe(DENIED);
    expect(await errorOf(n.range({ key: b('/app/'), rangeEnd: Uint8Array.of(0) }, alice))).toBe(DENIED);
    expect(await errorOf(n.deleteRange({ key: b('/other') }, alice))).toBe(DENIED);
    expect(await errorOf(n.deleteRange({ key: b('/app/zz') }, alice))).toBe('ok');
    const txn = (compareKey: string, successKey: string, failureKey: string, readOnly = false) =>
      n.txn(
        {
          compare: [{ key: b(compareKey), result: 'EQUAL', target: 'VALUE', value: b('1') }],
          success: [
            readOnly
              ? { requestRange: { key: b(successKey) } }
              : { requestPut: { key: b(successKey), value: b('2') } },
          ],
          failure: [{ requestRange: { key: b(failureKey) } }],
        },
        alice,
      );
    expect(await errorOf(txn('/app/x', '/app/y', '/app/z'))).toBe('ok');
    expect(await errorOf(txn('/other', '/app/y', '/app/z'))).toBe(DENIED);
    expect(await errorOf(txn('/app/x', '/other', '/app/z'))).toBe(DENIED);
    expect(await errorOf(txn('/app/x', '/app/y', '/other'))).toBe(DENIED);
    // Read-only txns are served on the read path and checked there.
    expect(await errorOf(txn('/app/x', '/app/y', '/app/z', true))).toBe('ok');
    expect(await errorOf(txn('/app/x', '/app/y', '/other', true))).toBe(DENIED);
    // Nested txns are checked too.
    expect(
      await errorOf(
        n.txn({ success: [{ requestTxn: { success: [{ requestRange: { key: b('/other') } }] } }] }, alice),
      ),
    ).toBe(DENIED);
  });

  it('watch: READ checked at creation; a refused create is created+canceled with the reason', async () => {
    const n = nodes[2];
    const ok = n.watch(alice);
    ok.send({ createRequest: { key: b('/app/w') } });
    const it = ok[Symbol.asyncIterator]();
    expect((await it.next()).value).toMatchObject({ created: true });
    await nodes[0].put({ key: b('/app/w'), value: b('v') }, alice);
    const ev = (await it.next()).value as WatchResponse;
    expect(td.decode(ev.events[0].kv.value)).toBe('v');
    ok.close();

    const no = n.watch(alice);
    no.send({ createRequest: { key: b('/other') } });
    expect(await firstResponse(no)).toMatchObject({
      watchId: -1,
      created: true,
      canceled: true,
      cancelReason: `rpc error: code = PermissionDenied desc = ${DENIED}`,
    });
    no.close();
    const anon = n.watch();
    anon.send({ createRequest: { key: b('/app/w') } });
    expect(await firstResponse(anon)).toMatchObject({
      canceled: true,
      cancelReason: `rpc error: code = InvalidArgument desc = ${EMPTY_USER}`,
    });
    anon.close();
  });

  it('admin RPCs need the root role; users may read themselves and their roles', async () => {
    const n = nodes[1];
    expect((await n.userList(root)).users).toEqual(['alice', 'root']);
    expect((await n.roleList(root)).roles).toEqual(['app', 'root']);
    expect(await errorOf(n.authorizeAdmin(root))).toBe('ok');
    expect(await errorOf(n.hashKV({}, root))).toBe('ok');
    expect(await errorOf(n.userList(alice))).toBe(DENIED);
    expect(await errorOf(n.roleAdd({ name: 'x' }, alice))).toBe(DENIED);
    expect(await errorOf(n.authorizeAdmin(alice))).toBe(DENIED);
    expect(await errorOf(n.hashKV({}, alice))).toBe(DENIED);
    expect(await errorOf(n.snapshot(alice))).toBe(DENIED);
    // As patched etcd (3.4.42+, GHSA-q8m4-xhhv-38mg): compaction and raising/disarming alarms are root only.
    expect(await errorOf(n.compact({ revision: 1 }, alice))).toBe(DENIED);
    expect(await errorOf(n.compact({ revision: 1 }))).toBe(EMPTY_USER);
    expect(await errorOf(n.alarm({ action: 'DEACTIVATE' }, alice))).toBe(DENIED);
    expect(await errorOf(n.alarm({ action: 'GET' }, alice))).toBe('ok');
    expect(await errorOf(n.compact({ revision: 1 }, root))).toBe('ok');
    expect(await errorOf(n.memberAdd({ peerURLs: ['mem://n9'] }, alice))).toBe(DENIED);
    expect(await errorOf(n.memberList(alice))).toBe('ok');
    // Status: any identified user, as etcd 3.5.32+/3.6 (release-3.4 keeps it root only).
    expect(await errorOf(n.status(alice))).toBe('ok');
    expect(await errorOf(n.status())).toBe(EMPTY_USER);
    expect(await errorOf(n.status(root))).toBe('ok');
    expect((await n.userGet({ name: 'alice' }, alice)).roles).toEqual(['app']);
    expect(await errorOf(n.userGet({ name: 'root' }, alice))).toBe(DENIED);
    expect((await n.roleGet({ role: 'app' }, alice)).perm).toEqual([
      { permType: 'READWRITE', key: b('/app/'), rangeEnd: b('/app0') },
    ]);
    expect(await errorOf(n.roleGet({ role: 'root' }, alice))).toBe(DENIED);
    expect(await errorOf(n.userRevokeRole({ name: 'root', role: 'root' }, root))).toBe(
      'etcdserver: invalid auth management',
    );
    const lease = await n.leaseGrant({ TTL: 30 }, alice);
    expect((await n.leaseKeepAliveOnce({ ID: lease.ID }, alice)).TTL).toBe(30);
    // GHSA-q8m4-xhhv-38mg: lease grants, member list, alarms and status need a user (a bad token still fails).
    expect(await errorOf(n.leaseGrant({ TTL: 30 }))).toBe(EMPTY_USER);
    expect(await errorOf(n.leaseGrant({ TTL: 30 }, { token: 'garbled' }))).toBe(INVALID_TOKEN);
    expect(await errorOf(n.memberList())).toBe(EMPTY_USER);
    expect(await errorOf(n.alarm({ action: 'GET' }))).toBe(EMPTY_USER);
    expect(await errorOf(n.status())).toBe(EMPTY_USER);
    expect(await errorOf(n.leaseRevoke({ ID: lease.ID }, alice))).toBe('ok');
  });

  it('forged, garbled and not-yet-applied tokens are invalid; CN identifies a user', async () => {
    const n = nodes[0];
    expect(await errorOf(n.range({ key: b('/app/x') }, { token: 'garbled' }))).toBe(INVALID_TOKEN);
    expect(await errorOf(n.range({ key: b('/app/x') }, { token: 'abcdefghijklmnop.1' }))).toBe(INVALID_TOKEN);
    // An index ahead of what this member applied waits (here: until the caller gives up).
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    expect(
      await errorOf(n.range({ key: b('/app/x') }, { token: 'abcdefghijklmnop.99999999', signal: ac.signal })),
    ).toBe(INVALID_TOKEN);
    expect(await errorOf(n.put({ key: b('/app/cn'), value: b('1') }, { commonName: 'alice' }))).toBe('ok');
    expect(await errorOf(n.put({ key: b('/cn'), value: b('1') }, { commonName: 'alice' }))).toBe(DENIED);
    expect(await errorOf(n.userList({ commonName: 'root' }))).toBe('ok');
    expect(await errorOf(n.range({ key: b('/app/x') }, { commonName: 'nobody' }))).toBe(DENIED);
  });

  it('a permission revoke takes effect for the next write and read', async () => {
    const a = (await nodes[2].authenticate({ name: 'alice', password: 'alicepw' })).token;
    expect(await errorOf(nodes[2].put({ key: b('/app/r'), value: b('1') }, { token: a }))).toBe('ok');
    await nodes[0].roleRevokePermission({ role: 'app', key: b('/app/'), rangeEnd: b('/app0') }, root);
    // Once member 3 has applied the revoke (a linearizable read), its next write is refused when it applies.
    // (Racing it instead may fail with etcd's "revision of auth store is old": also a refusal.)
    await nodes[2].authStatus();
    expect(await errorOf(nodes[2].put({ key: b('/app/r'), value: b('2') }, { token: a }))).toBe(DENIED);
    expect(await errorOf(nodes[1].range({ key: b('/app/r') }, { token: a }))).toBe(DENIED);
    await nodes[0].roleGrantPermission(
      { name: 'app', perm: { permType: 'READWRITE', key: b('/app/'), rangeEnd: b('/app0') } },
      root,
    );
    await nodes[2].authStatus();
    expect(await errorOf(nodes[2].put({ key: b('/app/r'), value: b('3') }, { token: a }))).toBe('ok');
  });

  it('a changed password invalidates the user tokens; an unused simple token expires after its TTL', async () => {
    const a = { token: (await nodes[0].authenticate({ name: 'alice', password: 'alicepw' })).token };
    await nodes[0].userChangePassword({ name: 'alice', password: 'new' }, root);
    expect(await errorOf(nodes[0].range({ key: b('/app/x') }, a))).toBe(INVALID_TOKEN);
    expect(await errorOf(nodes[0].authenticate({ name: 'alice', password: 'alicepw' }))).toBe(AUTH_FAILED);
    const fresh = { token: (await nodes[0].authenticate({ name: 'alice', password: 'new' })).token };
    expect(await errorOf(nodes[1].range({ key: b('/app/x') }, fresh))).toBe('ok');
    clock.offset += 31_000;
    expect(await errorOf(nodes[1].range({ key: b('/app/x') }, fresh))).toBe(INVALID_TOKEN);
    root = { token: (await nodes[0].authenticate({ name: 'root', password: 'rootpw' })).token };
  });

  it('disabling auth restores open access', async () => {
    await nodes[1].authDisable(root);
    await waitFor(async () => (await nodes[2].authStatus()).enabled === false);
    expect(await errorOf(nodes[2].range({ key: b('/app/x') }))).toBe('ok');
    expect(await errorOf(nodes[2].put({ key: b('/anything'), value: b('1') }))).toBe('ok');
    expect(await errorOf(nodes[0].authenticate({ name: 'root', password: 'rootpw' }))).toBe(
      'etcdserver: authentication is not enabled',
    );
  });
});

describe('auth with JWT tokens (RS256) on a 3-member cluster', () => {
  const clock = new SkewClock();
  let nodes: EdgeNode[];
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const other = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

  beforeAll(async () => {
    nodes = await startCluster(clock, {
      bcryptCost: 4,
      jwt: {
        signMethod: 'RS256',
        privateKeyPem: keys.privateKey,
        publicKeyPem: keys.publicKey,
        ttlSeconds: 60,
      },
    });
    await setUp(nodes[0]);
  });
  afterAll(async () => {
    await Promise.all(nodes?.map((n) => n.close()) ?? []);
  });

  it('a JWT issued on member 1 works on members 2 and 3; claims {username, revision, exp}', async () => {
    const { token } = await nodes[0].authenticate({ name: 'alice', password: 'alicepw' });
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
    expect(claims).toMatchObject({
      username: 'alice',
      revision: expect.any(Number),
      exp: expect.any(Number),
    });
    for (const n of nodes) {
      expect(await errorOf(n.put({ key: b('/app/j'), value: b('1') }, { token }))).toBe('ok');
      expect(await errorOf(n.range({ key: b('/other') }, { token }))).toBe(DENIED);
    }
  });

  it('a JWT signed with another key, or garbled, or expired, is invalid', async () => {
    const { token } = await nodes[0].authenticate({ name: 'root', password: 'rootpw' });
    const { JwtTokens } = await import('../../src/auth/index.ts');
    const forger = new JwtTokens({
      signMethod: 'RS256',
      privateKeyPem: other.privateKey,
      publicKeyPem: other.publicKey,
    });
    const forged = await forger.sign({ username: 'root', revision: 100 }, clock.now());
    expect(await errorOf(nodes[1].range({ key: b('a') }, { token: forged }))).toBe(INVALID_TOKEN);
    expect(await errorOf(nodes[1].range({ key: b('a') }, { token: `${token}x` }))).toBe(INVALID_TOKEN);
    expect(await errorOf(nodes[1].userList({ token }))).toBe('ok');
    clock.offset += 61_000;
    expect(await errorOf(nodes[1].userList({ token }))).toBe(INVALID_TOKEN);
  });
});
