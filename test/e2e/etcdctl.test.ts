// A real 3-member edgecd cluster (member processes started with etcd's flags) driven by Debian's etcdctl 3.4.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { etcdctl, sleep, TestCluster } from './cluster-harness.ts';

let c: TestCluster;
const ctl = (args: string[], input?: string) => etcdctl(c.endpoints, args, input);

beforeAll(async () => {
  c = await TestCluster.start();
});
afterAll(async () => {
  await c?.close();
});

describe('etcdctl against edgecd', () => {
  it('put / get / prefix / limit / sort / keys-only / json', () => {
    expect(ctl(['put', 'k1', 'v1']).stdout.trim()).toBe('OK');
    expect(ctl(['put', 'k2', 'v2']).stdout.trim()).toBe('OK');
    expect(ctl(['put', 'k3', 'v3']).stdout.trim()).toBe('OK');
    expect(ctl(['get', 'k1']).stdout).toBe('k1\nv1\n');
    expect(ctl(['get', 'k', '--prefix']).stdout).toBe('k1\nv1\nk2\nv2\nk3\nv3\n');
    expect(ctl(['get', 'k', '--prefix', '--limit=2']).stdout).toBe('k1\nv1\nk2\nv2\n');
    expect(ctl(['get', 'k', '--prefix', '--sort-by=KEY', '--order=DESCEND']).stdout).toBe(
      'k3\nv3\nk2\nv2\nk1\nv1\n',
    );
    expect(ctl(['get', 'k', '--prefix', '--keys-only']).stdout).toBe('k1\n\nk2\n\nk3\n\n');
    const json = JSON.parse(ctl(['get', 'k2', '-w', 'json']).stdout);
    expect(json.count).toBe(1);
    expect(Buffer.from(json.kvs[0].value, 'base64').toString()).toBe('v2');
    expect(json.header.revision).toBeGreaterThan(1);
    expect(ctl(['get', 'missing']).stdout).toBe('');
  });

  it('historical get (--rev), delete, compaction and its error', () => {
    ctl(['put', 'h', 'old']);
    const rev = JSON.parse(ctl(['get', 'h', '-w', 'json']).stdout).header.revision;
    ctl(['put', 'h', 'new']);
    expect(ctl(['get', 'h', `--rev=${rev}`]).stdout).toBe('h\nold\n');
    expect(ctl(['del', 'h']).stdout.trim()).toBe('1');
    expect(ctl(['compaction', String(rev + 1)]).stdout.trim()).toBe(`compacted revision ${rev + 1}`);
    const r = ctl(['get', 'h', `--rev=${rev}`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('etcdserver: mvcc: required revision has been compacted');
  });

  it('txn (interactive)', () => {
    ctl(['put', 'tx', 'a']);
    const ok = ctl(['txn'], 'value("tx") = "a"\n\nput tx b\n\nput tx c\n\n');
    expect(ok.stdout).toBe('SUCCESS\n\nOK\n');
    expect(ctl(['get', 'tx']).stdout).toBe('tx\nb\n');
    const fail = ctl(['txn'], 'value("tx") = "a"\n\nput tx b\n\nput tx c\n\n');
    expect(fail.stdout).toBe('FAILURE\n\nOK\n');
    expect(ctl(['get', 'tx']).stdout).toBe('tx\nc\n');
  });

  it('watch: live and historical', async () => {
    ctl(['put', 'w', 'first']);
    const rev = JSON.parse(ctl(['get', 'w', '-w', 'json']).stdout).header.revision;
    const p = spawn('etcdctl', [`--endpoints=${c.endpoints}`, 'watch', 'w', `--rev=${rev}`], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    p.stdout.on('data', (d) => {
      out += String(d);
    });
    try {
      for (let i = 0; i < 50 && !out.includes('first'); i++) await sleep(100);
      ctl(['put', 'w', 'second']);
      for (let i = 0; i < 50 && !out.includes('second'); i++) await sleep(100);
    } finally {
      p.kill('SIGKILL');
    }
    expect(out).toBe('PUT\nw\nfirst\nPUT\nw\nsecond\n');
  });

  it('leases: grant, attach, timetolive, keep-alive, list, revoke', () => {
    const grant = ctl(['lease', 'grant', '60']).stdout;
    const m = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(grant);
    expect(m).not.toBeNull();
    const id = m![1];
    expect(ctl(['put', 'lk', 'lv', `--lease=${id}`]).stdout.trim()).toBe('OK');
    const ttl = ctl(['lease', 'timetolive', id, '--keys']).stdout;
    expect(ttl).toMatch(
      new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[lk\\]\\)`),
    );
    expect(ctl(['lease', 'keep-alive', '--once', id]).stdout).toContain(
      `lease ${id} keepalived with TTL(60)`,
    );
    expect(ctl(['lease', 'list']).stdout).toContain(id);
    expect(ctl(['lease', 'revoke', id]).stdout).toContain(`lease ${id} revoked`);
    expect(ctl(['get', 'lk']).stdout).toBe('');
    const again = ctl(['lease', 'revoke', id]);
    expect(again.stderr).toContain('etcdserver: requested lease not found');
  });

  it('member list, endpoint status, endpoint health', () => {
    const members = ctl(['member', 'list']).stdout.trim().split('\n');
    expect(members).toHaveLength(3);
    for (const line of members)
      expect(line).toMatch(
        /^[0-9a-f]+, started, m\d, http:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, false$/,
      );
    const status = ctl(['endpoint', 'status']).stdout.trim().split('\n');
    expect(status).toHaveLength(3);
    expect(status.filter((l) => l.includes(', true, false,')).length).toBe(1); // exactly one leader
    const health = ctl(['endpoint', 'health']);
    expect(health.stdout + health.stderr).toMatch(/is healthy: successfully committed proposal/);
  });

  it('every endpoint form: http:// endpoints and --cluster for status, hashkv, defrag, move-leader', () => {
    // Debian's etcdctl 3.4.23 sends the whole URL as the HTTP/2 :authority here (grpc/authority.ts).
    const urls = c.members.map((m) => c.clientUrl(m.name)).join(',');
    const withScheme = (args: string[]) => etcdctl(urls, args);
    const status = withScheme(['endpoint', 'status', '-w', 'json']);
    expect(status.status, status.stderr).toBe(0);
    const parsed = JSON.parse(
      status.stdout.replace(/"(member_id|cluster_id|leader)":(\d+)/g, '"$1":"$2"'),
    ) as {
      Endpoint: string;
      Status: { header: { member_id: string }; leader: string };
    }[];
    expect(parsed.map((e) => e.Endpoint).sort()).toEqual(urls.split(',').sort());
    const hashes = withScheme(['endpoint', 'hashkv']);
    expect(hashes.status, hashes.stderr).toBe(0);
    expect(hashes.stdout.trim().split('\n')).toHaveLength(3);
    const cluster = ctl(['endpoint', 'status', '--cluster']);
    expect(cluster.status, cluster.stderr).toBe(0);
    expect(cluster.stdout.trim().split('\n')).toHaveLength(3);
    const health = ctl(['endpoint', 'health', '--cluster']);
    expect(health.stdout + health.stderr).not.toMatch(/unhealthy|PROTOCOL_ERROR/);
    const defrag = withScheme(['defrag']);
    expect(defrag.status, defrag.stderr).toBe(0);
    expect(defrag.stdout).toMatch(/Finished defragmenting etcd member\[http:/);
    // move-leader needs the leader among the endpoints; the target is another member.
    const leader = parsed.find((e) => e.Status.header.member_id === e.Status.leader);
    const target = parsed.find((e) => e !== leader);
    expect(leader && target).toBeTruthy();
    const moved = etcdctl(urls, ['move-leader', BigInt(target?.Status.header.member_id ?? '0').toString(16)]);
    expect(moved.status, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/Leadership transferred from/);
  });

  it('cluster state streams over WebSocket at /edgecd/v1/cluster-state', async () => {
    const ws = new WebSocket(`ws://${c.endpoint('m1')}/edgecd/v1/cluster-state`);
    const states: { name: string; role: string; leader: string; revision: number; members: unknown[] }[] = [];
    ws.on('message', (d) => states.push(JSON.parse(String(d))));
    try {
      for (let i = 0; i < 50 && states.length === 0; i++) await sleep(100);
      const before = states.at(-1)!;
      expect(before.name).toBe('m1');
      expect(before.members).toHaveLength(3);
      expect(before.leader).not.toBe('0');
      ctl(['put', 'ws-key', 'x']);
      for (let i = 0; i < 50 && states.at(-1)!.revision <= before.revision; i++) await sleep(100);
      expect(states.at(-1)!.revision).toBeGreaterThan(before.revision);
    } finally {
      ws.close();
    }
  });
});
