// Fault tests with real processes: kill -9 the leader, restart it (catching up by snapshot), stop everything
// and restart: every acknowledged write must be there.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, TestCluster } from './cluster-harness.ts';

let c: TestCluster;

beforeAll(async () => {
  c = await TestCluster.start({
    snapshotCount: 50,
    extraFlags: ['--experimental-snapshot-catchup-entries', '10'],
  });
});
afterAll(async () => {
  await c?.close();
});

describe('faults', () => {
  const acked: string[] = [];
  const put = (k: string, v: string) => {
    const r = etcdctl(c.endpoints, ['put', k, v]);
    if (r.stdout.trim() === 'OK') acked.push(k);
    return r;
  };

  it('kill -9 the leader: a new leader is elected and writes continue', async () => {
    for (let i = 0; i < 20; i++) expect(put(`a${i}`, `v${i}`).stdout.trim()).toBe('OK');
    const old = await c.leaderName();
    c.kill9(old);
    const fresh = await c.leaderName(15_000);
    expect(fresh).not.toBe(old);
    const alive = c.members
      .filter((m) => m.name !== old)
      .map((m) => c.endpoint(m.name))
      .join(',');
    for (let i = 0; i < 200; i++) expect(etcdctl(alive, ['put', `b${i}`, `v${i}`]).stdout.trim()).toBe('OK');
    for (let i = 0; i < 200; i++) acked.push(`b${i}`);

    // The old leader comes back far behind (snapshot-count 50): it catches up through a snapshot.
    await c.restart(old);
    await c.waitHealthy([old]);
    const deadline = Date.now() + 20_000;
    let caughtUp = false;
    while (Date.now() < deadline && !caughtUp) {
      caughtUp = etcdctl(c.endpoint(old), ['get', 'b199', '--consistency=s']).stdout === 'b199\nv199\n';
      if (!caughtUp) await new Promise((r) => setTimeout(r, 200));
    }
    expect(caughtUp).toBe(true);
    const leaderLogs = c.members.map((m) => c.tail(m.name, 10_000)).join('\n');
    expect(leaderLogs).toContain('raft: sending snapshot');
  });

  it('SIGTERM: the leader hands over, then exits 0', async () => {
    const leader = await c.leaderName();
    expect(await c.stop(leader)).toBe(0);
    expect(c.tail(leader, 200)).toContain('transferred leadership before stopping');
    await c.restart(leader);
    await c.waitHealthy();
  });

  it('restarted with other --initial-cluster flags, a member is still itself (etcd reads its identity from its data)', async () => {
    const leader = await c.leaderName();
    const name = c.members.find((m) => m.name !== leader)!.name;
    const id = (await c.status(name)).header.member_id;
    expect(await c.stop(name)).toBe(0);
    // Another token would give another member ID and cluster ID, were they derived from the flags again.
    await c.restart(name, ['--initial-cluster-token', 'another-token']);
    await c.waitHealthy([name]);
    expect((await c.status(name)).header.member_id).toBe(id);
    expect(put('after-restart', 'v').stdout.trim()).toBe('OK');
    const deadline = Date.now() + 20_000;
    let seen = '';
    while (Date.now() < deadline && seen !== 'after-restart\nv\n') {
      seen = etcdctl(c.endpoint(name), ['get', 'after-restart', '--consistency=s']).stdout;
      if (seen !== 'after-restart\nv\n') await new Promise((r) => setTimeout(r, 200));
    }
    expect(seen).toBe('after-restart\nv\n');
  });

  it('stop all three and restart: every acknowledged write is there', async () => {
    for (const m of c.members) c.kill9(m.name);
    for (const m of c.members) await c.restart(m.name);
    await c.waitHealthy(undefined, 30_000);
    const got = etcdctl(c.endpoints, ['get', '', '--prefix', '--keys-only'])
      .stdout.split('\n')
      .filter(Boolean);
    for (const k of acked) expect(got).toContain(k);
  });
});
