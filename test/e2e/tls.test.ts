// TLS everywhere, as etcd 3.4 does it, with real member processes and the real etcdctl 3.4: a 3-member cluster
// with https:// client and peer URLs, client certificates required on both ports (--client-cert-auth,
// --peer-client-cert-auth). etcdctl, the gateway (node:https) and the etcd3 npm client work with the CA and a
// client certificate; without a client certificate, or in plaintext, they are refused. A member whose peer
// certificate comes from another CA cannot join. With auth enabled, a client certificate's CN is the user
// (etcd's mTLS identity): `etcdctl --cert alice.pem` acts as alice with no --user.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCA, writePem } from '../support/certs.ts';
import { etcdctl, freePort, TestCluster } from './cluster-harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'bin', 'edgecd.js');

const dir = mkdtempSync(join(tmpdir(), 'edgecd-tls-e2e-'));
const ca = createCA();
const otherCa = createCA('untrusted CA');
const server = writePem(dir, 'server', ca.server('edgecd'), ca);
const root = writePem(dir, 'root', ca.client('root'), ca);
const alice = writePem(dir, 'alice', ca.client('alice'), ca);
const intruder = writePem(dir, 'intruder', otherCa.server('intruder'), otherCa);

const TLS_FLAGS = [
  '--cert-file',
  server.cert,
  '--key-file',
  server.key,
  '--trusted-ca-file',
  server.ca,
  '--client-cert-auth',
  '--peer-cert-file',
  server.cert,
  '--peer-key-file',
  server.key,
  '--peer-trusted-ca-file',
  server.ca,
  '--peer-client-cert-auth',
];

let c: TestCluster;
/** etcdctl over TLS as `who` (a client certificate), against the running members. */
const ctl = (args: readonly string[], who: { cert: string; key: string } | null = root) =>
  etcdctl(
    c.members
      .filter((m) => c.isRunning(m.name) && m.name !== 'm4')
      .map((m) => c.clientUrl(m.name))
      .join(','),
    ['--cacert', server.ca, ...(who ? ['--cert', who.cert, '--key', who.key] : []), ...args],
  );

beforeAll(async () => {
  c = await TestCluster.start({
    clientScheme: 'https',
    peerScheme: 'https',
    extraFlags: TLS_FLAGS,
    https: {
      ca: ca.cert,
      cert: await readText(root.cert),
      key: await readText(root.key),
    },
  });
});

afterAll(async () => {
  await c?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function readText(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

function httpsPost(
  port: number,
  path: string,
  body: unknown,
  tls: { ca: string; cert?: string; key?: string },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port, path, method: 'POST', ...tls, agent: false, timeout: 5000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('a 3-member cluster with TLS on the client and peer ports', () => {
  it('etcdctl with the CA and a client certificate: put on one member, get on every member', () => {
    const put = ctl(['put', 'tls-key', 'over-tls']);
    expect(put.stderr).toBe('');
    expect(put.stdout.trim()).toBe('OK');
    for (const m of c.members) {
      const get = etcdctl(c.clientUrl(m.name), [
        '--cacert',
        server.ca,
        '--cert',
        root.cert,
        '--key',
        root.key,
        'get',
        'tls-key',
      ]);
      expect(get.stdout.trim().split('\n')).toEqual(['tls-key', 'over-tls']);
    }
  });

  it('member list shows https peer and client URLs', () => {
    const r = ctl(['member', 'list']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      const [, status, , peerURLs, clientURLs] = line.split(', ');
      expect(status).toBe('started');
      expect(peerURLs).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(clientURLs).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    }
  });

  it('etcdctl with https:// endpoints and --cluster: endpoint status and hashkv', () => {
    const status = ctl(['endpoint', 'status']);
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/^https:\/\/127\.0\.0\.1:\d+, [0-9a-f]+, 3\.4\.23/m);
    const cluster = ctl(['endpoint', 'status', '--cluster']);
    expect(cluster.status, cluster.stderr).toBe(0);
    const hashes = ctl(['endpoint', 'hashkv', '--cluster']);
    expect(hashes.status, hashes.stderr).toBe(0);
  });

  it('etcdctl without a client certificate is refused (--client-cert-auth)', () => {
    const r = ctl(['--command-timeout=3s', 'get', 'tls-key'], null);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
  });

  it('etcdctl with a certificate from an untrusted CA is refused', () => {
    const r = ctl(['--command-timeout=3s', 'get', 'tls-key'], intruder);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toBe('');
  });

  it('plaintext is refused: etcdctl over http:// and fetch over http://', async () => {
    const r = etcdctl(c.endpoint('m1'), ['--command-timeout=3s', 'get', 'tls-key']);
    expect(r.status).not.toBe(0);
    await expect(
      fetch(`http://${c.endpoint('m1')}/version`, { signal: AbortSignal.timeout(3000) }),
    ).rejects.toThrow();
  });

  it('the JSON gateway over https (CA and client certificate)', async () => {
    const tls = { ca: ca.cert, cert: await readText(alice.cert), key: await readText(alice.key) };
    const port = c.member('m2').clientPort;
    const put = await httpsPost(port, '/v3/kv/put', { key: b64('gw'), value: b64('via-https') }, tls);
    expect(put.status).toBe(200);
    const range = await httpsPost(port, '/v3/kv/range', { key: b64('gw') }, tls);
    expect(JSON.parse(range.body).kvs[0].value).toBe(b64('via-https'));
    await expect(httpsPost(port, '/v3/kv/range', { key: b64('gw') }, { ca: ca.cert })).rejects.toThrow();
  });

  it('the etcd3 npm client over TLS with a client certificate', async () => {
    const client = new Etcd3({
      hosts: c.members.map((m) => c.clientUrl(m.name)),
      credentials: {
        rootCertificate: Buffer.from(ca.cert),
        certChain: Buffer.from(await readText(root.cert)),
        privateKey: Buffer.from(await readText(root.key)),
      },
    });
    try {
      await client.put('etcd3-tls').value('yes');
      expect(await client.get('etcd3-tls').string()).toBe('yes');
      expect(await client.get('tls-key').string()).toBe('over-tls');
    } finally {
      client.close();
    }
  });

  it('a member whose peer certificate comes from another CA cannot join', async () => {
    const m4 = await c.newMemberSpec('m4');
    const add = ctl(['member', 'add', 'm4', `--peer-urls=${c.peerUrl(m4)}`]);
    expect(add.stderr).toBe('');
    // It trusts the cluster's CA, but its own certificate (server and client) is from the other CA.
    c.spawn(m4, [
      '--initial-cluster-state',
      'existing',
      '--peer-cert-file',
      intruder.cert,
      '--peer-key-file',
      intruder.key,
    ]);
    const code = await c.waitExit('m4', 30_000);
    expect(code).not.toBe(0);
    expect(c.tail('m4', 50)).toMatch(/cannot fetch cluster info from peer urls/);
    // The cluster carries on; m4 is listed but never started.
    await c.waitHealthy(['m1', 'm2', 'm3']);
    const list = ctl(['member', 'list']).stdout.trim().split('\n');
    const row = list.find((l) => l.includes(`:${m4.peerPort}`));
    expect(row?.split(', ')[1]).toBe('unstarted');
    const id = row?.split(', ')[0] ?? '';
    expect(ctl(['member', 'remove', id]).stderr).toBe('');
    c.members.splice(c.members.indexOf(m4), 1);
  });

  it('with auth enabled, the client certificate CN is the user (no --user needed)', async () => {
    const added = ctl(['user', 'add', 'root', '--new-user-password=rootpw']);
    expect(added.stderr).toBe('');
    expect(ctl(['auth', 'enable']).stdout).toContain('Authentication Enabled');
    expect(ctl(['user', 'add', 'alice', '--new-user-password=alicepw']).status).toBe(0);
    expect(ctl(['role', 'add', 'a-writer']).status).toBe(0);
    expect(ctl(['role', 'grant-permission', 'a-writer', 'readwrite', 'a', '--prefix=true']).status).toBe(0);
    expect(ctl(['user', 'grant-role', 'alice', 'a-writer']).status).toBe(0);

    // alice by certificate: her permissions apply.
    const ok = ctl(['put', 'a1', 'by-alice'], alice);
    expect(ok.stderr).toBe('');
    expect(ok.stdout.trim()).toBe('OK');
    const denied = ctl(['put', 'b1', 'by-alice'], alice);
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toContain('etcdserver: permission denied');
    expect(ctl(['user', 'list'], alice).stderr).toContain('etcdserver: permission denied');
    // root by certificate: an administrator.
    const users = ctl(['user', 'list'], root);
    expect(users.stderr).toBe('');
    expect(users.stdout.trim().split('\n')).toEqual(['alice', 'root']);
    // A password (token) wins over the certificate, as in etcd.
    const asRoot = ctl(['--user', 'root:rootpw', 'put', 'b1', 'by-root'], alice);
    expect(asRoot.stdout.trim()).toBe('OK');

    // The gateway over https: the same identity from the certificate.
    const tls = { ca: ca.cert, cert: await readText(alice.cert), key: await readText(alice.key) };
    const port = c.member('m1').clientPort;
    const mine = await httpsPost(port, '/v3/kv/put', { key: b64('a2'), value: b64('gw-alice') }, tls);
    expect(mine.status).toBe(200);
    const theirs = await httpsPost(port, '/v3/kv/put', { key: b64('b2'), value: b64('gw-alice') }, tls);
    expect(theirs.status).not.toBe(200);
    expect(theirs.body).toContain('permission denied');
  });
});

describe('refusing TLS flag combinations (as etcd)', () => {
  it('an https client URL without --cert-file/--key-file stops the member with etcd’s error', async () => {
    const port = await freePort();
    const peer = await freePort();
    const r = spawnSync(
      process.execPath,
      [
        ENTRY,
        '--name',
        'x',
        '--data-dir',
        join(dir, 'x'),
        '--listen-client-urls',
        `https://127.0.0.1:${port}`,
        '--advertise-client-urls',
        `https://127.0.0.1:${port}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${peer}`,
        '--initial-cluster',
        `x=http://127.0.0.1:${peer}`,
      ],
      { encoding: 'utf8', timeout: 20_000, cwd: ROOT },
    );
    expect(r.status).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).toContain(
      `TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:${port} with HTTPS scheme`,
    );
  });
});
