// etcd's membership workflow with real processes and etcdctl 3.4: member add (learner) → start the new member with
// --initial-cluster-state existing (it finds its ID via GET /members on the peer port and catches up) → promote →
// remove a follower and the leader (their processes exit) → member update; and strict-reconfig-check refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, sleep, TestCluster } from './cluster-harness.ts';

let c: TestCluster;
/** Learners answer only Status and serializable reads (etcd 3.4), so clients are not pointed at them. */
const learners = new Set<string>();
/** Endpoints of the voting members still running. */
const live = () =>
  c.members
    .filter((m) => c.isRunning(m.name) && !learners.has(m.name))
    .map((m) => `127.0.0.1:${m.clientPort}`)
    .join(',');
const ctl = (args: string[], endpoints = live()) => etcdctl(endpoints, args);

interface ListedMember {
  id: string;
  status: string;
  name: string;
  peerURLs: string;
  clientURLs: string;
  isLearner: string;
}
function memberList(): ListedMember[] {
  const r = ctl(['member', 'list']);
  expect(r.stderr).toBe('');
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const [id, status, name, peerURLs, clientURLs, isLearner] = line.split(', ');
      return { id, status, name, peerURLs, clientURLs, isLearner };
    });
}
const idOf = (name: string) => {
  const m = memberList().find((x) => x.name === name);
  if (!m) throw new Error(`${name} not listed`);
  return m.id;
};

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

beforeAll(async () => {
  c = await TestCluster.start();
});
afterAll(async () => {
  await c?.close();
});

describe('membership with etcdctl', () => {
  it('strict-reconfig-check refuses changes that leave fewer started voters than a quorum', async () => {
    // Two unstarted voters: 5 voters, 3 started (still a quorum, so both adds are allowed and commit).
    const x = ctl(['member', 'add', 'x', '--peer-urls=http://127.0.0.1:1']);
    expect(x.stderr).toBe('');
    const y = ctl(['member', 'add', 'y', '--peer-urls=http://127.0.0.1:2']);
    expect(y.stderr).toBe('');
    // A sixth voter would need 4 started.
    const z = ctl(['member', 'add', 'z', '--peer-urls=http://127.0.0.1:3']);
    expect(z.status).not.toBe(0);
    expect(z.stderr).toContain('etcdserver: re-configuration failed due to not enough started members');
    // Removing a started voter would leave 2 started of 4.
    const r = ctl(['member', 'remove', idOf('m1')]);
    expect(r.stderr).toContain('etcdserver: re-configuration failed due to not enough started members');
    // Duplicate peer URLs.
    const dup = ctl(['member', 'add', 'w', '--peer-urls=http://127.0.0.1:1']);
    expect(dup.stderr).toContain('etcdserver: Peer URLs already exists');
    // Unstarted members (empty name) can go.
    const unstarted = memberList().filter((m) => m.status === 'unstarted');
    expect(unstarted).toHaveLength(2);
    for (const m of unstarted) expect(ctl(['member', 'remove', m.id]).stderr).toBe('');
    expect(memberList()).toHaveLength(3);
  });

  it('adds a learner, starts it with --initial-cluster-state existing; it catches up; promote', async () => {
    for (let i = 0; i < 20; i++) ctl(['put', `before-${i}`, `v${i}`]);
    const m4 = await c.newMemberSpec('m4');
    const peerURL = `http://127.0.0.1:${m4.peerPort}`;
    const add = ctl(['member', 'add', 'm4', `--peer-urls=${peerURL}`, '--learner']);
    expect(add.stderr).toBe('');
    expect(add.stdout).toMatch(/^Member\s+[0-9a-f]+ added to cluster\s+[0-9a-f]+\n\n/);
    expect(add.stdout).toContain('ETCD_NAME="m4"\n');
    const initialCluster = c.members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`);
    const line = /ETCD_INITIAL_CLUSTER="([^"]*)"/.exec(add.stdout)?.[1] ?? '';
    expect(line.split(',').sort()).toEqual([...initialCluster].sort());
    expect(add.stdout).toContain(`ETCD_INITIAL_ADVERTISE_PEER_URLS="${peerURL}"\n`);
    expect(add.stdout).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"\n');
    const id = /^Member\s+([0-9a-f]+) added/.exec(add.stdout)?.[1] ?? '';

    const listed = memberList().find((m) => m.id === id);
    expect(listed).toMatchObject({ status: 'unstarted', name: '', peerURLs: peerURL, isLearner: 'true' });

    // Not started, so not in sync: etcd refuses the promotion.
    const early = ctl(['member', 'promote', id]);
    expect(early.status).not.toBe(0);
    expect(early.stderr).toContain(
      'etcdserver: can only promote a learner member which is in sync with leader',
    );

    learners.add('m4');
    c.spawn(m4, ['--initial-cluster-state', 'existing']);
    // It learned its ID from the cluster, caught up, and published its name.
    await until('m4 started', () => memberList().find((m) => m.id === id && m.name === 'm4'));
    const got = await until('m4 serving the old key', () => {
      const r = ctl(['get', 'before-7', '--consistency=s'], c.endpoint('m4'));
      return r.stdout === 'before-7\nv7\n' && r;
    });
    expect(got.stdout).toBe('before-7\nv7\n');
    expect(c.tail('m4', 200)).toContain(id);

    const promoted = await until('promotion', () => {
      const r = ctl(['member', 'promote', id]);
      return r.status === 0 && r;
    });
    learners.delete('m4');
    expect(promoted.stdout).toMatch(new RegExp(`^Member\\s+${id} promoted in cluster\\s+[0-9a-f]+\\n$`));
    expect(memberList().find((m) => m.id === id)).toMatchObject({ status: 'started', isLearner: 'false' });
    // A new write reaches m4 as a voter.
    expect(ctl(['put', 'after', 'promote']).stdout.trim()).toBe('OK');
    await until(
      'm4 has the new key',
      () => ctl(['get', 'after', '--consistency=s'], c.endpoint('m4')).stdout,
    );
  });

  it('removes a follower: its process exits', async () => {
    const leader = await c.leaderName();
    const victim = ['m1', 'm2', 'm3'].find((n) => n !== leader) ?? 'm1';
    const id = idOf(victim);
    const r = ctl(['member', 'remove', id]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Member\\s+${id} removed from cluster\\s+[0-9a-f]+\\n$`));
    await c.waitExit(victim);
    expect(c.tail(victim, 200)).toContain('the member has been permanently removed from the cluster');
    expect(memberList().map((m) => m.name)).not.toContain(victim);
    expect(memberList()).toHaveLength(3);
    expect(ctl(['put', 'after-remove', '1']).stdout.trim()).toBe('OK');
  });

  it('a member removed while frozen learns it on waking and exits', async () => {
    // Add a learner to remove (keeps the voters as they are), start it, freeze it, remove it, wake it.
    const m7 = await c.newMemberSpec('m7');
    const add = ctl(['member', 'add', 'm7', `--peer-urls=http://127.0.0.1:${m7.peerPort}`, '--learner']);
    expect(add.stderr).toBe('');
    const id = /^Member\s+([0-9a-f]+) added/.exec(add.stdout)?.[1] ?? '';
    learners.add('m7');
    c.spawn(m7, ['--initial-cluster-state', 'existing']);
    await until('m7 started', () => memberList().find((m) => m.id === id && m.name === 'm7'));
    c.signal('m7', 'SIGSTOP');
    try {
      expect(ctl(['member', 'remove', id]).stderr).toBe('');
      await sleep(3000);
    } finally {
      c.signal('m7', 'SIGCONT');
    }
    await c.waitExit('m7', 20_000);
    expect(c.tail('m7', 200)).toContain('permanently removed');
    c.members.splice(c.members.indexOf(m7), 1);
  });

  it('removes the leader: a new leader is elected and the old one exits', async () => {
    const leader = await c.leaderName();
    const id = idOf(leader);
    const r = ctl(['member', 'remove', id]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Member\\s+${id} removed from cluster\\s+[0-9a-f]+\\n$`));
    await c.waitExit(leader);
    const next = await c.leaderName(15_000);
    expect(next).not.toBe(leader);
    expect(memberList()).toHaveLength(2);
    const put = await until('a write after the leader left', () => {
      const p = ctl(['put', 'after-leader', '1']);
      return p.status === 0 && p;
    });
    expect(put.stdout.trim()).toBe('OK');
  });

  it('adds a voter and starts it with existing; a member not added is refused', async () => {
    const m5 = await c.newMemberSpec('m5');
    const add = ctl(['member', 'add', 'm5', `--peer-urls=http://127.0.0.1:${m5.peerPort}`]);
    expect(add.stderr).toBe('');
    expect(add.stdout).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"\n');
    const id = /^Member\s+([0-9a-f]+) added/.exec(add.stdout)?.[1] ?? '';
    c.spawn(m5, ['--initial-cluster-state', 'existing']);
    await until('m5 started', () =>
      memberList().find((m) => m.id === id && m.name === 'm5' && m.isLearner === 'false'),
    );
    await until('m5 serving the old key', () =>
      ctl(['get', 'before-3', '--consistency=s'], c.endpoint('m5')).stdout.includes('v3'),
    );
    expect(memberList()).toHaveLength(3);

    // A member started with `existing` that nobody added.
    const m6 = await c.newMemberSpec('m6');
    c.spawn(m6, ['--initial-cluster-state', 'existing']);
    expect(await c.waitExit('m6')).not.toBe(0);
    expect(c.tail('m6', 50)).toContain('is not in the cluster');
    c.members.splice(c.members.indexOf(m6), 1);
  });

  it('member update changes peer URLs through Raft', async () => {
    const m4 = c.member('m4');
    const id = idOf('m4');
    const urls = `http://127.0.0.1:${m4.peerPort},http://127.0.0.1:${m4.peerPort + 10000}`;
    const r = ctl(['member', 'update', id, `--peer-urls=${urls}`]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`^Member\\s+${id} updated in cluster\\s+[0-9a-f]+\\n$`));
    await until('every member lists the new URLs', () =>
      c.members
        .filter((m) => c.isRunning(m.name))
        .every((m) => ctl(['member', 'list'], c.endpoint(m.name)).stdout.includes(`, m4, ${urls}, `)),
    );
    // Another member's URL is refused.
    const other = c.members.find((m) => m.name !== 'm4' && c.isRunning(m.name));
    const dup = ctl(['member', 'update', id, `--peer-urls=http://127.0.0.1:${other?.peerPort}`]);
    expect(dup.stderr).toContain('etcdserver: Peer URLs already exists');
  });
});

describe('joining a cluster whose log is compacted', () => {
  it('the new member catches up from a snapshot', async () => {
    const s = await TestCluster.start({
      snapshotCount: 20,
      extraFlags: ['--experimental-snapshot-catchup-entries', '5'],
    });
    try {
      const at = (args: string[], endpoints = s.endpoints) => etcdctl(endpoints, args);
      for (let i = 0; i < 80; i++) expect(at(['put', `snap-${i}`, `v${i}`]).status).toBe(0);
      const m4 = await s.newMemberSpec('m4');
      const add = at(['member', 'add', 'm4', `--peer-urls=http://127.0.0.1:${m4.peerPort}`, '--learner']);
      expect(add.stderr).toBe('');
      s.spawn(m4, ['--initial-cluster-state', 'existing']);
      const got = await until(
        'm4 has the keys written before it joined',
        () => {
          const r = at(['get', 'snap-', '--prefix', '--keys-only', '--consistency=s'], s.endpoint('m4'));
          return r.stdout.split('\n').filter(Boolean).length === 80 && r;
        },
        30_000,
      );
      expect(got.stdout).toContain('snap-3\n');
      expect(at(['get', 'snap-42', '--consistency=s'], s.endpoint('m4')).stdout).toBe('snap-42\nv42\n');
    } finally {
      await s.close();
    }
  });
});
