// etcd's corruption check on real processes (--experimental-corrupt-check-time): one member's WAL is altered while
// it is down — the value of a put it holds is changed, its checksums made valid again, as silent disk corruption
// would leave it — and once it is back, the leader's periodic HashKV comparison makes that member raise the
// CORRUPT alarm, which `etcdctl alarm list` shows and which stops writes (`etcdserver: corrupt cluster`), as in etcd.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, sleep, TestCluster } from './cluster-harness.ts';
import { alterEntryHolding } from './wal-alter.ts';

let c: TestCluster;
const ctl = (args: string[]) => etcdctl(c.endpoints, args);

beforeAll(async () => {
  c = await TestCluster.start({ extraFlags: ['--experimental-corrupt-check-time=1s'] });
}, 60_000);
afterAll(async () => {
  await c?.close();
});

describe('--experimental-corrupt-check-time', () => {
  it('a member whose data was silently altered raises CORRUPT, and writes stop', async () => {
    const victim = c.members[2];
    expect(ctl(['put', 'precious', 'good-value']).status).toBe(0);
    const deadline = Date.now() + 15_000;
    while (
      etcdctl(c.endpoint(victim.name), [
        'get',
        'precious',
        '--consistency=s',
        '--print-value-only',
      ]).stdout.trim() !== 'good-value'
    ) {
      if (Date.now() > deadline) throw new Error('the victim never applied the put');
      await sleep(50);
    }
    c.kill9(victim.name);
    await sleep(300);
    const index = await alterEntryHolding(victim.dataDir, 'good-value', 'evil-value');
    expect(index).toBeGreaterThan(0);
    await c.restart(victim.name);
    // The altered member serves the altered value from its own replica: the corruption is real.
    const back = Date.now() + 30_000;
    let seen = '';
    while (seen !== 'evil-value') {
      if (Date.now() > back) throw new Error(`the altered member never served; it shows "${seen}"`);
      await sleep(100);
      seen = etcdctl(c.endpoint(victim.name), [
        'get',
        'precious',
        '--consistency=s',
        '--print-value-only',
      ]).stdout.trim();
    }
    let alarms = '';
    const until = Date.now() + 30_000;
    while (!alarms.includes('alarm:CORRUPT')) {
      if (Date.now() > until) throw new Error(`no CORRUPT alarm; alarm list: ${alarms}`);
      await sleep(250);
      alarms = ctl(['alarm', 'list']).stdout;
    }
    const id = /memberID:(\d+) alarm:CORRUPT/.exec(alarms)?.[1];
    const status = JSON.parse(
      etcdctl(c.endpoint(victim.name), ['endpoint', 'status', '-w', 'json']).stdout.replace(
        /"member_id":(\d+)/g,
        '"member_id":"$1"',
      ),
    ) as { Status: { header: { member_id: string } } }[];
    expect(id).toBe(status[0].Status.header.member_id);
    const put = ctl(['put', 'after', 'x']);
    expect(put.stdout + put.stderr).toContain('etcdserver: corrupt cluster');
  }, 120_000);
});
