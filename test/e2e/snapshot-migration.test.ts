// Migration both ways between a real etcd 3.4.23 and edgecd through snapshot files:
//   (a) edgecd → etcd: `etcdctl snapshot save` from an edgecd cluster gives etcd's bbolt file; `etcdctl snapshot
//       status` reads it; `etcdctl snapshot restore` + a real etcd on the restored dir serve the same keyspace
//       (values, create/mod revisions, versions, leases, history, compaction point) and the same HashKV.
//   (b) etcd → edgecd: `etcdctl snapshot save` from a real etcd; `edgecd snapshot restore` into 3 data dirs; the
//       new edgecd cluster serves the same keyspace and the same HashKV as the etcd it came from.
// Every process started here is killed by its PID; data lives in temp dirs.
import { type ChildProcess, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readBolt } from '../../src/bbolt/index.ts';
import { Crc32c } from '../../src/mvcc/hash.ts';
import { decodeEtcdBackend } from '../../src/server/etcd-snapshot.ts';
import { etcdctl, freePort, TestCluster } from './cluster-harness.ts';
import { killEtcd, spawnEtcd } from './differential/harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const enc = (s: string) => new TextEncoder().encode(s);

const clusters: TestCluster[] = [];
const etcds: RealEtcd[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const e of etcds) await e.stop();
  for (const c of clusters) await c.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'edgecd-migration-'));
  dirs.push(d);
  return d;
}

/** A single-member real etcd 3.4.23 on a given data dir (fresh or restored by etcdctl). */
class RealEtcd {
  private proc: ChildProcess | undefined;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly token: string,
  ) {}

  static async create(dataDir: string, token = 'migration'): Promise<RealEtcd> {
    return new RealEtcd('etcd1', dataDir, await freePort(), await freePort(), token);
  }

  get endpoint(): string {
    return `127.0.0.1:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://127.0.0.1:${this.peerPort}`;
  }

  async start(): Promise<void> {
    const client = `http://${this.endpoint}`;
    const args = [
      ...['--name', this.name, '--data-dir', this.dataDir],
      ...['--listen-client-urls', client, '--advertise-client-urls', client],
      ...['--listen-peer-urls', this.peerUrl, '--initial-advertise-peer-urls', this.peerUrl],
      ...['--initial-cluster', `${this.name}=${this.peerUrl}`, '--initial-cluster-token', this.token],
      ...[
        '--heartbeat-interval',
        '50',
        '--election-timeout',
        '500',
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ],
    ];
    this.proc = (await spawnEtcd(args, client)).proc;
  }

  async stop(): Promise<void> {
    if (this.proc) await killEtcd(this.proc);
  }
}

async function post(endpoint: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const r = await fetch(`http://${endpoint}/v3${path}`, { method: 'POST', body: JSON.stringify(body) });
  const json = (await r.json()) as Record<string, unknown>;
  if (!r.ok) throw new Error(`${path}: ${JSON.stringify(json)}`);
  return json;
}

const revisionOf = (r: Record<string, unknown>) => Number((r.header as { revision: string }).revision);

/**
 * The same history on either server, over the gateway: ~300 keys (some with values larger than a bbolt page),
 * overwrites, single and range deletes, a multi-op txn (sub-revisions), two leases (one with keys), a compaction
 * in the middle, and writes after it (a key deleted and created again). Returns the revisions worth reading at.
 */
async function populate(
  endpoint: string,
): Promise<{ compactRev: number; midRev: number; lastRev: number; leaseId: string }> {
  for (let i = 0; i < 300; i++) {
    const value = i % 50 === 7 ? `big-${i}-${'x'.repeat(6000)}` : `value-${i}`;
    await post(endpoint, '/kv/put', { key: b64(`key/${i.toString().padStart(3, '0')}`), value: b64(value) });
  }
  for (let i = 0; i < 40; i++) {
    await post(endpoint, '/kv/put', {
      key: b64(`key/${i.toString().padStart(3, '0')}`),
      value: b64(`again-${i}`),
    });
  }
  for (let i = 290; i < 300; i++) await post(endpoint, '/kv/deleterange', { key: b64(`key/${i}`) });
  await post(endpoint, '/kv/deleterange', { key: b64('key/27'), range_end: b64('key/28') }); // key/270..279
  const lease = await post(endpoint, '/lease/grant', { TTL: 3600, ID: '7587863052931430401' });
  await post(endpoint, '/lease/grant', { TTL: 1800, ID: '7587863052931430402' });
  for (const k of ['leased/a', 'leased/b', 'leased/c']) {
    await post(endpoint, '/kv/put', { key: b64(k), value: b64(`on-lease-${k}`), lease: lease.ID });
  }
  const mid = await post(endpoint, '/kv/txn', {
    success: [
      { request_put: { key: b64('txn/a'), value: b64('1') } },
      { request_put: { key: b64('txn/b'), value: b64('2') } },
      { request_delete_range: { key: b64('key/000') } },
      { request_put: { key: b64('key/001'), value: b64('in-txn') } },
    ],
  });
  const midRev = revisionOf(mid);
  const compactRev = midRev - 30;
  await post(endpoint, '/kv/compaction', { revision: String(compactRev), physical: true });
  await post(endpoint, '/kv/put', { key: b64('key/005'), value: b64('after-compaction') });
  await post(endpoint, '/kv/deleterange', { key: b64('key/006') });
  await post(endpoint, '/kv/put', { key: b64('key/006'), value: b64('reborn') });
  await post(endpoint, '/kv/put', { key: b64('leased/a'), value: b64('moved-off-lease') });
  const last = await post(endpoint, '/kv/put', { key: b64('last'), value: b64('before-snapshot') });
  return { compactRev, midRev, lastRev: revisionOf(last), leaseId: String(lease.ID) };
}

interface Kv {
  key: string;
  value?: string;
  create_revision: number;
  mod_revision: number;
  version: number;
  lease?: number;
}

function ctl(endpoint: string, args: string[]) {
  const r = etcdctl(endpoint, args);
  expect(r.status, `etcdctl ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Every key at `rev` (0 = current) with its revisions, as etcdctl prints them, and the header revision. */
function everything(endpoint: string, rev = 0): { revision: number; kvs: Kv[] } {
  const out = JSON.parse(ctl(endpoint, ['get', '', '--from-key', `--rev=${rev}`, '-w', 'json'])) as {
    header: { revision: number };
    kvs?: Kv[];
  };
  return { revision: out.header.revision, kvs: out.kvs ?? [] };
}

function hashKV(endpoint: string, rev: number): { hash: number; compact_revision: number; revision: number } {
  const [entry] = JSON.parse(ctl(endpoint, ['endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json'])) as {
    HashKV: { hash: number; compact_revision: number; header: { revision: number } };
  }[];
  return {
    hash: entry.HashKV.hash,
    compact_revision: entry.HashKV.compact_revision,
    revision: entry.HashKV.header.revision,
  };
}

/** Leases with their granted TTLs and keys (text output: lease IDs do not survive JSON numbers). */
function leases(endpoint: string): { id: string; granted: string; keys: string }[] {
  const ids = ctl(endpoint, ['lease', 'list']).trim().split('\n').slice(1).sort();
  return ids.map((id) => {
    // "lease 694d… granted with TTL(3600s), remaining(3598s), attached keys([leased/b leased/c])"
    const t = ctl(endpoint, ['lease', 'timetolive', id, '--keys']);
    const m = /granted with TTL\((\d+)s\), remaining\(\d+s\), attached keys\(\[(.*)\]\)/.exec(t);
    expect(m, t).not.toBeNull();
    return { id, granted: m![1], keys: m![2].split(' ').sort().join(' ') };
  });
}

/** What `etcdctl snapshot status` computes (CRC-32C over every bucket name, key and value; counts), from our reader. */
function statusOf(file: Uint8Array): { hash: number; revision: number; totalKey: number; totalSize: number } {
  const db = readBolt(file.subarray(0, file.length - 32));
  const h = new Crc32c();
  let totalKey = 0;
  let revision = 0;
  for (const bucket of db.root.items) {
    h.update(bucket.key);
    for (const item of bucket.bucket?.items ?? []) {
      h.update(item.key);
      h.update(item.value ?? new Uint8Array(0));
      totalKey++;
      if (Buffer.from(bucket.key).toString() === 'key')
        revision = Number(Buffer.from(item.key).readBigUInt64BE(0));
    }
  }
  return { hash: h.digest(), revision, totalKey, totalSize: db.meta.pgid * db.meta.pageSize };
}

/** Users and roles (auth left disabled, so reads and hashes need no credentials until expectSameAuth). */
function addUsersAndRoles(endpoint: string): void {
  ctl(endpoint, ['user', 'add', 'root', '--new-user-password=rootpw']);
  ctl(endpoint, ['user', 'grant-role', 'root', 'root']);
  ctl(endpoint, ['user', 'add', 'alice', '--new-user-password=secret']);
  ctl(endpoint, ['user', 'add', 'carol', '--no-password']);
  ctl(endpoint, ['role', 'add', 'reader']);
  ctl(endpoint, ['role', 'grant-permission', 'reader', 'read', 'key/', '--prefix']);
  ctl(endpoint, ['role', 'grant-permission', 'reader', 'readwrite', 'last']);
  ctl(endpoint, ['user', 'grant-role', 'alice', 'reader']);
}

/**
 * The same users and roles on both sides; then, with auth enabled on the target, the migrated password hashes
 * and permissions work there (alice reads key/, may not read txn/, and a wrong password is refused).
 */
function expectSameAuth(from: string, to: string): void {
  for (const args of [
    ['user', 'list'],
    ['role', 'list'],
    ['user', 'get', 'alice'],
    ['role', 'get', 'reader'],
  ]) {
    expect(ctl(to, args), args.join(' ')).toBe(ctl(from, args));
  }
  expect(ctl(to, ['auth', 'enable'])).toBe('Authentication Enabled\n');
  expect(ctl(to, ['--user=alice:secret', 'get', 'key/002', '--print-value-only'])).toBe('again-2\n');
  expect(etcdctl(to, ['--user=alice:secret', 'get', 'txn/a']).stderr).toContain('permission denied');
  expect(etcdctl(to, ['--user=alice:wrong', 'get', 'key/002']).stderr).toContain('authentication failed');
  expect(ctl(to, ['--user=root:rootpw', 'auth', 'disable'])).toBe('Authentication Disabled\n');
}

/** The same reads on both sides: now, at the compaction point, mid-history, and refused below compaction. */
function expectSameKeyspace(
  from: string,
  to: string,
  r: { compactRev: number; midRev: number; lastRev: number },
) {
  const now = everything(from);
  expect(now.revision).toBe(r.lastRev);
  expect(now.kvs.length).toBeGreaterThan(250);
  expect(everything(to)).toEqual(now);
  for (const rev of [r.compactRev, r.compactRev + 1, r.midRev - 1, r.midRev, r.lastRev - 2]) {
    expect(everything(to, rev).kvs, `at revision ${rev}`).toEqual(everything(from, rev).kvs);
  }
  for (const side of [from, to]) {
    const refused = etcdctl(side, ['get', 'key/001', `--rev=${r.compactRev - 1}`]);
    expect(refused.stderr).toContain('required revision has been compacted');
  }
  expect(leases(to)).toEqual(leases(from));
  const hashes = [r.compactRev + 1, r.midRev, r.lastRev].map((rev) => [hashKV(from, rev), hashKV(to, rev)]);
  for (const [a, b] of hashes) {
    expect(b.hash).toBe(a.hash);
    expect(b.compact_revision).toBe(a.compact_revision);
    expect(b.revision).toBe(a.revision);
  }
}

describe('snapshot migration between etcd 3.4 and edgecd', () => {
  it('edgecd → etcd: etcdctl snapshot save/status/restore, a real etcd serves the same keyspace', async () => {
    const source = await TestCluster.start();
    clusters.push(source);
    const revs = await populate(source.endpoint('m1'));
    addUsersAndRoles(source.endpoint('m1'));
    const dir = tempDir();
    const file = join(dir, 'from-edgecd.db');
    expect(ctl(source.endpoint('m2'), ['snapshot', 'save', file])).toBe(`Snapshot saved at ${file}\n`);
    const bytes = new Uint8Array(readFileSync(file));
    expect(bytes.length % 512).toBe(32);

    const status = JSON.parse(ctl(source.endpoint('m1'), ['snapshot', 'status', file, '-w', 'json']));
    console.log(`etcdctl snapshot status (edgecd's file): ${JSON.stringify(status)}`);
    expect(status.revision).toBe(revs.lastRev);
    expect(status).toEqual(statusOf(bytes));

    const target = await RealEtcd.create(join(dir, 'etcd-restored'), 'restored');
    const restored = spawnSync(
      'etcdctl',
      [
        ...['snapshot', 'restore', file, '--name', target.name, '--data-dir', target.dataDir],
        ...['--initial-cluster', `${target.name}=${target.peerUrl}`, '--initial-cluster-token', target.token],
        ...['--initial-advertise-peer-urls', target.peerUrl],
      ],
      { env: { ...process.env, ETCDCTL_API: '3' }, encoding: 'utf8', timeout: 30_000 },
    );
    console.log(`etcdctl snapshot restore: ${restored.stdout}${restored.stderr}`);
    expect(restored.status, restored.stderr).toBe(0);
    etcds.push(target);
    await target.start();

    expectSameKeyspace(source.endpoint('m1'), target.endpoint, revs);
    expectSameAuth(source.endpoint('m1'), target.endpoint);
    // It takes writes from where edgecd stood.
    expect(ctl(target.endpoint, ['put', 'fresh', 'write'])).toBe('OK\n');
    expect(everything(target.endpoint).revision).toBe(revs.lastRev + 1);
  });

  it('etcd → edgecd: edgecd snapshot restore of a real etcd snapshot, a new edgecd cluster serves the same keyspace', async () => {
    const source = await RealEtcd.create(join(tempDir(), 'etcd-source'));
    etcds.push(source);
    await source.start();
    const revs = await populate(source.endpoint);
    addUsersAndRoles(source.endpoint);
    const dir = tempDir();
    const file = join(dir, 'from-etcd.db');
    expect(ctl(source.endpoint, ['snapshot', 'save', file])).toBe(`Snapshot saved at ${file}\n`);
    const bytes = new Uint8Array(readFileSync(file));
    const status = JSON.parse(ctl(source.endpoint, ['snapshot', 'status', file, '-w', 'json']));
    console.log(`etcdctl snapshot status (etcd's file): ${JSON.stringify(status)}`);
    // Our reader sees exactly what etcdctl sees in etcd's own file.
    expect(statusOf(bytes)).toEqual(status);
    const auth = decodeEtcdBackend(bytes.subarray(0, bytes.length - 32)).auth!;
    expect(auth.enabled).toBe(false);
    expect(auth.users.map((u) => [u.name, u.roles, u.noPassword, u.password.startsWith('$2a$')])).toEqual([
      ['alice', ['reader'], false, true],
      ['carol', [], true, false],
      ['root', ['root'], false, true],
    ]);
    expect(auth.roles).toEqual([
      {
        name: 'reader',
        permissions: [
          { permType: 'READ', key: enc('key/'), rangeEnd: enc('key0') },
          { permType: 'READWRITE', key: enc('last') },
        ],
      },
    ]);

    const target = await TestCluster.prepare({ size: 3 });
    clusters.push(target);
    for (const m of target.members) {
      const r = spawnSync(
        process.execPath,
        [
          ...[join(ROOT, 'bin', 'edgecd.js'), 'snapshot', 'restore', file],
          ...['--name', m.name, '--data-dir', m.dataDir, '--initial-cluster', target.initialCluster],
          ...[
            '--initial-cluster-token',
            'e2e',
            '--initial-advertise-peer-urls',
            `http://127.0.0.1:${m.peerPort}`,
          ],
        ],
        { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
      );
      expect(r.status, r.stderr).toBe(0);
    }
    await target.startAll();
    await target.leaderName();

    for (const m of target.members) expectSameKeyspace(source.endpoint, target.endpoint(m.name), revs);
    expectSameAuth(source.endpoint, target.endpoint('m1'));
    expect(ctl(target.endpoint('m2'), ['put', 'fresh', 'write'])).toBe('OK\n');
    expect(everything(target.endpoint('m3')).revision).toBe(revs.lastRev + 1);
  });
});
