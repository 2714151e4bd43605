// NOSPACE end to end: a real 3-member cluster with a small --quota-backend-bytes, driven by etcdctl 3.4.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, TestCluster } from './cluster-harness.ts';

let c: TestCluster;
const ctl = (args: string[]) => etcdctl(c.endpoints, args);

beforeAll(async () => {
  c = await TestCluster.start({ extraFlags: ['--quota-backend-bytes', String(48 * 1024)] });
});
afterAll(async () => {
  await c?.close();
});

describe('alarms with etcdctl', () => {
  it('put until NOSPACE, alarm list, compact + defrag + disarm, put again', async () => {
    const value = 'x'.repeat(4096);
    let refused: ReturnType<typeof ctl> | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const r = etcdctl(c.endpoint('m1'), ['put', 'big', value]);
      if (r.status !== 0) refused = r;
      else expect(r.stdout.trim()).toBe('OK');
    }
    expect(refused?.stderr).toContain('Error: etcdserver: mvcc: database space exceeded');

    const list = ctl(['alarm', 'list']);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/^memberID:\d+ alarm:NOSPACE \n$/);
    // etcd 3.4: any alarm makes /health false (etcdctl 3.4's `endpoint health` does not look at alarms).
    const health = await fetch(`http://${c.endpoint('m2')}/health`);
    expect(health.status).toBe(503);
    expect((await health.text()).trim()).toBe('{"health":"false"}');
    const status = JSON.parse(etcdctl(c.endpoint('m3'), ['endpoint', 'status', '-w', 'json']).stdout);
    expect(status[0].Status.errors).toEqual([expect.stringMatching(/^memberID:\d+ alarm:NOSPACE $/)]);
    // Other members refuse too, and deletes still work.
    expect(etcdctl(c.endpoint('m2'), ['put', 'k', 'v']).stderr).toContain('database space exceeded');
    expect(ctl(['del', 'nothing']).status).toBe(0);

    const rev = JSON.parse(ctl(['get', 'big', '-w', 'json']).stdout).header.revision;
    expect(ctl(['compaction', String(rev)]).stdout.trim()).toBe(`compacted revision ${rev}`);
    expect(ctl(['defrag']).status).toBe(0);
    const disarm = ctl(['alarm', 'disarm']);
    expect(disarm.status).toBe(0);
    expect(disarm.stdout).toMatch(/^memberID:\d+ alarm:NOSPACE \n$/);
    expect(ctl(['alarm', 'list']).stdout).toBe('');

    expect(etcdctl(c.endpoint('m1'), ['put', 'big', value]).stdout.trim()).toBe('OK');
    expect(etcdctl(c.endpoint('m3'), ['put', 'k', 'v']).stdout.trim()).toBe('OK');
    expect((await fetch(`http://${c.endpoint('m2')}/health`)).status).toBe(200);
  });
});
