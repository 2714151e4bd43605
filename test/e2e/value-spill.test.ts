// Values beyond --experimental-value-cache-bytes wait in a scratch file (src/mvcc/value-store.ts, adapters/storage/
// file-wal/value-spill.ts): real member processes with a 256 KiB budget hold ~3 MB of values, every member reads
// every value back exactly, the members agree on HashKV, the spill file is open but gone from the data
// directory, and a follower killed with SIGKILL comes back from its snapshot and WAL with the same keyspace.

import { readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, TestCluster } from './cluster-harness.ts';

let cluster: TestCluster;
const KEYS = 1500;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const value = (i: number, round: number) =>
  `${round}:${i}:`.padEnd(1000 + (i % 97), String.fromCharCode(97 + (i % 26)));

beforeAll(async () => {
  cluster = await TestCluster.start({
    snapshotCount: 300,
    extraFlags: ['--experimental-value-cache-bytes=262144'],
  });
}, 60_000);
afterAll(async () => {
  await cluster?.close();
});

async function putAll(round: number, every = 1, via = 'm1'): Promise<void> {
  const keys = Array.from({ length: KEYS }, (_, i) => i).filter((i) => i % every === 0);
  for (let at = 0; at < keys.length; at += 100) {
    const success = keys.slice(at, at + 100).map((i) => ({
      requestPut: { key: b64(`spill/${String(i).padStart(5, '0')}`), value: b64(value(i, round)) },
    }));
    const r = await cluster.clientFetch(via, '/v3/kv/txn', {
      method: 'POST',
      body: JSON.stringify({ success }),
    });
    expect(r.status, await r.clone().text()).toBe(200);
  }
}

async function readAll(name: string): Promise<Map<string, string>> {
  // Through the gateway (the JSON of ~3 MB of values is more than etcdctl's output buffer here).
  const body = JSON.stringify({ key: b64('spill/'), range_end: b64('spill0'), serializable: true });
  const r = await cluster.clientFetch(name, '/v3/kv/range', { method: 'POST', body });
  expect(r.status).toBe(200);
  const { kvs } = (await r.json()) as { kvs: { key: string; value: string }[] };
  const text = (s: string) => Buffer.from(s, 'base64').toString();
  return new Map(kvs.map((kv) => [text(kv.key), text(kv.value)]));
}

function expected(): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < KEYS; i++) m.set(`spill/${String(i).padStart(5, '0')}`, value(i, i % 3 === 0 ? 1 : 0));
  return m;
}

function hashes(): number[] {
  return cluster.members.map((m) => {
    const r = etcdctl(cluster.endpoint(m.name), ['endpoint', 'hashkv', '-w', 'json']);
    expect(r.status, r.stderr).toBe(0);
    return (JSON.parse(r.stdout) as { HashKV: { hash: number } }[])[0].HashKV.hash;
  });
}

async function settled(): Promise<void> {
  // Every member applied the last write: the same revision everywhere (bounded wait).
  for (let i = 0; i < 100; i++) {
    const revs = cluster.members.map((m) => {
      const r = etcdctl(cluster.endpoint(m.name), ['get', 'spill/00000', '--consistency=s', '-w', 'json']);
      return (JSON.parse(r.stdout) as { header: { revision: number } }).header.revision;
    });
    if (new Set(revs).size === 1) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('members did not reach the same revision');
}

describe('values through the spill of real members', () => {
  it('reads every value back on every member, with the spill open and unlinked', async () => {
    await putAll(0);
    await putAll(1, 3); // every third key overwritten
    const rev = etcdctl(cluster.endpoint('m1'), ['get', 'spill/00000', '-w', 'json']);
    const revision = (JSON.parse(rev.stdout) as { header: { revision: number } }).header.revision;
    expect(etcdctl(cluster.endpoint('m1'), ['compact', String(revision)]).status).toBe(0);
    await settled();
    const want = expected();
    for (const m of cluster.members) expect(await readAll(m.name)).toEqual(want);
    expect(new Set(hashes()).size).toBe(1);
    for (const m of cluster.members) {
      const fds = readdirSync(`/proc/${cluster.pid(m.name)}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${cluster.pid(m.name)}/fd/${fd}`);
        } catch {
          return '';
        }
      });
      expect(fds.some((f) => /values-\d+-\d+\.spill \(deleted\)$/.test(f))).toBe(true);
      expect(readdirSync(join(m.dataDir, 'member')).filter((f) => f.endsWith('.spill'))).toEqual([]);
    }
  }, 120_000);

  it('brings a killed follower back with the same values', async () => {
    const leader = await cluster.leaderName();
    const follower = cluster.members.find((m) => m.name !== leader)!.name;
    cluster.kill9(follower);
    await putAll(2, 5, leader); // written while it is down: it catches up from the log or a snapshot
    await cluster.restart(follower);
    await cluster.waitHealthy();
    await settled();
    const want = expected();
    for (let i = 0; i < KEYS; i += 5) want.set(`spill/${String(i).padStart(5, '0')}`, value(i, 2));
    expect(await readAll(follower)).toEqual(want);
    expect(new Set(hashes()).size).toBe(1);
  }, 120_000);
});
