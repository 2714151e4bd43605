// Backup and restore end to end: `etcdctl snapshot save` against a running edgecd cluster, `edgecd snapshot
// restore` into three fresh data dirs, a NEW cluster started on them holding the same keyspace at the same
// revision (equal HashKV), and a corrupt snapshot refused.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSnapshotFile } from '../../src/server/snapshot-file.ts';
import { etcdctl, TestCluster } from './cluster-harness.ts';

const ROOT = join(import.meta.dirname, '..', '..');
let original: TestCluster;
let restored: TestCluster | undefined;

beforeAll(async () => {
  original = await TestCluster.start();
});
afterAll(async () => {
  await restored?.close();
  await original?.close();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function gateway(c: TestCluster, name: string, path: string, body: unknown): Promise<unknown> {
  const r = await fetch(`http://${c.endpoint(name)}/v3${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
  });
  return r.json();
}

function hashKV(c: TestCluster, name: string, rev: number): { hash: number; revision: number } {
  const r = etcdctl(c.endpoint(name), ['endpoint', 'hashkv', `--rev=${rev}`, '-w', 'json']);
  expect(r.status, r.stderr).toBe(0);
  const [entry] = JSON.parse(r.stdout) as { HashKV: { hash: number; header: { revision: number } } }[];
  return { hash: entry.HashKV.hash, revision: entry.HashKV.header.revision };
}

function restore(file: string, c: TestCluster, name: string) {
  const m = c.member(name);
  return spawnSync(
    process.execPath,
    [
      join(ROOT, 'bin', 'edgecd.js'),
      'snapshot',
      'restore',
      file,
      '--name',
      name,
      '--data-dir',
      m.dataDir,
      '--initial-cluster',
      c.initialCluster,
      '--initial-cluster-token',
      'e2e',
      '--initial-advertise-peer-urls',
      `http://127.0.0.1:${m.peerPort}`,
    ],
    { cwd: ROOT, encoding: 'utf8', timeout: 30_000 },
  );
}

describe('snapshot save and restore', () => {
  it('etcdctl snapshot save, restore into 3 fresh data dirs, a new cluster with the same keyspace', async () => {
    // A keyspace with history: 200 keys, overwrites, deletes, a leased key, a compaction.
    for (let i = 0; i < 200; i++) {
      await gateway(original, 'm1', '/kv/put', { key: b64(`key/${i}`), value: b64(`value-${i}`) });
    }
    for (let i = 0; i < 20; i++) {
      await gateway(original, 'm2', '/kv/put', { key: b64(`key/${i}`), value: b64(`again-${i}`) });
    }
    await gateway(original, 'm3', '/kv/deleterange', { key: b64('key/199') });
    const lease = (await gateway(original, 'm1', '/lease/grant', { TTL: 600 })) as { ID: string };
    await gateway(original, 'm1', '/kv/put', { key: b64('leased'), value: b64('x'), lease: lease.ID });
    await gateway(original, 'm1', '/kv/compaction', { revision: '100' });
    const ctl = (args: string[]) => etcdctl(original.endpoint('m1'), args);
    expect(ctl(['put', 'last', 'before-snapshot']).stdout).toBe('OK\n');
    const rev = Number(JSON.parse(ctl(['get', 'last', '-w', 'json']).stdout).header.revision);
    const before = hashKV(original, 'm1', rev);

    const file = join(original.root, 'backup.db');
    const saved = etcdctl(original.endpoint('m2'), ['snapshot', 'save', file]);
    expect(saved.status, saved.stderr).toBe(0);
    expect(saved.stdout).toBe(`Snapshot saved at ${file}\n`);
    const bytes = readFileSync(file);
    expect(bytes.length % 512).toBe(32);
    const decoded = await readSnapshotFile(new Uint8Array(bytes));
    expect(decoded.format).toBe('etcd-bbolt'); // etcd 3.4's bbolt file + sha256 trailer
    expect(decoded.revision).toBe(rev);

    // The gateway streams the same file as NDJSON `{"result":{…,"blob":base64}}` lines.
    const viaGateway = await fetch(`http://${original.endpoint('m3')}/v3/maintenance/snapshot`, {
      method: 'POST',
      body: '{}',
    });
    const lines = (await viaGateway.text()).trim().split('\n');
    const blobs = lines.map((l) =>
      Buffer.from((JSON.parse(l) as { result: { blob: string } }).result.blob, 'base64'),
    );
    expect(JSON.parse(lines.at(-1)!).result.remaining_bytes).toBeUndefined(); // 0: the last chunk
    expect((await readSnapshotFile(new Uint8Array(Buffer.concat(blobs)))).revision).toBe(rev);

    // Written after the snapshot: must not be in the restored cluster.
    expect(ctl(['put', 'after', 'snapshot']).stdout).toBe('OK\n');

    restored = await TestCluster.prepare({ size: 3 });
    const c = restored;
    // A corrupt copy is refused with a clear error and writes nothing.
    const corrupt = join(original.root, 'corrupt.db');
    const flipped = Buffer.from(bytes);
    flipped[200] ^= 0xff;
    writeFileSync(corrupt, flipped);
    const refused = restore(corrupt, c, 'm1');
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('snapshot file is corrupt: sha256 checksum mismatch');

    for (const m of c.members) {
      const r = restore(file, c, m.name);
      expect(r.status, r.stderr).toBe(0);
    }
    await c.startAll();
    await c.leaderName();

    const get = (name: string, args: string[]) => etcdctl(c.endpoint(name), args);
    const all = JSON.parse(get('m3', ['get', 'key/', '--prefix', '-w', 'json']).stdout) as {
      kvs: { key: string; value: string }[];
      header: { revision: number };
    };
    expect(all.header.revision).toBe(rev);
    expect(all.kvs).toHaveLength(199);
    const values = new Map(
      all.kvs.map((kv) => [
        Buffer.from(kv.key, 'base64').toString(),
        Buffer.from(kv.value, 'base64').toString(),
      ]),
    );
    for (let i = 0; i < 199; i++) expect(values.get(`key/${i}`)).toBe(i < 20 ? `again-${i}` : `value-${i}`);
    expect(get('m1', ['get', 'last']).stdout).toBe('last\nbefore-snapshot\n');
    expect(get('m1', ['get', 'after']).stdout).toBe('');
    expect(get('m2', ['get', 'leased']).stdout).toBe('leased\nx\n');
    expect(get('m2', ['lease', 'list']).stdout).toContain(BigInt(lease.ID).toString(16));

    // Same keyspace, same revision, same history hash, on every new member.
    for (const m of c.members) expect(hashKV(c, m.name, rev)).toEqual(before);

    // It is a new cluster of the new members, and it takes writes from where the old one stood.
    const list = get('m1', ['member', 'list']).stdout;
    for (const m of c.members) expect(list).toContain(`http://127.0.0.1:${m.peerPort}`);
    for (const m of original.members) expect(list).not.toContain(`http://127.0.0.1:${m.peerPort}`);
    expect(get('m2', ['put', 'fresh', 'write']).stdout).toBe('OK\n');
    expect(JSON.parse(get('m3', ['get', 'fresh', '-w', 'json']).stdout).header.revision).toBe(rev + 1);

    // A restored member restarts from its own WAL (the restore snapshot plus what it appended since).
    await c.stop('m1');
    await c.restart('m1');
    await c.waitHealthy(['m1']);
    expect(get('m1', ['get', 'fresh']).stdout).toBe('fresh\nwrite\n');
    expect(hashKV(c, 'm1', rev).hash).toBe(before.hash); // its header now says rev + 1
  });
});
