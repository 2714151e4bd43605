// Alarms (NOSPACE, CORRUPT) on an in-process 3-member cluster: raised through Raft, enforced by every member,
// surfaced by Maintenance.Alarm, Status.errors, the gateway and /health, and kept across restarts.
import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage, MemoryStorageBackend } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { EtcdError } from '../../src/etcd/errors.ts';
import { cryptoRandom } from '../../src/index.ts';
import { AlarmStore, quotaCost } from '../../src/server/alarms.ts';
import { createNode, type EdgeNode, type NodeOptions } from '../../src/server/node.ts';
import { ServerStateMachine } from '../../src/server/state-machine.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

const te = new TextEncoder();
const td = new TextDecoder();
const NOSPACE = 'etcdserver: mvcc: database space exceeded';
const CORRUPT = 'etcdserver: corrupt cluster';

interface Cluster {
  nodes: EdgeNode[];
  backends: MemoryStorageBackend[];
  restart(i: number): Promise<EdgeNode>;
  close(): Promise<void>;
}

let open: Cluster | undefined;
afterEach(async () => {
  await open?.close();
  open = undefined;
});

async function startCluster(extra: Partial<NodeOptions> = {}): Promise<Cluster> {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
  const backends = members.map(() => new MemoryStorageBackend());
  const start = (i: number) =>
    createNode({
      id: members[i].id,
      name: members[i].name,
      clusterId: 42n,
      members,
      storage: new MemoryStorage(backends[i]),
      transport: network.transport(members[i].id),
      clock,
      random: cryptoRandom,
      tickMs: 10,
      electionTimeoutMs: 100,
      ...extra,
    });
  const nodes = await Promise.all(members.map((_, i) => start(i)));
  const c: Cluster = {
    nodes,
    backends,
    async restart(i) {
      await nodes[i].close();
      nodes[i] = await start(i);
      return nodes[i];
    },
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
  open = c;
  return c;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EtcdError);
    return (e as EtcdError).message;
  }
  return 'no error';
}

const put = (n: EdgeNode, key: string, bytes: number) =>
  n.put({ key: te.encode(key), value: new Uint8Array(bytes).fill(0x61) });

/** Puts 1 KiB values on one key through `n` until the quota refuses one; returns how many succeeded. */
async function fillUntilNoSpace(n: EdgeNode): Promise<number> {
  for (let i = 0; i < 200; i++) {
    try {
      await put(n, 'big', 1024);
    } catch (e) {
      expect((e as EtcdError).message).toBe(NOSPACE);
      expect((e as EtcdError).code).toBe(8); // ResourceExhausted
      return i;
    }
  }
  throw new Error('the quota never refused a put');
}

const hasAlarm = (n: EdgeNode, memberID: bigint, alarm: string) =>
  n.nodeStatus().alarms.some((a) => a.memberID === memberID && a.alarm === alarm);

describe('NOSPACE', () => {
  it('quota exceeded → error and an alarm on every member; deletes, compaction, revokes and reads still work; disarm', async () => {
    const c = await startCluster({ quotaBytes: 16 * 1024 });
    const [n1, n2, n3] = c.nodes;
    await put(n1, 'small', 10);
    const lease = await n2.leaseGrant({ TTL: 60 });
    const ok = await fillUntilNoSpace(n1);
    expect(ok).toBeGreaterThan(5);
    expect((await n1.status()).dbSize).toBeLessThan(16 * 1024);
    // The member that refused raised NOSPACE for itself, through Raft: every member has it.
    await waitFor('the alarm everywhere', () => c.nodes.every((n) => hasAlarm(n, 1n, 'NOSPACE')));
    const listed = await n3.alarm({ action: 'GET' });
    expect(listed.alarms).toEqual([{ memberID: 1n, alarm: 'NOSPACE' }]);
    expect((await n3.status()).errors).toContain('memberID:1 alarm:NOSPACE ');

    // Every member refuses writes that add data, even one under its own quota (applierV3Capped).
    expect(await errorOf(put(n2, 'other', 1))).toBe(NOSPACE);
    expect(await errorOf(n3.leaseGrant({ TTL: 60 }))).toBe(NOSPACE);
    expect(
      await errorOf(n2.txn({ success: [{ requestPut: { key: te.encode('t'), value: te.encode('v') } }] })),
    ).toBe(NOSPACE);
    // … but not deletes, txns without puts, lease revokes, compaction or reads.
    expect((await n2.deleteRange({ key: te.encode('small') })).deleted).toBe(1);
    await n3.txn({ success: [{ requestDeleteRange: { key: te.encode('nothing') } }] });
    await n2.leaseRevoke({ ID: lease.ID });
    const got = await n3.range({ key: te.encode('big') });
    expect(got.kvs[0].value.length).toBe(1024);
    const before = (await n1.status()).dbSize;
    await n1.compact({ revision: got.header.revision });
    expect((await n1.status()).dbSize).toBeLessThan(before / 4);
    // Compaction freed space, but the alarm stays until disarmed.
    expect(await errorOf(put(n1, 'big', 10))).toBe(NOSPACE);

    const disarmed = await n2.alarm({ action: 'DEACTIVATE', memberID: 1n, alarm: 'NOSPACE' });
    expect(disarmed.alarms).toEqual([{ memberID: 1n, alarm: 'NOSPACE' }]);
    await waitFor('disarmed everywhere', () => c.nodes.every((n) => n.nodeStatus().alarms.length === 0));
    await put(n1, 'big', 1024);
    await put(n3, 'other', 10);
    await n2.leaseGrant({ TTL: 60 });
    expect((await n1.status()).errors).toEqual([]);
  });

  it('a quota of 0 means 2 GiB; quotaCost follows etcd', async () => {
    const c = await startCluster({ quotaBytes: 0 });
    await put(c.nodes[0], 'k', 100_000);
    const req = { key: te.encode('ab'), value: te.encode('xyz') };
    expect(quotaCost({ type: 'put', request: req })).toBe(256 + 5);
    expect(quotaCost({ type: 'deleteRange', request: { key: te.encode('a') } })).toBe(0);
    expect(quotaCost({ type: 'leaseGrant', request: { ID: 1n, TTL: 5 } })).toBe(64);
    expect(
      quotaCost({
        type: 'txn',
        request: { success: [{ requestPut: req }, { requestPut: req }], failure: [{ requestPut: req }] },
      }),
    ).toBe(2 * 261);
    expect(quotaCost({ type: 'txn', request: { success: [{ requestRange: { key: req.key } }] } })).toBe(0);
  });

  it('the alarm survives restarts, from the log and from a snapshot', async () => {
    const c = await startCluster({ quotaBytes: 12 * 1024, snapshotCount: 5 });
    await fillUntilNoSpace(c.nodes[1]);
    await waitFor('the alarm everywhere', () => c.nodes.every((n) => hasAlarm(n, 2n, 'NOSPACE')));
    // Enough entries after the alarm that every member snapshots past it.
    for (let i = 0; i < 8; i++) await c.nodes[0].deleteRange({ key: te.encode(`none${i}`) });
    await waitFor('snapshots', () => c.backends.every((b) => (b.snapshot?.metadata.index ?? 0) > 0));
    for (const i of [0, 2]) {
      const n = await c.restart(i);
      await waitFor('replayed', () => hasAlarm(n, 2n, 'NOSPACE'));
      expect(await errorOf(put(n, 'x', 1))).toBe(NOSPACE);
    }
    // memberID 0 / NONE disarms every alarm (edgecd's extension of DEACTIVATE).
    const r = await c.nodes[0].alarm({ action: 'DEACTIVATE', memberID: 0n, alarm: 'NONE' });
    expect(r.alarms).toEqual([{ memberID: 2n, alarm: 'NOSPACE' }]);
  });

  it('gateway /v3/maintenance/alarm and /health', async () => {
    const c = await startCluster({ quotaBytes: 8 * 1024 });
    const gw = createGateway(c.nodes[2]);
    const post = async (path: string, body: unknown) => {
      const r = await gw(
        new Request(`http://gw.test${path}`, { method: 'POST', body: JSON.stringify(body) }),
      );
      return { status: r.status, text: await r.text() };
    };
    const health = async () => {
      const r = await gw(new Request('http://gw.test/health'));
      return { status: r.status, text: (await r.text()).trim() };
    };
    await waitFor('a leader', () => c.nodes[2].nodeStatus().leader !== 0n);
    expect(await health()).toEqual({ status: 200, text: '{"health":"true"}' });
    expect((await post('/v3/maintenance/alarm', { action: 'GET' })).text).toBe('{}');
    const refused = await post('/v3/kv/put', {
      key: btoa('k'),
      value: Buffer.from(new Uint8Array(9000)).toString('base64'),
    });
    expect(refused.status).toBe(429);
    expect(JSON.parse(refused.text)).toMatchObject({ error: NOSPACE, code: 8 });
    await waitFor('alarm', () => hasAlarm(c.nodes[2], 3n, 'NOSPACE'));
    expect((await post('/v3/maintenance/alarm', { action: 'GET' })).text).toBe(
      '{"alarms":[{"memberID":"3","alarm":"NOSPACE"}]}',
    );
    expect(await health()).toEqual({ status: 503, text: '{"health":"false"}' });
    const status = JSON.parse((await post('/v3/maintenance/status', {})).text);
    expect(status.errors).toEqual(['memberID:3 alarm:NOSPACE ']);
    expect(
      (await post('/v3/maintenance/alarm', { action: 'DEACTIVATE', memberID: '3', alarm: 'NOSPACE' })).text,
    ).toBe('{"alarms":[{"memberID":"3","alarm":"NOSPACE"}]}');
    expect(await health()).toEqual({ status: 200, text: '{"health":"true"}' });
    // ACTIVATE by hand, as etcdctl cannot but the API can.
    await post('/v3/maintenance/alarm', { action: 'ACTIVATE', memberID: '1', alarm: 'NOSPACE' });
    expect(await health()).toEqual({ status: 503, text: '{"health":"false"}' });
  });
});

describe('CORRUPT', () => {
  it('a corrupted member is detected by the corruption check; the cluster refuses writes, serves reads', async () => {
    const c = await startCluster({ corruptCheckIntervalMs: 50 });
    for (let i = 0; i < 5; i++) await c.nodes[0].put({ key: te.encode(`k${i}`), value: te.encode(`v${i}`) });
    await waitFor('a leader', () => c.nodes[0].nodeStatus().leader !== 0n);
    const leader = c.nodes[0].nodeStatus().leader;
    const victim = c.nodes.find((n) => n.id !== leader)!;
    await waitFor('caught up', () => victim.nodeStatus().revision === c.nodes[0].nodeStatus().revision);
    // No false alarm before the fault.
    await new Promise((r) => setTimeout(r, 200));
    expect(c.nodes.every((n) => n.nodeStatus().alarms.length === 0)).toBe(true);

    victim.testingCorrupt();
    await waitFor('CORRUPT everywhere', () => c.nodes.every((n) => hasAlarm(n, victim.id, 'CORRUPT')));
    expect(c.nodes[0].nodeStatus().alarms).toEqual([{ memberID: victim.id, alarm: 'CORRUPT' }]);
    for (const n of c.nodes) {
      const e = await errorOf(n.put({ key: te.encode('k'), value: te.encode('v') }));
      expect(e).toBe(CORRUPT);
      expect(await errorOf(n.deleteRange({ key: te.encode('k1') }))).toBe(CORRUPT);
    }
    expect(await errorOf(c.nodes[0].compact({ revision: 2 }))).toBe(CORRUPT);
    try {
      await c.nodes[0].put({ key: te.encode('k'), value: te.encode('v') });
    } catch (e) {
      expect((e as EtcdError).code).toBe(15); // DataLoss
    }
    const r = await c.nodes[0].range({ key: te.encode('k0') });
    expect(td.decode(r.kvs[0].value)).toBe('v0');
  });
});

describe('AlarmStore', () => {
  it('activate is idempotent, deactivate matches, snapshot/restore keeps alarms', () => {
    const sm = new ServerStateMachine({ minLeaseTtl: 2 }, { onEvents: () => {}, onCompacted: () => {} });
    const op = (action: 'ACTIVATE' | 'DEACTIVATE', memberID: bigint, alarm: 'NOSPACE' | 'CORRUPT' | 'NONE') =>
      sm.apply({ type: 'alarm', action, memberID, alarm }, 0);
    expect(op('ACTIVATE', 7n, 'NOSPACE')).toEqual({
      ok: true,
      value: { alarms: [{ memberID: 7n, alarm: 'NOSPACE' }] },
    });
    op('ACTIVATE', 7n, 'NOSPACE');
    op('ACTIVATE', 3n, 'CORRUPT');
    expect(op('ACTIVATE', 3n, 'NONE')).toEqual({ ok: true, value: { alarms: [] } });
    expect(sm.alarms.list()).toEqual([
      { memberID: 3n, alarm: 'CORRUPT' },
      { memberID: 7n, alarm: 'NOSPACE' },
    ]);
    const copy = new ServerStateMachine({ minLeaseTtl: 2 }, { onEvents: () => {}, onCompacted: () => {} });
    copy.restore(sm.snapshot());
    expect(copy.alarms.list()).toEqual(sm.alarms.list());
    expect(op('DEACTIVATE', 9n, 'NOSPACE')).toEqual({ ok: true, value: { alarms: [] } });
    expect(op('DEACTIVATE', 7n, 'NOSPACE')).toEqual({
      ok: true,
      value: { alarms: [{ memberID: 7n, alarm: 'NOSPACE' }] },
    });
    const put = sm.apply({ type: 'put', request: { key: te.encode('a'), value: te.encode('b') } }, 0);
    expect(put.ok ? 'ok' : put.error.message).toBe(CORRUPT);
    expect(AlarmStore.fromJSON(undefined).size).toBe(0);
  });
});
