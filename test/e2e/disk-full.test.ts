// A real full disk, on real processes: one member's data dir is a 2 MiB tmpfs. When its WAL write fails with
// ENOSPC the member logs the file and the error and exits 1 (etcd panics rather than go on with storage it cannot
// trust), the other two keep serving, and every acknowledged write stays readable. After the disk is grown (a
// remount keeps its files) the member restarts, recovers and catches up with every acknowledged write.
//
// Mounting needs CAP_SYS_ADMIN; where the machine refuses, this file is skipped with the reason (the fault itself
// is also injected in-process by test/server/storage-failure.test.ts, which runs everywhere).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, sleep, TestCluster } from './cluster-harness.ts';

let c: TestCluster | undefined;
let mounted: string | undefined;
let mountError = '';

const b64 = (s: string) => Buffer.from(s).toString('base64');

beforeAll(async () => {
  const cluster = await TestCluster.prepare();
  c = cluster;
  const dir = cluster.member('m3').dataDir;
  mkdirSync(dir, { recursive: true });
  const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir], { encoding: 'utf8' });
  if (m.status !== 0) {
    mountError = (m.stderr || m.error?.message || `mount exited ${m.status}`).trim();
    return;
  }
  mounted = dir;
  await cluster.startAll();
}, 60_000);

afterAll(async () => {
  if (!c) return;
  for (const m of c.members) if (c.isRunning(m.name)) c.kill9(m.name);
  for (const m of c.members) if (c.pid(m.name) !== undefined) await c.waitExit(m.name).catch(() => {});
  if (mounted) spawnSync('umount', [mounted]);
  await c.close();
});

describe('a full disk under one member', () => {
  it('the member exits 1 naming the file; the others serve; nothing acknowledged is lost; it recovers', async (ctx) => {
    if (!mounted) {
      ctx.skip(`cannot mount a small tmpfs here: ${mountError}`);
      return;
    }
    const cluster = c as TestCluster;
    const value = b64('x'.repeat(16 * 1024));
    const acked: string[] = [];
    // Writes through m1 until the small disk is full and m3 gives up (2 MiB holds ~100 such entries).
    for (let i = 0; i < 400 && cluster.isRunning('m3'); i++) {
      const key = `full/${String(i).padStart(4, '0')}`;
      try {
        const res = await fetch(`http://${cluster.endpoint('m1')}/v3/kv/put`, {
          method: 'POST',
          body: JSON.stringify({ key: b64(key), value }),
          signal: AbortSignal.timeout(10_000),
        });
        if (res.ok) acked.push(key);
        else await res.arrayBuffer();
      } catch {
        // not acknowledged: not counted
      }
    }
    expect(await cluster.waitExit('m3', 30_000)).toBe(1);
    const log = cluster.tail('m3', 200);
    expect(log).toMatch(/file WAL write failed.*ENOSPC/);
    expect(log).toMatch(/"file":"[^"]*\.wal"/);
    expect(log).toContain('storage failed; exiting');
    expect(acked.length).toBeGreaterThan(50);

    // The other two still serve, and hold every acknowledged write.
    expect(etcdctl(cluster.endpoint('m1'), ['put', 'full/after', 'ok']).status).toBe(0);
    // Each member's own count (serializable: what that member holds).
    const count = async (name: string) => {
      const res = await fetch(`http://${cluster.endpoint(name)}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({
          key: b64('full/'),
          range_end: b64('full0'),
          count_only: true,
          serializable: true,
        }),
        signal: AbortSignal.timeout(5000),
      });
      return Number(((await res.json()) as { count?: string }).count ?? 0);
    };
    expect(await count('m1')).toBe(acked.length + 1);
    expect(await count('m2')).toBe(acked.length + 1);

    // The disk is fixed (grown, keeping its files): m3 starts, recovers its WAL and catches up.
    expect(spawnSync('mount', ['-o', 'remount,size=256m', mounted]).status).toBe(0);
    await cluster.restart('m3');
    const deadline = Date.now() + 30_000;
    while ((await count('m3').catch(() => -1)) !== acked.length + 1) {
      if (Date.now() > deadline) throw new Error(`m3 never caught up:\n${cluster.tail('m3')}`);
      await sleep(200);
    }
    const last = acked[acked.length - 1];
    const got = etcdctl(cluster.endpoint('m3'), ['get', last, '--consistency=s', '--print-value-only']);
    expect(got.stdout.trim().length).toBe(16 * 1024);
  }, 120_000);
});
