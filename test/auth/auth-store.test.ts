// The replicated auth store: etcd's rules and errors, applied through the state machine (as every member does),
// its snapshot/restore, tokens and password hashing.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AuthStore,
  hashPassword,
  JwtTokens,
  SimpleTokens,
  simpleTokenIndex,
  simpleTokenPrefix,
  verifyPassword,
} from '../../src/auth/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import type { EtcdError } from '../../src/etcd/errors.ts';
import { decodeProposal, encodeProposal, type Operation } from '../../src/server/ops.ts';
import { ServerStateMachine } from '../../src/server/state-machine.ts';

const te = new TextEncoder();
const b = (s: string) => te.encode(s);

function newSm(): ServerStateMachine {
  return new ServerStateMachine({ minLeaseTtl: 1 }, { onEvents() {}, onCompacted() {} });
}

/** Applies and returns the error text ('' on success). */
function run(sm: ServerStateMachine, op: Operation, now = 0): string {
  const r = sm.apply(op, now);
  sm.appliedIndex++;
  return r.ok ? '' : (r.error as EtcdError).message;
}

const root = { user: 'root', revision: 1_000 };

function withRoot(sm: ServerStateMachine): void {
  expect(run(sm, { type: 'userAdd', name: 'root', hash: 'h', noPassword: false })).toBe('');
  expect(run(sm, { type: 'roleAdd', name: 'root' })).toBe('');
  expect(run(sm, { type: 'userGrantRole', user: 'root', role: 'root' })).toBe('');
}

describe('auth store rules (etcd auth/store.go)', () => {
  it('enable needs user root with role root', () => {
    const sm = newSm();
    expect(run(sm, { type: 'authEnable' })).toBe('etcdserver: root user does not exist');
    run(sm, { type: 'userAdd', name: 'root', hash: 'h', noPassword: false });
    expect(run(sm, { type: 'authEnable' })).toBe('etcdserver: root user does not have root role');
    // The root role need not exist as a role to be granted.
    expect(run(sm, { type: 'userGrantRole', user: 'root', role: 'root' })).toBe('');
    expect(run(sm, { type: 'authEnable' })).toBe('');
    expect(sm.auth.enabled).toBe(true);
  });

  it('users and roles: empty names, duplicates, unknowns, grants and revokes', () => {
    const sm = newSm();
    expect(sm.auth.revision).toBe(1);
    expect(run(sm, { type: 'userAdd', name: '', hash: 'h', noPassword: false })).toBe(
      'etcdserver: user name is empty',
    );
    expect(run(sm, { type: 'roleAdd', name: '' })).toBe('etcdserver: role name is empty');
    expect(run(sm, { type: 'userAdd', name: 'bob', hash: 'h', noPassword: false })).toBe('');
    expect(run(sm, { type: 'userAdd', name: 'bob', hash: 'h', noPassword: false })).toBe(
      'etcdserver: user name already exists',
    );
    expect(run(sm, { type: 'userAdd', name: 'alice', hash: 'h', noPassword: true })).toBe('');
    expect(run(sm, { type: 'roleAdd', name: 'w' })).toBe('');
    expect(run(sm, { type: 'roleAdd', name: 'w' })).toBe('etcdserver: role name already exists');
    expect(run(sm, { type: 'roleAdd', name: 'a' })).toBe('');
    expect(run(sm, { type: 'userGrantRole', user: 'nobody', role: 'w' })).toBe(
      'etcdserver: user name not found',
    );
    expect(run(sm, { type: 'userGrantRole', user: 'bob', role: 'nope' })).toBe(
      'etcdserver: role name not found',
    );
    expect(run(sm, { type: 'userGrantRole', user: 'bob', role: 'w' })).toBe('');
    expect(run(sm, { type: 'userGrantRole', user: 'bob', role: 'a' })).toBe('');
    const rev = sm.auth.revision;
    expect(run(sm, { type: 'userGrantRole', user: 'bob', role: 'a' })).toBe(''); // duplicate: ignored
    expect(sm.auth.revision).toBe(rev);
    expect(sm.auth.userGet('bob')).toEqual(['a', 'w']);
    expect(sm.auth.userList()).toEqual(['alice', 'bob']);
    expect(sm.auth.roleList()).toEqual(['a', 'w']);
    expect(run(sm, { type: 'userRevokeRole', name: 'bob', role: 'x' })).toBe(
      'etcdserver: role is not granted to the user',
    );
    expect(run(sm, { type: 'userRevokeRole', name: 'bob', role: 'a' })).toBe('');
    expect(sm.auth.userGet('bob')).toEqual(['w']);
    expect(run(sm, { type: 'roleDelete', role: 'w' })).toBe('');
    expect(sm.auth.userGet('bob')).toEqual([]); // deleting a role takes it from its users
    expect(run(sm, { type: 'roleDelete', role: 'w' })).toBe('etcdserver: role name not found');
    expect(run(sm, { type: 'userDelete', name: 'bob' })).toBe('');
    expect(run(sm, { type: 'userDelete', name: 'bob' })).toBe('etcdserver: user name not found');
    expect(run(sm, { type: 'userChangePassword', name: 'bob', hash: 'x' })).toBe(
      'etcdserver: user name not found',
    );
    expect(sm.auth.revision).toBeGreaterThan(rev);
  });

  it('permissions: sorted by key, same key+end updates the type, revoking an absent one fails', () => {
    const sm = newSm();
    run(sm, { type: 'roleAdd', name: 'r' });
    const grant = (permType: 'READ' | 'WRITE' | 'READWRITE', key: string, end?: string) =>
      run(sm, {
        type: 'roleGrantPermission',
        name: 'r',
        perm: { permType, key: b(key), ...(end ? { rangeEnd: b(end) } : {}) },
      });
    expect(grant('READ', 'k2')).toBe('');
    expect(grant('READ', 'k1', 'k1z')).toBe('');
    expect(grant('WRITE', 'k1', 'k1z')).toBe('');
    expect(sm.auth.roleGet('r')).toEqual([
      { permType: 'WRITE', key: b('k1'), rangeEnd: b('k1z') },
      { permType: 'READ', key: b('k2') },
    ]);
    expect(
      run(sm, { type: 'roleGrantPermission', name: 'nope', perm: { permType: 'READ', key: b('x') } }),
    ).toBe('etcdserver: role name not found');
    expect(run(sm, { type: 'roleRevokePermission', role: 'r', key: b('k1') })).toBe(
      'etcdserver: permission is not granted to the role',
    );
    expect(run(sm, { type: 'roleRevokePermission', role: 'r', key: b('k1'), rangeEnd: b('k1z') })).toBe('');
    expect(run(sm, { type: 'roleRevokePermission', role: 'r', key: b('k2') })).toBe('');
    expect(sm.auth.roleGet('r')).toEqual([]);
  });

  it('root is protected while enabled; disable bumps the revision', () => {
    const sm = newSm();
    withRoot(sm);
    run(sm, { type: 'authEnable' });
    const a = { auth: root };
    expect(run(sm, { type: 'userRevokeRole', name: 'root', role: 'root', ...a })).toBe(
      'etcdserver: invalid auth management',
    );
    expect(run(sm, { type: 'userDelete', name: 'root', ...a })).toBe('etcdserver: invalid auth management');
    expect(run(sm, { type: 'roleDelete', role: 'root', ...a })).toBe('etcdserver: invalid auth management');
    const rev = sm.auth.revision;
    expect(run(sm, { type: 'authDisable', ...a })).toBe('');
    expect(sm.auth.revision).toBe(rev + 1);
    expect(run(sm, { type: 'userDelete', name: 'root' })).toBe('');
  });

  it('apply-time checks: writes by users, admin ops by root; internal entries always pass', () => {
    const sm = newSm();
    withRoot(sm);
    run(sm, { type: 'userAdd', name: 'u', hash: 'h', noPassword: false });
    run(sm, { type: 'roleAdd', name: 'app' });
    run(sm, {
      type: 'roleGrantPermission',
      name: 'app',
      perm: { permType: 'READWRITE', key: b('/app/'), rangeEnd: b('/app0') },
    });
    run(sm, { type: 'userGrantRole', user: 'u', role: 'app' });
    run(sm, { type: 'authEnable' });
    const u = { user: 'u', revision: sm.auth.revision };
    expect(run(sm, { type: 'put', request: { key: b('/app/a'), value: b('1') }, auth: u })).toBe('');
    expect(run(sm, { type: 'put', request: { key: b('/b'), value: b('1') }, auth: u })).toBe(
      'etcdserver: permission denied',
    );
    expect(
      run(sm, { type: 'put', request: { key: b('/b'), value: b('1') }, auth: { user: '', revision: 0 } }),
    ).toBe('etcdserver: user name is empty');
    expect(run(sm, { type: 'put', request: { key: b('/b'), value: b('1') } })).toBe(''); // internal
    expect(run(sm, { type: 'roleAdd', name: 'x', auth: u })).toBe('etcdserver: permission denied');
    expect(run(sm, { type: 'roleAdd', name: 'x', auth: { user: 'root', revision: 1 } })).toBe('');
    // The token's auth revision is now older than the store's (etcd's ErrAuthOldRevision).
    expect(run(sm, { type: 'put', request: { key: b('/app/a'), value: b('2') }, auth: u })).toBe(
      'etcdserver: revision of auth store is old',
    );
    const u2 = { user: 'u', revision: sm.auth.revision };
    // Txn: compares and both branches.
    const txn = (failureKey: string) =>
      run(sm, {
        type: 'txn',
        request: {
          compare: [{ key: b('/app/a'), result: 'EQUAL', target: 'VERSION', version: 1 }],
          success: [{ requestPut: { key: b('/app/c'), value: b('1') } }],
          failure: [{ requestDeleteRange: { key: b(failureKey) } }],
        },
        auth: u2,
      });
    expect(txn('/app/d')).toBe('');
    expect(txn('/other')).toBe('etcdserver: permission denied');
    // Lease revoke needs WRITE on the lease's keys.
    run(sm, { type: 'leaseGrant', request: { ID: 7n, TTL: 60 } });
    run(sm, { type: 'put', request: { key: b('/secret'), value: b('s'), lease: 7n } });
    expect(run(sm, { type: 'leaseRevoke', id: 7n, auth: u2 })).toBe('etcdserver: permission denied');
    expect(run(sm, { type: 'put', request: { key: b('/app/l'), value: b('1'), lease: 7n }, auth: u2 })).toBe(
      'etcdserver: permission denied',
    );
    expect(run(sm, { type: 'leaseRevoke', id: 7n, auth: { user: 'root', revision: sm.auth.revision } })).toBe(
      '',
    );
  });

  it('old entries (no auth field) still decode and apply', () => {
    const op: Operation = { type: 'put', request: { key: b('k'), value: b('v') } };
    const decoded = decodeProposal(encodeProposal({ id: { member: 1n, nonce: 1, seq: 1 }, op }));
    expect(decoded.op).toEqual(op);
    const withAuth = decodeProposal(
      encodeProposal({
        id: { member: 1n, nonce: 1, seq: 2 },
        op: { ...op, auth: { user: 'u', revision: 3 } },
      }),
    );
    expect(withAuth.op).toMatchObject({ auth: { user: 'u', revision: 3 } });
  });

  it('survives snapshot/restore of the state machine; export/fromState round-trip', () => {
    const sm = newSm();
    withRoot(sm);
    run(sm, { type: 'userAdd', name: 'np', hash: '', noPassword: true });
    run(sm, { type: 'roleAdd', name: 'r' });
    run(sm, {
      type: 'roleGrantPermission',
      name: 'r',
      perm: { permType: 'READ', key: b('a'), rangeEnd: b('\0') },
    });
    run(sm, { type: 'authEnable' });
    const copy = newSm();
    copy.restore(sm.snapshot());
    expect(copy.auth.export()).toEqual(sm.auth.export());
    expect(copy.auth.enabled).toBe(true);
    const state = sm.auth.export();
    expect(state).toEqual({
      enabled: true,
      revision: sm.auth.revision,
      users: [
        { name: 'np', password: '', roles: [], noPassword: true },
        { name: 'root', password: 'h', roles: ['root'], noPassword: false },
      ],
      roles: [
        { name: 'r', permissions: [{ permType: 'READ', key: b('a'), rangeEnd: Uint8Array.of(0) }] },
        { name: 'root', permissions: [] },
      ],
    });
    expect(AuthStore.fromState(state).export()).toEqual(state);
    // A snapshot without auth (older format) restores a fresh store.
    const fresh = newSm();
    fresh.restore(newSm().snapshot());
    expect(fresh.auth.export()).toEqual({ enabled: false, revision: 1, users: [], roles: [] });
  });

  it('authenticate assigns `<prefix>.<index>` on apply; simple tokens expire and refresh on use', () => {
    const sm = newSm();
    withRoot(sm);
    run(sm, { type: 'authEnable' });
    sm.auth.simpleTokens.ttlMs = 1000;
    const r = sm.apply({ type: 'authenticate', name: 'root', simpleToken: 'abcdefghijklmnop' }, 5000, 42);
    expect(r).toMatchObject({ ok: true, value: { token: 'abcdefghijklmnop.42' } });
    expect(sm.auth.simpleTokens.user('abcdefghijklmnop.42', 5900)).toBe('root');
    expect(sm.auth.simpleTokens.user('abcdefghijklmnop.42', 6800)).toBe('root'); // refreshed at 5900
    expect(sm.auth.simpleTokens.user('abcdefghijklmnop.42', 7900)).toBeUndefined();
    expect(sm.apply({ type: 'authenticate', name: 'nobody', simpleToken: 'x' }, 0, 43)).toMatchObject({
      ok: false,
    });
    expect(simpleTokenIndex('abc.12')).toBe(12);
    expect(simpleTokenIndex('forged.token')).toBeUndefined();
    expect(simpleTokenIndex('a.b.c')).toBeUndefined();
    expect(simpleTokenPrefix(cryptoRandom)).toMatch(/^[a-zA-Z]{16}$/);
  });

  it('simple tokens: a user change or auth disable invalidates them', () => {
    const t = new SimpleTokens();
    t.enable();
    t.assign('a.1', 'alice', 0);
    t.assign('b.2', 'bob', 0);
    t.invalidateUser('alice');
    expect(t.user('a.1', 1)).toBeUndefined();
    expect(t.user('b.2', 1)).toBe('bob');
    t.disable();
    expect(t.user('b.2', 1)).toBeUndefined();
  });
});

describe('passwords and JWT', () => {
  it('bcrypt hashes carry $2a$ and verify', async () => {
    const h = await hashPassword('pw', 4);
    expect(h).toMatch(/^\$2a\$04\$/);
    expect(await verifyPassword('pw', h)).toBe(true);
    expect(await verifyPassword('nope', h)).toBe(false);
    expect(await verifyPassword('pw', '')).toBe(false);
    expect(await verifyPassword('pw', 'garbage')).toBe(false);
  });

  for (const [alg, type, options] of [
    ['RS256', 'rsa', { modulusLength: 2048 }],
    ['PS256', 'rsa', { modulusLength: 2048 }],
    ['ES256', 'ec', { namedCurve: 'P-256' }],
  ] as const) {
    it(`${alg}: sign, verify, expiry, forged keys; PKCS#1 / SEC1 PEMs`, async () => {
      const gen = (format: 'pkcs8' | 'pkcs1' | 'sec1') =>
        generateKeyPairSync(type as 'rsa', {
          ...(options as { modulusLength: number }),
          publicKeyEncoding: { type: format === 'pkcs1' ? 'pkcs1' : 'spki', format: 'pem' },
          privateKeyEncoding: { type: format as 'pkcs8', format: 'pem' },
        });
      const k = gen('pkcs8');
      const tokens = new JwtTokens({
        signMethod: alg,
        privateKeyPem: k.privateKey,
        publicKeyPem: k.publicKey,
      });
      const now = 1_700_000_000_000;
      const token = await tokens.sign({ username: 'alice', revision: 5 }, now);
      expect(await tokens.verify(token, now + 1000)).toEqual({ username: 'alice', revision: 5 });
      expect(await tokens.verify(token, now + 301_000)).toBeUndefined(); // default TTL 300 s
      const verifier = new JwtTokens({ signMethod: alg, publicKeyPem: k.publicKey });
      expect(await verifier.verify(token, now)).toEqual({ username: 'alice', revision: 5 });
      await expect(verifier.sign({ username: 'x', revision: 1 }, now)).rejects.toThrow(/verify-only/);
      const other = gen('pkcs8');
      const forger = new JwtTokens({
        signMethod: alg,
        privateKeyPem: other.privateKey,
        publicKeyPem: other.publicKey,
      });
      expect(
        await tokens.verify(await forger.sign({ username: 'root', revision: 5 }, now), now),
      ).toBeUndefined();
      expect(await tokens.verify('garbled', now)).toBeUndefined();
      const legacy = gen(type === 'rsa' ? 'pkcs1' : 'sec1');
      const legacyTokens = new JwtTokens({
        signMethod: alg,
        privateKeyPem: legacy.privateKey,
        publicKeyPem: legacy.publicKey,
      });
      const t2 = await legacyTokens.sign({ username: 'bob', revision: 1 }, now);
      expect(await legacyTokens.verify(t2, now)).toEqual({ username: 'bob', revision: 1 });
    });
  }
});
