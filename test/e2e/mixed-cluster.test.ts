// One Raft group across runtimes, with real processes: three Node members (edgecd processes, file WALs, TCP
// peers) and Durable Object members in `wrangler dev` (workerd), joined with etcd's own workflow — `etcdctl member
// add`, then the Worker's join route. Clients use etcdctl on the Node side and the Worker's JSON gateway on the
// other; a write on either side is read on the other, a learner serves serializable reads near users, and with
// two of the three Node members killed the group still commits through the Durable Object voters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PEER_CONTENT_TYPE, PEER_SECRET_HEADER } from '../../adapters/transport/fetch/index.ts';
import type { WranglerDev } from '../cloudflare/wrangler.ts';
import { etcdctl, type TestCluster } from './cluster-harness.ts';
import { MixedCluster, PEER_SECRET as SECRET, until } from './mixed-harness.ts';

let m: MixedCluster;
let c: TestCluster;
let worker: WranglerDev;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString();

async function gateway(base: string, path: string, body: unknown, timeoutMs = 15_000) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown> & { header?: { member_id: string } },
  };
}

const ctl = (args: string[]) => m.ctl(args);
const memberList = () => m.memberList();

beforeAll(async () => {
  m = await MixedCluster.start();
  c = m.nodes;
  worker = m.worker;
}, 120_000);

afterAll(async () => {
  await m?.close();
});

describe('one cluster: Node members and Durable Objects (wrangler dev)', () => {
  it('DO voters and a DO learner join with etcdctl member add; member list shows every URL', async () => {
    await m.addDurableObject('do-1', false);
    await m.addDurableObject('do-2', false);
    await m.addDurableObject('do-edge-1', true);
    const list = memberList();
    expect(list).toHaveLength(6);
    for (const name of ['do-1', 'do-2', 'do-edge-1']) {
      const m = list.find((x) => x.name === name);
      expect(m?.peerURLs).toEqual([`${worker.baseUrl}?member=${name}`]);
      expect(m?.clientURLs).toEqual([`${worker.baseUrl}/edgecd/member/${name}`]);
      expect(m?.isLearner).toBe(name === 'do-edge-1');
    }
    expect(list.filter((m) => m.isLearner).map((m) => m.name)).toEqual(['do-edge-1']);
  }, 240_000);

  it('a put through etcdctl is read linearizably through the Worker, and the other way round', async () => {
    expect(ctl(['put', 'from-node', 'n']).status).toBe(0);
    const read = await gateway(worker.baseUrl, '/v3/kv/range', { key: b64('from-node') });
    expect(read.status).toBe(200);
    expect(unb64((read.json.kvs as { value: string }[])[0].value)).toBe('n');
    // Served by a Durable Object voter, not the learner.
    const servedBy = BigInt(read.json.header?.member_id ?? '0');
    expect([m.ids.get('do-1'), m.ids.get('do-2')]).toContain(servedBy);

    const put = await gateway(worker.baseUrl, '/v3/kv/put', { key: b64('from-edge'), value: b64('e') });
    expect(put.status).toBe(200);
    expect(ctl(['get', 'from-edge', '--print-value-only']).stdout.trim()).toBe('e');
  }, 60_000);

  it('serializable reads go to the learner; the learner refuses linearizable reads and writes', async () => {
    const learner = m.ids.get('do-edge-1');
    const got = await until('the learner to serve from its replica', 30_000, async () => {
      const r = await gateway(worker.baseUrl, '/v3/kv/range', { key: b64('from-edge'), serializable: true });
      return r.status === 200 && (r.json.kvs as unknown[] | undefined)?.length === 1 ? r : undefined;
    });
    expect(BigInt(got.json.header?.member_id ?? '0')).toBe(learner);
    const direct = `${worker.baseUrl}/edgecd/member/do-edge-1`;
    const linearizable = await gateway(direct, '/v3/kv/range', { key: b64('from-edge') });
    expect(linearizable.json).toMatchObject({ code: 14, error: 'etcdserver: rpc not supported for learner' });
    const write = await gateway(direct, '/v3/kv/put', { key: b64('x'), value: b64('y') });
    expect(write.json).toMatchObject({ code: 14, error: 'etcdserver: rpc not supported for learner' });
    // etcdctl reads the learner's status through a Node member's view: it is not a voter.
    expect(memberList().find((m) => m.name === 'do-edge-1')?.isLearner).toBe(true);
  }, 60_000);

  it('right after the Worker restarts, it answers for the group or says unavailable, never for another cluster', async () => {
    // Regression (found by mixed-faults.test.ts): with its members not yet answering, the Worker fell back to its
    // own, empty EDGECD_MEMBERS cluster and answered a read with `null` at revision 1.
    expect(ctl(['put', 'survives', 'restart']).status).toBe(0);
    await worker.restart();
    const group = new Set([...m.ids.values()].map(String));
    const deadline = Date.now() + 20_000;
    let answered = 0;
    while (Date.now() < deadline && answered < 5) {
      const r = await gateway(worker.baseUrl, '/v3/kv/range', { key: b64('survives') }).catch(
        () => undefined,
      );
      if (!r) continue;
      if (r.status === 200) {
        expect(group).toContain(r.json.header?.member_id);
        expect(unb64((r.json.kvs as { value: string }[])[0].value)).toBe('restart');
        answered++;
      } else {
        expect(r.json).toMatchObject({ code: 14 });
      }
    }
    expect(answered).toBe(5);
  }, 60_000);

  it('peer routes and joins refuse strangers: no secret, wrong secret, a non-member sender', async () => {
    const batch = (secret?: string) =>
      fetch(`${worker.baseUrl}/edgecd/peer/do-1`, {
        method: 'POST',
        headers: { 'content-type': PEER_CONTENT_TYPE, ...(secret ? { [PEER_SECRET_HEADER]: secret } : {}) },
        body: new Uint8Array([0x80]),
      });
    expect((await batch()).status).toBe(403);
    expect((await batch('wrong')).status).toBe(403);
    const join = await fetch(`${worker.baseUrl}/edgecd/v1/join/do-9`, {
      method: 'POST',
      body: JSON.stringify({ peers: [`http://127.0.0.1:${c.members[0].peerPort}`] }),
    });
    expect(join.status).toBe(403);
    // With the secret, but a name the cluster never added: the join is refused with the reason.
    const unknown = await fetch(`${worker.baseUrl}/edgecd/v1/join/do-9`, {
      method: 'POST',
      headers: { [PEER_SECRET_HEADER]: SECRET },
      body: JSON.stringify({ peers: [`http://127.0.0.1:${c.members[0].peerPort}`] }),
    });
    expect(unknown.status).toBe(409);
    expect(await unknown.text()).toContain('etcdctl member add do-9');
    // A Node member's peer port refuses an HTTP batch without the secret.
    const node = await fetch(`http://127.0.0.1:${c.members[0].peerPort}/edgecd/peer/batch`, {
      method: 'POST',
      headers: { 'content-type': PEER_CONTENT_TYPE },
      body: new Uint8Array([0x80]),
    });
    expect(node.status).toBe(403);
  }, 60_000);

  it('with two of the three Node members killed, writes through the Worker commit; they catch up', async () => {
    c.kill9('m2');
    c.kill9('m3');
    // 3 of 5 voters remain (m1, do-1, do-2): the group elects if needed and commits.
    const written: string[] = [];
    for (let i = 0; i < 5; i++) {
      const key = `during-outage-${i}`;
      await until(`put ${key}`, 60_000, async () => {
        const r = await gateway(
          worker.baseUrl,
          '/v3/kv/put',
          { key: b64(key), value: b64(String(i)) },
          10_000,
        );
        return r.status === 200 ? true : undefined;
      });
      written.push(key);
    }
    expect(etcdctl(c.endpoint('m1'), ['get', 'during-outage-', '--prefix', '--keys-only']).stdout).toContain(
      'during-outage-4',
    );
    await c.restart('m2');
    await c.restart('m3');
    await c.waitHealthy(['m2', 'm3'], 60_000);
    for (const name of ['m2', 'm3']) {
      await until(`${name} caught up`, 60_000, async () => {
        const out = etcdctl(c.endpoint(name), [
          'get',
          'during-outage-',
          '--prefix',
          '--keys-only',
          '--consistency=s',
        ]).stdout;
        return written.every((k) => out.includes(k)) ? true : undefined;
      });
    }
  }, 240_000);

  it('a removed Durable Object member stops; the Worker routes around it and refuses to rejoin it', async () => {
    const id = m.ids.get('do-2') ?? 0n;
    expect(ctl(['member', 'remove', id.toString(16)]).status).toBe(0);
    expect(memberList().map((x) => x.name)).not.toContain('do-2');
    await until('do-2 to stop', 30_000, async () => {
      const r = await gateway(`${worker.baseUrl}/edgecd/member/do-2`, '/v3/kv/range', {
        key: b64('k'),
        serializable: true,
      });
      return r.status === 503 ? true : undefined;
    });
    for (let i = 0; i < 5; i++) {
      const put = await gateway(worker.baseUrl, '/v3/kv/put', {
        key: b64(`after-remove-${i}`),
        value: b64('v'),
      });
      expect(put.status).toBe(200);
      expect(BigInt(put.json.header?.member_id ?? '0')).not.toBe(id);
    }
    const rejoin = await fetch(`${worker.baseUrl}/edgecd/v1/join/do-2`, {
      method: 'POST',
      headers: { [PEER_SECRET_HEADER]: SECRET },
      body: JSON.stringify({ peers: [`http://127.0.0.1:${c.members[0].peerPort}`] }),
    });
    expect(rejoin.status).toBe(409);
    expect(await rejoin.text()).toContain('removed');
  }, 120_000);
});
