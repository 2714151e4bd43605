// The `etcd3` npm client (1.1.2) across its public API, against a real etcd 3.4.23 and a 3-member edgecd cluster,
// both started with etcd's own flags. Every differential scenario is ONE function run against both servers; the
// test asserts that what the client observes is the same, with revisions made relative to the scenario's start
// revision and server-chosen IDs (leases, members, cluster) masked. Errors are compared by class and message,
// unmasked. The failover scenarios (kill -9 the member serving a watch, kill -9 the leader mid-workload) need
// several members, so they run against edgecd only and assert the client-visible guarantees.
// Where etcd3 1.1.2 itself is quirky (ignore() = only(), hashKV, multi-key SerializableSnapshot STM), the quirk is
// asserted to be the same on both. ETCD3_DUMP=1 prints what each scenario observed on etcd.

import { createHash } from 'node:crypto';
import { Etcd3, type Isolation, KVClient, LeaseClient, type Watcher } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, sleep, TestCluster } from './cluster-harness.ts';
import { EtcdProcess } from './differential/harness.ts';

// biome-ignore lint/suspicious/noExplicitAny: client responses, checked by the assertions
type J = any;

interface Server {
  readonly name: 'etcd' | 'edgecd';
  readonly hosts: string[];
  readonly client: Etcd3;
  /** The current leader's client endpoint (MoveLeader must be sent to the leader). */
  readonly leaderHost: () => Promise<string>;
}

let cluster: TestCluster | undefined;
let etcd: EtcdProcess | undefined;
let etcdServer: Server;
let edgeServer: Server;
const clients: Etcd3[] = [];

function newClient(hosts: string[], auth?: { username: string; password: string }): Etcd3 {
  const c = new Etcd3({ hosts, ...(auth ? { auth } : {}) });
  clients.push(c);
  return c;
}

/** The client's private connection pool: raw RPC clients (compact, lease TTL) take it, as the client's own do. */
// biome-ignore lint/suspicious/noExplicitAny: reaching the client's private pool on purpose
const poolOf = (c: Etcd3): any => (c as unknown as { pool: unknown }).pool;
const kvClient = (c: Etcd3) => new KVClient(poolOf(c));
const leaseClient = (c: Etcd3) => new LeaseClient(poolOf(c));

const REV_KEYS = new Set(['revision', 'create_revision', 'mod_revision', 'compact_revision']);
const ID_KEYS = new Set(['lease', 'ID', 'id']);
const DROP_KEYS = new Set(['cluster_id', 'member_id', 'raft_term']);

/** Revisions relative to `base`, server-chosen IDs masked, buffers as strings. */
function norm(v: unknown, base: number): J {
  if (Buffer.isBuffer(v)) return v.toString();
  if (Array.isArray(v)) return v.map((x) => norm(x, base));
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      if (DROP_KEYS.has(k)) continue;
      if (REV_KEYS.has(k) && (typeof x === 'string' || typeof x === 'number')) {
        out[k] = Number(x) === 0 ? 0 : Number(x) - base;
      } else if (ID_KEYS.has(k) && typeof x === 'string') {
        out[k] = x === '0' ? '0' : '<id>';
      } else {
        out[k] = norm(x, base);
      }
    }
    return out;
  }
  return v;
}

/** An error as the client shows it: its class and message, unmasked (optionally with an ID replaced). */
function errInfo(e: unknown, mask?: string): { error: string; message: string } {
  const err = e as Error;
  const message = mask ? err.message.split(mask).join('<id>') : err.message;
  return { error: err.constructor.name, message };
}

async function currentRevision(c: Etcd3): Promise<number> {
  return Number((await c.get('\u0000rev-probe').exec()).header.revision);
}

async function waitFor(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
  detail?: () => unknown,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${detail ? `: ${JSON.stringify(detail())}` : ''}`);
    }
    await sleep(20);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);
}

/** Runs the same scenario against both servers (concurrently: they are independent) and returns both results. */
async function both<T>(scenario: (s: Server) => Promise<T>): Promise<{ etcd: T; edgecd: T }> {
  const label = (s: Server) =>
    scenario(s).catch((e: Error) => {
      e.message = `[${s.name}] ${e.message}`;
      throw e;
    });
  const [a, b] = await Promise.all([label(etcdServer), label(edgeServer)]);
  return { etcd: a, edgecd: b };
}

beforeAll(async () => {
  const [c, e] = await Promise.allSettled([
    TestCluster.start({ size: 3, extraFlags: ['--bcrypt-cost', '4'] }),
    EtcdProcess.start(),
  ]);
  if (c.status === 'fulfilled') cluster = c.value;
  if (e.status === 'fulfilled') etcd = e.value;
  if (c.status === 'rejected') throw c.reason;
  if (e.status === 'rejected') throw e.reason;
  const etcdHosts = [etcd!.url.replace('http://', '')];
  const edgeHosts = cluster!.endpoints.split(',');
  etcdServer = {
    name: 'etcd',
    hosts: etcdHosts,
    client: newClient(etcdHosts),
    leaderHost: async () => etcdHosts[0]!,
  };
  edgeServer = {
    name: 'edgecd',
    hosts: edgeHosts,
    client: newClient(edgeHosts),
    leaderHost: async () => cluster!.endpoint(await cluster!.leaderName()),
  };
});

afterAll(async () => {
  for (const c of clients) c.close();
  await cluster?.close();
  await etcd?.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// Scenarios: each takes a server, returns what the client observed.

async function kvScenario({ client: c }: Server): Promise<J> {
  const p = 'kv/';
  const base = await currentRevision(c);
  const r: Record<string, unknown> = {};
  for (const [k, v] of [
    ['a', '3'],
    ['b', '1'],
    ['c', '2'],
    ['d', '5'],
    ['e', '4'],
  ]) {
    await c.put(p + k).value(v);
  }
  await c.put(`${p}n`).value(42);
  await c.put(`${p}j`).value(JSON.stringify({ x: [1, 'y'] }));
  await c.put(`${p}e`).value('4');
  r.string = await c.get(`${p}a`).string();
  r.number = await c.get(`${p}n`).number();
  r.json = await c.get(`${p}j`).json();
  r.buffer = (await c.get(`${p}a`).buffer())?.toString('hex');
  r.missing = await c.get(`${p}zz`).string();
  r.exists = [await c.get(`${p}a`).exists(), await c.get(`${p}zz`).exists()];
  r.rawGet = norm(await c.get(`${p}a`).exec(), base);
  r.rawMissing = norm(await c.get(`${p}zz`).exec(), base);
  r.strings = await c.getAll().prefix(p).strings();
  r.keys = await c.getAll().prefix(p).keys();
  r.keyBuffers = (await c.getAll().prefix(p).keyBuffers()).map((b) => b.toString());
  r.count = await c.getAll().prefix(p).count();
  r.numbers = await c
    .getAll()
    .inRange({ start: `${p}a`, end: `${p}f` })
    .numbers();
  r.buffers = Object.keys(await c.getAll().prefix(p).buffers());
  r.limitRaw = norm(await c.getAll().prefix(p).limit(2).exec(), base);
  r.limitSortedRaw = norm(await c.getAll().prefix(p).sort('Value', 'Descend').limit(3).exec(), base);
  r.sortKeyDesc = await c.getAll().prefix(p).sort('Key', 'Descend').keys();
  r.sortValueAsc = await c.getAll().prefix(p).sort('Value', 'Ascend').keys();
  r.sortModDesc = await c.getAll().prefix(p).sort('Mod', 'Descend').keys();
  r.sortCreateAsc = await c.getAll().prefix(p).sort('Create', 'Ascend').keys();
  r.sortVersionDesc = await c.getAll().prefix(p).sort('Version', 'Descend').limit(1).keys();
  r.inRange = await c
    .getAll()
    .inRange({ start: `${p}b`, end: `${p}d` })
    .keys();
  r.atRevision = await c
    .get(`${p}a`)
    .revision(base + 1)
    .string();
  r.beforeCreated = await c
    .get(`${p}b`)
    .revision(base + 1)
    .string();
  r.allAtRevision = await c
    .getAll()
    .prefix(p)
    .revision(base + 3)
    .keys();
  r.minMod = await c
    .getAll()
    .prefix(p)
    .minModRevision(base + 6)
    .keys();
  r.maxMod = await c
    .getAll()
    .prefix(p)
    .maxModRevision(base + 2)
    .keys();
  r.minCreate = await c
    .getAll()
    .prefix(p)
    .minCreateRevision(base + 4)
    .keys();
  r.maxCreate = await c
    .getAll()
    .prefix(p)
    .maxCreateRevision(base + 2)
    .keys();
  r.putExec = norm(await c.put(`${p}f`).value('6').exec(), base);
  r.putPrevious = norm(await c.put(`${p}a`).value('3b').getPrevious(), base);
  r.putPreviousNone = norm(await c.put(`${p}g`).value('7').getPrevious(), base);
  r.touch = norm(await c.put(`${p}b`).touch(), base);
  r.afterTouch = norm(await c.get(`${p}b`).exec(), base);
  r.touchMissing = await c
    .put(`${p}nope`)
    .touch()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.futureRevision = await c
    .get(`${p}a`)
    .revision(base + 10_000)
    .exec()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.deletePrevious = norm(await c.delete().key(`${p}a`).getPrevious(), base);
  r.deleteRange = norm(
    await c
      .delete()
      .inRange({ start: `${p}b`, end: `${p}d` })
      .exec(),
    base,
  );
  r.deleteMissing = norm(await c.delete().key(`${p}zz`).exec(), base);
  await c.put(`${p}v`).value('1');
  await c.put(`${p}v`).value('2');
  await c.delete().key(`${p}v`);
  await c.put(`${p}v`).value('3');
  r.versionReset = norm(await c.get(`${p}v`).exec(), base);
  await c.put(`${p}empty`).value('');
  r.emptyValue = [await c.get(`${p}empty`).string(), await c.get(`${p}empty`).exists()];
  r.countIgnoresLimit = await c.getAll().prefix(p).limit(2).count();
  r.keysSortedLimited = await c.getAll().prefix(p).sort('Create', 'Descend').limit(3).keys();
  const binKey = Buffer.from([0x6b, 0x76, 0x2f, 0xff, 0x00, 0x01]);
  const binValue = Buffer.alloc(100_000, 0xa5);
  binValue.write('\u0000edge', 7);
  await c.put(binKey).value(binValue);
  const got = await c.get(binKey).buffer();
  r.binary = { equal: got?.equals(binValue), length: got?.length };
  r.binaryInRange = (
    await c
      .getAll()
      .inRange({ start: Buffer.from([0x6b, 0x76, 0x2f, 0xfe]), end: 'kw' })
      .keyBuffers()
  ).map((b) => b.toString('hex'));
  r.deletePrefixPrevious = norm(await c.delete().prefix(p).getPrevious(), base).map(
    (kv: J) => `${kv.key}@${kv.mod_revision}`,
  );
  r.after = await c.getAll().prefix(p).count();
  r.everything = await c.getAll().all().keys();
  r.endRevision = (await currentRevision(c)) - base;
  return r;
}

async function txnScenario({ client: c }: Server): Promise<J> {
  const p = 'txn/';
  const base = await currentRevision(c);
  const r: Record<string, unknown> = {};
  await c.put(`${p}t`).value('v1');
  r.valueEq = norm(
    await c
      .if(`${p}t`, 'Value', '==', 'v1')
      .then(c.put(`${p}t`).value('v2'), c.get(`${p}t`))
      .else(c.get(`${p}none`))
      .commit(),
    base,
  );
  r.valueEqElse = norm(
    await c
      .if(`${p}t`, 'Value', '==', 'v1')
      .then(c.put(`${p}t`).value('v3'))
      .else(c.get(`${p}t`), c.put(`${p}other`).value('o'), c.delete().key(`${p}nothing`))
      .commit(),
    base,
  );
  r.versionAndCreate = norm(
    await c
      .if(`${p}t`, 'Version', '==', 2)
      .and(`${p}u`, 'Create', '==', 0)
      .then(c.put(`${p}u`).value('u1'), c.getAll().prefix(p))
      .commit(),
    base,
  );
  const mod = (await c.get(`${p}t`).exec()).kvs[0]!.mod_revision;
  r.modEq = norm(
    await c
      .if(`${p}t`, 'Mod', '==', mod)
      .then(c.delete().key(`${p}u`))
      .commit(),
    base,
  );
  r.modLt = (
    await c
      .if(`${p}t`, 'Mod', '<', mod)
      .then(c.put(`${p}x`).value('x'))
      .commit()
  ).succeeded;
  r.modGt = (await c.if(`${p}t`, 'Mod', '>', Number(mod) - 1).commit()).succeeded;
  r.createGt = (await c.if(`${p}t`, 'Create', '>', 0).commit()).succeeded;
  r.createMissing = (await c.if(`${p}missing`, 'Create', '>', 0).commit()).succeeded;
  r.valueGt = (await c.if(`${p}t`, 'Value', '>', 'a').commit()).succeeded;
  r.valueLt = (await c.if(`${p}t`, 'Value', '<', 'a').commit()).succeeded;
  r.valueNe = (await c.if(`${p}t`, 'Value', '!=', 'v2').commit()).succeeded;
  r.versionMissing = (await c.if(`${p}missing`, 'Version', '==', 0).commit()).succeeded;
  r.leaseCmp = (await c.if(`${p}t`, 'Lease', '==', 0).commit()).succeeded;
  r.noElse = norm(
    await c
      .if(`${p}t`, 'Version', '>', 100)
      .then(c.put(`${p}y`).value('y'))
      .commit(),
    base,
  );
  r.multiCompare = (
    await c
      .if(`${p}t`, 'Value', '==', 'v2')
      .and(`${p}other`, 'Value', '==', 'o')
      .and(`${p}t`, 'Version', '<', 2)
      .commit()
  ).succeeded;
  r.rangeOpsInTxn = norm(
    await c
      .if(`${p}t`, 'Version', '>', 0)
      .then(
        c.getAll().prefix(p).sort('Key', 'Descend').limit(1),
        c.put(`${p}z`).value('z'),
        c.getAll().inRange({ start: `${p}u`, end: `${p}zz` }),
      )
      .commit(),
    base,
  );
  r.deletePrefixInTxn = norm(
    await c
      .if(`${p}z`, 'Value', '==', 'z')
      .then(c.delete().prefix(`${p}z`), c.get(`${p}z`))
      .commit(),
    base,
  );
  r.duplicateKey = await c
    .if(`${p}t`, 'Version', '>', 0)
    .then(c.put(`${p}d`).value('1'), c.put(`${p}d`).value('2'))
    .commit()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.final = await c.getAll().prefix(p).strings();
  r.endRevision = (await currentRevision(c)) - base;
  await c.delete().prefix(p);
  return r;
}

async function namespaceScenario({ client: c }: Server): Promise<J> {
  const base = await currentRevision(c);
  const r: Record<string, unknown> = {};
  const ns = c.namespace('ns/');
  await ns.put('a').value('1');
  await ns.put('b').value('2');
  await c.put('nt').value('outside');
  r.nsAll = await ns.getAll().strings();
  r.nsCount = await ns.getAll().count();
  r.outer = await c.getAll().prefix('ns/').keys();
  r.nsGet = norm(await ns.get('a').exec(), base);
  r.nsTxn = norm(
    await ns.if('a', 'Value', '==', '1').then(ns.put('c').value('3'), ns.get('b')).commit(),
    base,
  );
  await ns.namespace('sub/').put('x').value('y');
  r.nested = await c.get('ns/sub/x').string();
  const events: unknown[] = [];
  const w = await ns.watch().prefix('').create();
  w.on('put', (kv) => events.push(['put', kv.key.toString(), kv.value.toString()]));
  w.on('delete', (kv) => events.push(['delete', kv.key.toString()]));
  await ns.put('a').value('1b');
  await c.put('nsx').value('not mine');
  await ns.delete().key('b');
  await waitFor(() => events.length >= 2, 5000, 'namespaced watch events');
  await w.cancel();
  r.nsWatch = events;
  const lease = ns.lease(30, { autoKeepAlive: false });
  await lease.put('l').value('leased');
  r.nsLeaseKey = await c.get('ns/l').string();
  await lease.revoke();
  r.nsLeaseKeyAfterRevoke = await c.get('ns/l').exists();
  r.nsDeleteAll = norm(await ns.delete().all().exec(), base);
  r.remaining = await c.getAll().prefix('n').keys();
  await c.delete().key('nt');
  await c.delete().key('nsx');
  return r;
}

async function leaseScenario({ client: c }: Server): Promise<J> {
  const p = 'lease/';
  const r: Record<string, unknown> = {};
  const lc = leaseClient(c);
  const l = c.lease(30, { autoKeepAlive: false });
  const id = await l.grant();
  r.idIsDecimal = /^[0-9]+$/.test(id);
  await l.put(`${p}k1`).value('v');
  await l.put(`${p}k2`).value('v');
  r.keyLease = (await c.get(`${p}k1`).exec()).kvs[0]!.lease === id;
  await c.put(`${p}k2`).value('v2').ignoreLease();
  r.ignoreLeaseKeeps = (await c.get(`${p}k2`).exec()).kvs[0]!.lease === id;
  r.ignoreLeaseMissing = await c
    .put(`${p}missing`)
    .value('x')
    .ignoreLease()
    .exec()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  const ka = await l.keepaliveOnce();
  r.keepaliveOnce = { TTL: ka.TTL, sameId: ka.ID === id };
  const t = await lc.leaseTimeToLive({ ID: id, keys: true });
  r.timeToLive = {
    grantedTTL: t.grantedTTL,
    ttlInRange: Number(t.TTL) > 20 && Number(t.TTL) <= 30,
    keys: t.keys.map((k: Buffer) => k.toString()).sort(),
    sameId: t.ID === id,
  };
  r.timeToLiveNoKeys = norm(await lc.leaseTimeToLive({ ID: id }), 0).keys;
  r.listed = (await lc.leaseLeases()).leases.some((x: { ID: string }) => x.ID === id);
  await l.revoke();
  r.revoked = l.revoked();
  r.keysAfterRevoke = await c.getAll().prefix(p).keys();
  r.timeToLiveAfter = norm(await lc.leaseTimeToLive({ ID: id }), 0);
  r.keepaliveAfterRevoke = await lc
    .leaseKeepAlive()
    .then(
      (stream) =>
        new Promise<J>((resolve, reject) => {
          stream.on('data', (res: J) => {
            stream.end();
            resolve(norm(res, 0));
          });
          stream.on('error', reject);
          stream.write({ ID: id });
        }),
    )
    .catch((e) => errInfo(e));
  r.revokeAgain = await lc.leaseRevoke({ ID: id }).then(
    () => 'ok',
    (e) => errInfo(e),
  );
  const fixed = await lc.leaseGrant({ TTL: 10, ID: '1234567' });
  r.fixedId = norm(fixed, 0);
  r.fixedIdAgain = await lc.leaseGrant({ TTL: 10, ID: '1234567' }).then(
    () => 'ok',
    (e) => errInfo(e),
  );
  await lc.leaseRevoke({ ID: '1234567' });
  r.hugeTTL = await lc.leaseGrant({ TTL: '9000000001' }).then(
    () => 'ok',
    (e) => errInfo(e),
  );
  const zero = await lc.leaseGrant({ TTL: 0 });
  r.zeroTTL = zero.TTL;
  await lc.leaseRevoke({ ID: zero.ID });
  const small = await lc.leaseGrant({ TTL: 1 });
  r.smallTTL = small.TTL;
  await lc.leaseRevoke({ ID: small.ID });
  r.putUnknownLease = await c
    .put(`${p}x`)
    .value('x')
    .lease('999999')
    .exec()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  // A lease that is not kept alive expires and takes its keys with it.
  const short = c.lease(1, { autoKeepAlive: false });
  await short.put(`${p}short`).value('x');
  await waitFor(async () => !(await c.get(`${p}short`).exists()), 8000, 'expired lease key to vanish');
  r.expiredTTL = norm(await lc.leaseTimeToLive({ ID: await short.grant() }), 0);
  short.release();
  return r;
}

async function keepaliveScenario({ client: c }: Server): Promise<J> {
  const p = 'keepalive/';
  const r: Record<string, unknown> = {};
  const l = c.lease(2);
  const ttls = new Set<string>();
  let succeeded = 0;
  let established = 0;
  let fired = 0;
  l.on('keepaliveEstablished', () => established++);
  l.on('keepaliveFired', () => fired++);
  l.on('keepaliveSucceeded', (res) => {
    succeeded++;
    ttls.add(String(res.TTL));
  });
  const lost = new Promise<unknown>((resolve) => l.on('lost', resolve));
  await l.put(`${p}k`).value('v');
  await waitFor(() => succeeded >= 4, 8000, 'four keepalives');
  r.ttls = [...ttls];
  r.established = established;
  r.fired = fired >= succeeded;
  r.aliveAfterTTL = await c.get(`${p}k`).exists();
  // Revoked elsewhere: the next keepalive answers TTL 0 and the client reports the lease lost.
  const id = await l.grant();
  await leaseClient(c).leaseRevoke({ ID: id });
  const err = await withTimeout(lost, 5000, 'lease lost');
  r.lost = errInfo(err, id);
  r.revokedState = l.revoked();
  r.keyGone = !(await c.get(`${p}k`).exists());
  return r;
}

async function watchScenario({ client: c }: Server): Promise<J> {
  const p = 'watch/';
  const base = await currentRevision(c);
  const r: Record<string, unknown> = {};
  const events: unknown[] = [];
  const datas: unknown[] = [];
  const lifecycle: string[] = [];
  const w = await c.watch().prefix(p).create();
  w.on('put', (kv, prev) =>
    events.push(['put', kv.key.toString(), kv.value.toString(), prev?.value.toString()]),
  );
  w.on('delete', (kv) => events.push(['delete', kv.key.toString(), kv.value.toString(), norm(kv, base)]));
  w.on('data', (res) => datas.push(norm(res, base)));
  w.on('end', () => lifecycle.push('end'));
  const keyEvents: unknown[] = [];
  const wk = await c.watch().key(`${p}x`).withPreviousKV().create();
  wk.on('put', (kv, prev) => keyEvents.push(['put', kv.value.toString(), prev ? norm(prev, base) : null]));
  wk.on('delete', (kv, prev) =>
    keyEvents.push(['delete', kv.value.toString(), prev ? norm(prev, base) : null]),
  );
  const deletes: unknown[] = [];
  const wd = await c.watch().prefix(p).only('delete').create();
  wd.on('data', (res) => deletes.push(norm(res.events, base)));
  // etcd3's `ignore()` is a deprecated alias of `only()` (it "does the opposite of what it says").
  const ignored: unknown[] = [];
  const wi = await c.watch().prefix(p).ignore('delete').create();
  wi.on('data', (res) => ignored.push(res.events.map((e: J) => e.type)));
  const puts: unknown[] = [];
  const wput = await c.watch().prefix(p).only('put').create();
  wput.on('data', (res) => puts.push(res.events.map((e: J) => e.type)));

  await c.put(`${p}a`).value('1');
  await c.put(`${p}b`).value('2');
  await c.delete().key(`${p}a`);
  await c
    .if(`${p}b`, 'Value', '==', '2')
    .then(c.put(`${p}c`).value('3'), c.put(`${p}d`).value('4'))
    .commit();
  await c.put(`${p}x`).value('x1');
  await c.put(`${p}x`).value('x2');
  await c.delete().key(`${p}x`);
  // Revoking a lease deletes its keys in one revision: one response with both deletes.
  const lease = c.lease(30, { autoKeepAlive: false });
  await lease.put(`${p}l1`).value('1');
  await lease.put(`${p}l2`).value('2');
  await lease.revoke();
  await c.delete().prefix(`${p}`);
  await waitFor(() => events.length >= 14 && keyEvents.length >= 3, 5000, 'watch events');
  await waitFor(
    () => deletes.length >= 4 && ignored.length >= 4 && puts.length >= 7,
    5000,
    'filtered watch events',
    () => ({ deletes, ignored, puts }),
  );
  await sleep(100);
  r.ignored = ignored;
  r.events = events;
  r.data = datas;
  r.keyEvents = keyEvents;
  r.deletes = deletes;
  r.puts = puts;
  r.lastRevision = (w.lastRevision() ?? 0) - base;

  // A start revision in the future: only events from there on.
  const future: unknown[] = [];
  const futureStart = (await currentRevision(c)) + 2;
  const wf = await c.watch().prefix(p).startRevision(String(futureStart)).create();
  wf.on('put', (kv) => future.push([kv.key.toString(), Number(kv.mod_revision) - base]));
  for (const v of ['f1', 'f2', 'f3']) await c.put(`${p}f`).value(v);
  await waitFor(() => future.length >= 2, 5000, 'future-revision events');
  await wf.cancel();
  await c.delete().key(`${p}f`);
  r.future = future;

  // History from a start revision: the same events again.
  const history: unknown[] = [];
  const wh = await c
    .watch()
    .prefix(p)
    .startRevision(String(base + 1))
    .create();
  wh.on('put', (kv) => history.push(['put', kv.key.toString(), kv.value.toString()]));
  wh.on('delete', (kv) => history.push(['delete', kv.key.toString()]));
  const historyBatches: number[] = [];
  wh.on('data', (res) => historyBatches.push(res.events.length));
  await waitFor(() => history.length >= 18, 5000, 'history events');
  r.history = history;
  r.historyBatches = historyBatches;

  // Cancel: 'end', and nothing more arrives.
  await w.cancel();
  await Promise.all([wk.cancel(), wd.cancel(), wi.cancel(), wput.cancel(), wh.cancel()]);
  const before = events.length;
  await c.put(`${p}after`).value('z');
  await sleep(300);
  r.afterCancel = events.length - before;
  r.lifecycle = lifecycle;

  // Compaction: reads and watches before the compacted revision fail as etcd's do.
  const compactAt = await currentRevision(c);
  r.compact = norm(await kvClient(c).compact({ revision: String(compactAt), physical: true }), base);
  r.compactAgain = await kvClient(c)
    .compact({ revision: String(compactAt) })
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.compactFuture = await kvClient(c)
    .compact({ revision: String(compactAt + 1000) })
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.readCompacted = await c
    .get(`${p}b`)
    .revision(base + 2)
    .exec()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.readAtCompacted = await c
    .getAll()
    .prefix(p)
    .revision(compactAt)
    .keys()
    .then(
      (x) => x,
      (e) => errInfo(e),
    );
  r.readBeforeCompacted = await c
    .getAll()
    .prefix(p)
    .revision(compactAt - 1)
    .keys()
    .then(
      (x) => x,
      (e) => errInfo(e),
    );
  const atCompact: unknown[] = [];
  const wac = c.watch().prefix(p).startRevision(String(compactAt)).watcher();
  const wacResult = await withTimeout(
    new Promise<unknown>((resolve) => {
      wac.on('put', (kv) => {
        atCompact.push([kv.key.toString(), Number(kv.mod_revision) - base]);
        resolve('event');
      });
      wac.on('error', (e) => resolve(errInfo(e)));
    }),
    5000,
    'watch at the compacted revision',
  );
  await wac.cancel();
  r.watchAtCompacted = { result: wacResult, events: atCompact };
  const compactedEvents: string[] = [];
  const wc: Watcher = c
    .watch()
    .prefix(p)
    .startRevision(String(base + 1))
    .watcher();
  wc.on('connected', () => compactedEvents.push('connected'));
  wc.on('data', () => compactedEvents.push('data'));
  const compactErr = await withTimeout(
    new Promise<unknown>((resolve) => wc.on('error', resolve)),
    5000,
    'compacted watch error',
  );
  r.compactedWatch = { events: compactedEvents, error: errInfo(compactErr) };
  await c.delete().prefix(p);
  return r;
}

async function lockScenario({ client: c }: Server): Promise<J> {
  const p = 'lock/';
  const base = await currentRevision(c);
  const r: Record<string, unknown> = {};
  const l1 = c.lock(`${p}m`);
  r.leaseIdBefore = await l1.leaseId();
  await l1.acquire();
  r.leaseIdHeld = (await l1.leaseId()) !== null;
  r.lockKey = norm((await c.get(`${p}m`).exec()).kvs, base);
  r.secondAcquire = await c
    .lock(`${p}m`)
    .acquire()
    .then(
      () => 'acquired',
      (e) => errInfo(e),
    );
  await l1.release();
  r.afterRelease = await c.get(`${p}m`).exists();
  r.do = await c.lock(`${p}m`).do(async () => 'did it');
  r.doThrows = await c
    .lock(`${p}m`)
    .do(async () => {
      throw new Error('inside');
    })
    .catch((e) => errInfo(e));
  r.releasedAfterThrow = await c.get(`${p}m`).exists();
  // Mutual exclusion: contenders retry until they get it; the critical sections never overlap.
  let inside = 0;
  let overlaps = 0;
  let done = 0;
  await Promise.all(
    [0, 1, 2, 3].map(async () => {
      for (;;) {
        try {
          await c
            .lock(`${p}mx`)
            .ttl(10)
            .do(async () => {
              inside++;
              if (inside > 1) overlaps++;
              await sleep(20);
              inside--;
              done++;
            });
          return;
        } catch {
          await sleep(10 + Math.random() * 30);
        }
      }
    }),
  );
  r.mutex = { done, overlaps };
  r.leftover = await c.getAll().prefix(p).count();
  return r;
}

async function electionScenario({ client: c }: Server): Promise<J> {
  const name = 'elect';
  const r: Record<string, unknown> = {};
  const e = c.election(name, 5);
  r.noLeader = (await e.leader()) ?? null;
  const early = await e.observe();
  const earlyChanges: (string | undefined)[] = [];
  early.on('change', (v) => earlyChanges.push(v));
  // The observer's watch is created asynchronously; were it created after several campaign writes, their
  // catch-up would arrive as one batch and etcd3 1.1.2 takes the batch's *last* put as the leader.
  await sleep(300);
  const c1 = e.campaign('v1');
  await withTimeout(c1.wait(), 5000, 'first campaign elected');
  r.leader1 = await e.leader();
  const observer = await e.observe();
  const changes: (string | undefined)[] = [];
  observer.on('change', (v) => changes.push(v));
  r.observerInitial = observer.leader() ?? null;
  let c2Elected = false;
  const c2 = c.election(name, 5).campaign('v2');
  c2.on('elected', () => {
    c2Elected = true;
  });
  await sleep(300);
  r.c2ElectedWhileC1Leads = c2Elected;
  await c1.proclaim('v1b');
  await waitFor(() => changes.includes('v1b'), 5000, 'proclaimed value observed');
  r.leaderAfterProclaim = await e.leader();
  await c1.resign();
  await withTimeout(c2.wait(), 5000, 'second campaign elected');
  await waitFor(() => changes.includes('v2'), 5000, 'new leader observed');
  r.leaderAfterResign = await e.leader();
  r.proclaimAfterResign = await c1.proclaim('again').then(
    () => 'ok',
    (err) => errInfo(err),
  );
  r.campaignKeys = await c.getAll().prefix(`election/${name}/`).count();
  await c2.resign();
  await waitFor(
    () => changes[changes.length - 1] === undefined && earlyChanges[earlyChanges.length - 1] === undefined,
    5000,
    'no leader observed',
    () => ({ changes, earlyChanges }),
  );
  r.changes = changes;
  // Normally v1, v1b, v2, none; should the observer's watch have been created late (a loaded machine), only its
  // tail is certain.
  r.earlyChangesTail = earlyChanges.slice(-2);
  await early.cancel();
  r.leaderAfterAll = (await e.leader()) ?? null;
  await observer.cancel();
  return r;
}

async function stmScenario(s: Server): Promise<J> {
  const c = s.client;
  const key = 'stm/counter';
  await c.put(key).value(0);
  const N = 12;
  let attempts = 0;
  await Promise.all(
    Array.from({ length: N }, () =>
      c.stm({ retries: 100 }).transact(async (tx) => {
        attempts++;
        const v = (await tx.get(key).number()) ?? 0;
        await sleep(5);
        await tx.put(key).value(v + 1);
      }),
    ),
  );
  const r: Record<string, unknown> = {};
  r.final = await c.get(key).number();
  r.contended = attempts > N;
  // An STM transaction that moves value between two keys stays consistent.
  await c.put('stm/a').value(100);
  await c.put('stm/b').value(0);
  // etcd3 1.1.2's SerializableSnapshot (the default) compares every written key's mod revision with the
  // *earliest* mod revision read, so a transaction that reads and writes two keys last modified at different
  // revisions conflicts forever, even alone: a client quirk, observed identically on both servers.
  // One endpoint for these two-key transactions: a serializable STM reads its later keys serializably at the
  // first read's revision, which another member may not have applied yet (`future revision`, with etcd's members
  // as with edgecd's).
  const one = newClient([s.hosts[0]!]);
  r.snapshotQuirk = await one
    .stm({ retries: 2 })
    .transact(async (tx) => {
      const a = (await tx.get('stm/a').number()) ?? 0;
      const b = (await tx.get('stm/b').number()) ?? 0;
      await tx.put('stm/a').value(a - 10);
      await tx.put('stm/b').value(b + 10);
    })
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  await Promise.all(
    Array.from({ length: 5 }, () =>
      one.stm({ retries: 100, isolation: 1 as Isolation /* Serializable */ }).transact(async (tx) => {
        const a = (await tx.get('stm/a').number()) ?? 0;
        const b = (await tx.get('stm/b').number()) ?? 0;
        await tx.put('stm/a').value(a - 10);
        await tx.put('stm/b').value(b + 10);
      }),
    ),
  );
  r.transfer = [await c.get('stm/a').number(), await c.get('stm/b').number()];
  r.readOnly = await c.stm().transact((tx) => tx.get(key).number());
  await Promise.all(
    Array.from({ length: 6 }, () =>
      c.stm({ retries: 100, isolation: 2 as Isolation /* RepeatableReads */ }).transact(async (tx) => {
        const v = (await tx.get(key).number()) ?? 0;
        await tx.put(key).value(v + 1);
      }),
    ),
  );
  r.repeatableReads = await c.get(key).number();
  await c.delete().prefix('stm/');
  return r;
}

async function maintenanceScenario(s: Server): Promise<J> {
  const c = s.client;
  const r: Record<string, unknown> = {};
  const st = await c.maintenance.status();
  r.statusVersion = st.version;
  r.statusShape = {
    dbSize: Number(st.dbSize) > 0,
    leader: st.leader !== '0',
    raftIndex: Number(st.raftIndex) > 0,
    raftTerm: Number(st.raftTerm) > 0,
    header: Object.keys(st.header).sort(),
    // etcd 3.4 fills raftAppliedIndex and dbSizeInUse; errors is empty
    fields: Object.keys(st).sort(),
    errors: st.errors,
    isLearner: st.isLearner,
  };
  const ml = await c.cluster.memberList({});
  r.memberCount = ml.members.length === (s.name === 'etcd' ? 1 : 3);
  r.memberShape = ml.members.map((m: J) => ({
    name: /^(etcd1|m[123])$/.test(m.name),
    fields: Object.keys(m).sort(),
    peerURLs: m.peerURLs.length,
    clientURLs: m.clientURLs.length,
    isLearner: m.isLearner,
  }))[0];
  r.memberHeader = Object.keys(ml.header).sort();
  r.memberHeaderRevision = ml.header.revision;
  r.alarms = norm(await c.maintenance.alarm({ action: 'Get', memberID: '0', alarm: 'None' }), 0);
  r.defragment = Object.keys(await c.maintenance.defragment()).sort();
  const hash = await c.maintenance.hash();
  r.hash = Object.keys(hash).sort();
  // etcd3 1.1.2 calls grpc-js's `hashKV`, which grpc-js names `hashKv`: a client bug, the same on both servers.
  r.hashKV = await c.maintenance.hashKV({ revision: '0' }).then(
    (x) => Object.keys(x).sort(),
    (e) => errInfo(e),
  );
  r.authStatus = await c.auth.authStatus().then(
    (x) => ({ enabled: x.enabled }),
    (e) => errInfo(e),
  );
  const leaderC = newClient([await s.leaderHost()]);
  const leaderId = (await leaderC.maintenance.status()).header.member_id;
  r.moveLeaderToSelf = await leaderC.maintenance.moveLeader({ targetID: leaderId }).then(
    () => 'ok',
    (e) => errInfo(e),
  );
  r.moveLeaderUnknown = await leaderC.maintenance.moveLeader({ targetID: '12345' }).then(
    () => 'ok',
    (e) => errInfo(e),
  );
  // Snapshot: a stream of blobs ending in a sha256 trailer over everything before it (what etcdctl checks).
  r.snapshot = await c.maintenance
    .snapshot()
    .then(
      (stream) =>
        new Promise<J>((resolve, reject) => {
          const chunks: Buffer[] = [];
          let lastRemaining = '';
          stream.on('data', (m: J) => {
            chunks.push(m.blob);
            lastRemaining = String(m.remaining_bytes);
          });
          stream.on('error', reject);
          stream.on('end', () => {
            const all = Buffer.concat(chunks);
            const body = all.subarray(0, all.length - 32);
            const trailer = all.subarray(all.length - 32);
            resolve({
              sizeMod512: all.length % 512,
              sha256: createHash('sha256').update(body).digest().equals(trailer),
              lastRemaining,
            });
          });
        }),
    )
    .catch((e) => errInfo(e));
  // NOSPACE raised by hand: writes that add data are refused until it is disarmed; reads and deletes work.
  await c.put('alarm/k').value('v');
  const raised = await c.maintenance.alarm({ action: 'Activate', memberID: leaderId, alarm: 'Nospace' });
  const maskMember = (a: J) => ({
    ...a,
    alarms: a.alarms.map((x: J) => ({ ...x, memberID: x.memberID === leaderId })),
  });
  r.alarmActivate = maskMember(norm(raised, 0));
  r.alarmList = maskMember(
    norm(await c.maintenance.alarm({ action: 'Get', memberID: '0', alarm: 'None' }), 0),
  );
  // A client of its own: etcd3 retries NOSPACE as recoverable and its circuit breaker then opens for 5 s.
  const ac = newClient(s.hosts);
  r.putDuringNospace = await ac
    .put('alarm/k2')
    .value('v')
    .exec()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.leaseDuringNospace = await newClient(s.hosts)
    .lease(10, { autoKeepAlive: false })
    .grant()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  r.readDuringNospace = await c.get('alarm/k').string();
  r.deleteDuringNospace = norm(await c.delete().key('alarm/k').exec(), 0).deleted;
  const disarmed = await c.maintenance.alarm({ action: 'Deactivate', memberID: leaderId, alarm: 'Nospace' });
  r.alarmDeactivate = maskMember(norm(disarmed, 0));
  r.putAfterDisarm = await c
    .put('alarm/k3')
    .value('v')
    .exec()
    .then(
      () => 'ok',
      (e) => errInfo(e),
    );
  await c.delete().prefix('alarm/');
  return r;
}

async function membershipScenario(s: Server): Promise<J> {
  const c = s.client;
  // Errors below are ones etcd3 counts as recoverable: a fresh client per call keeps its circuit breaker shut.
  const fresh = () => newClient(s.hosts).cluster;
  const r: Record<string, unknown> = {};
  const attempt = <T>(p: Promise<T>, map?: (x: T) => unknown) =>
    p.then(
      (x) => (map ? map(x) : 'ok'),
      (e) => errInfo(e),
    );
  const before = (await c.cluster.memberList({})).members.length;
  const peer = `http://127.0.0.1:${await freePort()}`;
  const other = `http://127.0.0.1:${await freePort()}`;
  const urls = (m: J) =>
    m
      ? {
          ...norm(m, 0),
          peerURLs: m.peerURLs.map((u: string) => u.replace(peer, '<peer>').replace(other, '<other>')),
        }
      : m;
  // A learner (a voter that never starts would cost the single etcd member its quorum).
  const added = await c.cluster.memberAdd({ peerURLs: [peer], isLearner: true });
  const id = added.member.ID;
  const learner = (m: J) => urls(m.members.find((x: J) => x.ID === id));
  r.added = { member: urls(added.member), count: added.members.length - before, listed: learner(added) };
  r.addSamePeer = await attempt(fresh().memberAdd({ peerURLs: [peer], isLearner: true }));
  r.promote = await attempt(fresh().memberPromote({ ID: id }));
  r.removeUnknown = await attempt(fresh().memberRemove({ ID: '12345' }));
  r.updateUnknown = await attempt(fresh().memberUpdate({ ID: '12345', peerURLs: ['http://127.0.0.1:1'] }));
  r.promoteUnknown = await attempt(fresh().memberPromote({ ID: '12345' }));
  r.update = await attempt(fresh().memberUpdate({ ID: id, peerURLs: [other] }), (x) => learner(x));
  r.listed = learner(await c.cluster.memberList({}));
  r.remove = await attempt(fresh().memberRemove({ ID: id }), (x) => x.members.length - before);
  r.removeAgain = await attempt(fresh().memberRemove({ ID: id }));
  r.after = (await c.cluster.memberList({})).members.length - before;
  return r;
}

async function authScenario(s: Server): Promise<J> {
  const c = s.client;
  const r: Record<string, unknown> = {};
  const attempt = <T>(p: Promise<T>, map?: (x: T) => unknown) =>
    p.then(
      (x) => (map ? map(x) : 'ok'),
      (e) => errInfo(e),
    );
  r.enableWithoutRoot = await attempt(c.auth.authEnable());
  await c.user('root').create('rootpw');
  r.enableWithoutRootRole = await attempt(c.auth.authEnable());
  await c.user('root').addRole('root');
  r.rootRolePermissions = await attempt(c.role('root').permissions(), (x) =>
    x.map((p) => ({
      permission: p.permission,
      start: p.range.start.toString('hex'),
      end: p.range.end.toString('hex'),
    })),
  );
  r.unknownUserRoles = await attempt(c.user('nope').roles());
  r.unknownRolePermissions = await attempt(c.role('nope').permissions());
  r.grantToUnknownRole = await attempt(c.role('nope').grant({ permission: 'Read', key: 'x' }));
  await c.role('temp').create();
  await c.user('carol').create('carolpw');
  await c.user('carol').addRole('temp');
  await c.role('temp').delete();
  r.rolesAfterRoleDeleted = (await c.user('carol').roles()).map((x) => x.name);
  await c.user('carol').delete();
  const reader = await c.role('reader').create();
  await reader.grant({ permission: 'Read', range: c.range({ prefix: 'auth/pub/' }) });
  await reader.grant({ permission: 'Readwrite', key: 'auth/rw' });
  const alice = await c.user('alice').create('alicepw');
  await alice.addRole('reader');
  await c.user('bob').create('bobpw');
  r.roles = (await c.getRoles()).map((x) => x.name).sort();
  r.users = (await c.getUsers()).map((x) => x.name).sort();
  r.alicesRoles = (await alice.roles()).map((x) => x.name);
  r.permissions = (await reader.permissions()).map((x) => ({
    permission: x.permission,
    start: x.range.start.toString(),
    end: x.range.end.toString(),
  }));
  r.createExisting = await attempt(c.user('alice').create('x'));
  r.roleExisting = await attempt(c.role('reader').create());
  r.grantUnknownRole = await attempt(c.user('bob').addRole('nope'));
  await c.put('auth/pub/x').value('public');
  await c.put('auth/priv/y').value('private');
  await c.auth.authEnable();
  const rootC = newClient(s.hosts, { username: 'root', password: 'rootpw' });
  const aliceC = newClient(s.hosts, { username: 'alice', password: 'alicepw' });
  const bobC = newClient(s.hosts, { username: 'bob', password: 'bobpw' });
  const wrongC = newClient(s.hosts, { username: 'alice', password: 'wrong' });
  r.noCredentials = await attempt(c.get('auth/pub/x').string());
  r.rootRead = await attempt(rootC.get('auth/priv/y').string(), (x) => x);
  r.aliceRead = await attempt(aliceC.get('auth/pub/x').string(), (x) => x);
  r.aliceReadAll = await attempt(aliceC.getAll().prefix('auth/pub/').keys(), (x) => x);
  r.aliceReadDenied = await attempt(aliceC.get('auth/priv/y').string());
  r.aliceReadPrefixDenied = await attempt(aliceC.getAll().prefix('auth/').keys());
  r.aliceWriteDenied = await attempt(aliceC.put('auth/pub/x').value('nope').exec());
  r.aliceWriteRw = await attempt(aliceC.put('auth/rw').value('mine').exec());
  r.aliceDeleteDenied = await attempt(aliceC.delete().key('auth/pub/x').exec());
  r.aliceTxnDenied = await attempt(
    aliceC.if('auth/pub/x', 'Value', '==', 'public').then(aliceC.put('auth/priv/y').value('z')).commit(),
  );
  r.aliceUserList = await attempt(aliceC.getUsers());
  r.aliceOwnRoles = await attempt(aliceC.user('alice').roles(), (x) => x.map((y) => y.name));
  r.aliceOwnRolePermissions = await attempt(aliceC.role('reader').permissions(), (x) => x.length);
  r.aliceOtherUser = await attempt(aliceC.user('bob').roles());
  r.aliceDisable = await attempt(aliceC.auth.authDisable());
  r.enableAgain = await attempt(rootC.auth.authEnable());
  r.aliceRoleAdd = await attempt(aliceC.role('sneaky').create());
  r.aliceLeaseGrant = await attempt(aliceC.lease(10, { autoKeepAlive: false }).grant(), () => 'granted');
  r.aliceStatus = await attempt(aliceC.maintenance.status(), (x) => x.version);
  r.aliceWatchDenied = await attempt(
    new Promise<string>((resolve, reject) => {
      const w = aliceC.watch().key('auth/priv/y').watcher();
      w.on('connected', () => resolve('connected'));
      w.on('error', reject);
    }),
  );
  r.aliceCompact = await attempt(
    kvClient(aliceC).compact({ revision: String(await currentRevision(rootC)) }),
  );
  // A lease holding a key outside alice's permissions: she may neither revoke it nor attach keys to it.
  const rootLease = rootC.lease(30, { autoKeepAlive: false });
  await rootLease.put('auth/priv/leased').value('x');
  const rootLeaseId = await rootLease.grant();
  r.aliceRevokeForeignLease = await attempt(leaseClient(aliceC).leaseRevoke({ ID: rootLeaseId }), () => 'ok');
  r.alicePutOnForeignLease = await attempt(aliceC.put('auth/rw').value('y').lease(rootLeaseId).exec());
  r.aliceLeaseTimeToLive = await attempt(
    leaseClient(aliceC).leaseTimeToLive({ ID: rootLeaseId }),
    (x) => x.grantedTTL,
  );
  await rootLease.revoke();
  r.bobRead = await attempt(bobC.get('auth/pub/x').string());
  await rootC.role('reader').addUser('bob');
  r.bobReadAsReader = await attempt(bobC.get('auth/pub/x').string(), (x) => x);
  await rootC.role('reader').removeUser('bob');
  r.bobReadRemoved = await attempt(bobC.get('auth/pub/x').string());
  r.wrongPassword = await attempt(wrongC.get('auth/pub/x').string());
  // Revoking a permission takes effect for the very next request.
  await rootC.role('reader').revoke({ permission: 'Read', range: rootC.range({ prefix: 'auth/pub/' }) });
  r.aliceReadAfterRevoke = await attempt(aliceC.get('auth/pub/x').string());
  r.permissionsAfterRevoke = (await rootC.role('reader').permissions()).length;
  r.revokeAgain = await attempt(
    rootC.role('reader').revoke({ permission: 'Read', range: rootC.range({ prefix: 'auth/pub/' }) }),
  );
  await rootC.user('alice').removeRole('reader');
  r.aliceRolesAfter = (await rootC.user('alice').roles()).map((x) => x.name);
  await rootC.user('alice').setPassword('newpw');
  const aliceNew = newClient(s.hosts, { username: 'alice', password: 'newpw' });
  r.aliceNewPassword = await attempt(aliceNew.get('auth/rw').string());
  await rootC.user('alice').delete();
  await rootC.user('bob').delete();
  await rootC.role('reader').delete();
  r.deleteMissing = await attempt(rootC.user('alice').delete());
  r.usersAfter = (await rootC.getUsers()).map((x) => x.name).sort();
  r.rolesAfter = (await rootC.getRoles()).map((x) => x.name).sort();
  r.disableAsRoot = await attempt(rootC.auth.authDisable());
  r.readAfterDisable = await attempt(c.get('auth/priv/y').string(), (x) => x);
  await c.user('root').delete();
  await c.delete().prefix('auth/');
  return r;
}

// ---------------------------------------------------------------------------------------------------------------

describe('etcd3 client: edgecd (3 members) vs etcd 3.4.23', () => {
  const cases: [string, (s: Server) => Promise<J>][] = [
    ['KV: put/get/getAll, ranges, sorting, revisions, delete', kvScenario],
    ['KV: if(...) transactions', txnScenario],
    ['namespace()', namespaceScenario],
    ['leases: grant, keepaliveOnce, TTL, revoke, expiry', leaseScenario],
    ['leases: autoKeepAlive and loss when revoked elsewhere', keepaliveScenario],
    ['watch: prefix/key, prevKV, filters, history, cancel, compaction', watchScenario],
    ['locks', lockScenario],
    ['elections', electionScenario],
    ['STM under contention', stmScenario],
    ['maintenance and cluster', maintenanceScenario],
    ['cluster membership: learner add/update/promote/remove', membershipScenario],
    ['auth manager and a user denied outside its permissions', authScenario],
  ];
  for (const [title, scenario] of cases) {
    it(title, async () => {
      const r = await both(scenario);
      if (process.env.ETCD3_DUMP) console.log(title, JSON.stringify(r.etcd, null, 1));
      if (scenario === maintenanceScenario) {
        // AuthStatus is etcd 3.5's; edgecd serves it (adapters/runtime/node/grpc/auth.ts), etcd 3.4 does not.
        expect(r.etcd.authStatus).toEqual({
          error: 'GRPCNotImplementedError',
          message: '12 UNIMPLEMENTED: unknown method AuthStatus for service etcdserverpb.Auth',
        });
        expect(r.edgecd.authStatus).toEqual({ enabled: false });
        delete r.etcd.authStatus;
        delete r.edgecd.authStatus;
      }
      if (scenario === membershipScenario) {
        // etcd 3.4.23's MemberUpdate rebuilds the member's raft attributes from the request, so a learner comes
        // back as a voter in the member list (raft still has it as a learner). edgecd keeps the flag (README).
        for (const k of ['update', 'listed'] as const) {
          expect(r.etcd[k].isLearner).toBe(false);
          expect(r.edgecd[k].isLearner).toBe(true);
          r.etcd[k].isLearner = true;
        }
        // etcd derives a new member's ID from its peer URLs and the current second, so re-adding the same URLs
        // within that second is `member ID already exist`, later `Peer URLs already exists` (edgecd: always the
        // latter; its IDs are random). Same class and code either way.
        const duplicate = [
          '9 FAILED_PRECONDITION: etcdserver: member ID already exist',
          '9 FAILED_PRECONDITION: etcdserver: Peer URLs already exists',
        ];
        expect(duplicate).toContain(r.etcd.addSamePeer.message);
        expect(r.edgecd.addSamePeer.message).toBe(duplicate[1]);
        r.etcd.addSamePeer.message = duplicate[1];
      }
      if (scenario === authScenario) {
        // Documented deviation (docs/security.md): with auth on, Compaction is root-only in edgecd; etcd 3.4 lets
        // any authenticated user compact everyone's history away.
        expect(r.etcd.aliceCompact).toBe('ok');
        expect(r.edgecd.aliceCompact).toEqual({
          error: 'EtcdPermissionDeniedError',
          message: '7 PERMISSION_DENIED: etcdserver: permission denied',
        });
        delete r.etcd.aliceCompact;
        delete r.edgecd.aliceCompact;
      }
      expect(r.edgecd).toEqual(r.etcd);
    });
  }
});

// ---------------------------------------------------------------------------------------------------------------
// Failover: several members needed, so edgecd only; the client-visible guarantees are asserted.

/** The member whose client port a client's watch stream runs on (the pool keeps one Watch service per host). */
function watchMember(c: Etcd3): string {
  const hosts = poolOf(c).hosts as { host: string; cachedServices: Record<string, unknown> }[];
  const host = hosts.find((h) => h.cachedServices.Watch)?.host;
  const m = cluster!.members.find((x) => `127.0.0.1:${x.clientPort}` === host);
  if (!m) throw new Error(`no member serves the watch (${host})`);
  return m.name;
}

/**
 * Puts until it is acknowledged (the client's own retries plus ours across an election); false when out of time.
 * Each attempt has a 2 s deadline: a put a follower forwarded to a leader that just died is lost and would
 * otherwise wait out the server's request timeout (etcd's too). A timed-out attempt may still have applied, so
 * a value can be written twice; the assertions allow for that. Returns the put's revision.
 */
async function putAcked(c: Etcd3, key: string, value: string, until: number): Promise<number | undefined> {
  while (Date.now() < until) {
    try {
      const r = await c
        .put(key)
        .value(value)
        .options({ deadline: Date.now() + 2000 });
      return Number(r.header.revision);
    } catch {
      await sleep(50);
    }
  }
  return undefined;
}

describe('etcd3 client failover against edgecd (3 members, kill -9)', () => {
  it('MoveLeader sent to a follower answers not leader, as etcd', async () => {
    const leader = await cluster!.leaderName();
    const follower = cluster!.members.find((m) => m.name !== leader)!.name;
    const fc = newClient([cluster!.endpoint(follower)]);
    const lc = newClient([cluster!.endpoint(leader)]);
    const leaderId = (await lc.maintenance.status()).header.member_id;
    const err = await fc.maintenance.moveLeader({ targetID: leaderId }).then(
      () => 'ok',
      (e) => errInfo(e),
    );
    expect(err).toEqual({
      error: 'GRPCFailedPreconditionError',
      message: '9 FAILED_PRECONDITION: etcdserver: not leader',
    });
  });

  it('a watch resumes on another member when the one serving it is killed, missing no event', async () => {
    // The hard case: the member serving the watch is also the leader (the client picks a host at random, so
    // clients are made until one's watch lands there).
    const leader = await cluster!.leaderName();
    let c = newClient(edgeServer.hosts);
    let w = await c.watch().prefix('fo/w/').create();
    for (let i = 0; i < 20 && watchMember(c) !== leader; i++) {
      await w.cancel();
      c.close();
      c = newClient(edgeServer.hosts);
      w = await c.watch().prefix('fo/w/').create();
    }
    const seen: string[] = [];
    let disconnects = 0;
    w.on('put', (kv) => seen.push(`${kv.mod_revision}:${kv.value.toString()}`));
    w.on('disconnected', () => disconnects++);
    const victim = watchMember(c);
    const writer = newClient(
      cluster!.members.filter((m) => m.name !== victim).map((m) => cluster!.endpoint(m.name)),
    );
    const until = Date.now() + 30_000;
    const firstRev = await putAcked(writer, 'fo/w/0', '0', until);
    expect(firstRev).toBeDefined();
    for (let i = 1; i < 20; i++)
      expect(await putAcked(writer, `fo/w/${i % 5}`, String(i), until)).toBeDefined();
    await waitFor(() => seen.length >= 20, 5000, 'events before the kill');
    cluster!.kill9(victim);
    let lastRev = 0;
    for (let i = 20; i < 60; i++) {
      lastRev = (await putAcked(writer, `fo/w/${i % 5}`, String(i), until)) ?? Number.NaN;
      expect(lastRev).not.toBeNaN();
      if (i === 30) await sleep(300);
    }
    const lastSeen = () => Number(seen[seen.length - 1]?.split(':')[0]);
    await waitFor(
      () => lastSeen() >= lastRev,
      15_000,
      'events after the kill',
      () => ({ seen, disconnects }),
    );
    expect(disconnects).toBeGreaterThanOrEqual(1);
    expect(watchMember(c)).not.toBe(victim);
    // Exactly the store's history, each event once and in order: the client resumed from the revision after the
    // last one it saw. And every acknowledged value is in it.
    const history: string[] = [];
    const wh = await writer.watch().prefix('fo/w/').startRevision(String(firstRev)).create();
    wh.on('put', (kv) => history.push(`${kv.mod_revision}:${kv.value.toString()}`));
    await waitFor(() => history.length >= seen.length, 5000, 'history');
    await wh.cancel();
    expect(seen).toEqual(history);
    const values = new Set(seen.map((e) => Number(e.split(':')[1])));
    expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    await w.cancel();
    await cluster!.restart(victim);
    await cluster!.waitHealthy();
  });

  it('kill -9 of the leader mid-workload: operations continue and no acknowledged put is lost', async () => {
    const c = newClient(edgeServer.hosts);
    const leader = await cluster!.leaderName();
    const acked = new Map<string, string>();
    let ackedAfterKill = 0;
    let killed = false;
    let stop = false;
    const until = Date.now() + 30_000;
    const worker = async (id: number) => {
      for (let i = 0; !stop; i++) {
        const key = `fo/p/${id}/${i}`;
        const value = `v${i}`;
        if ((await putAcked(c, key, value, until)) === undefined) return;
        acked.set(key, value);
        if (killed) ackedAfterKill++;
      }
    };
    // A kept-alive lease rides through the failover: never reported lost, its key stays.
    const lease = c.lease(5);
    let leaseLost: unknown;
    let keepalivesAfterKill = 0;
    lease.on('lost', (e) => {
      leaseLost = e;
    });
    lease.on('keepaliveSucceeded', () => {
      if (killed) keepalivesAfterKill++;
    });
    await lease.put('fo/lease').value('held');
    const workers = [0, 1, 2].map(worker);
    await waitFor(() => acked.size >= 30, 10_000, 'puts before the kill');
    cluster!.kill9(leader);
    killed = true;
    await waitFor(
      () => ackedAfterKill >= 60,
      20_000,
      'puts after the kill',
      () => ({ ackedAfterKill }),
    );
    await waitFor(() => keepalivesAfterKill >= 2, 10_000, 'keepalives after the kill');
    expect(leaseLost).toBeUndefined();
    // (The client's per-host circuit breakers may still be open from the election: a fresh client reads.)
    const survivors = cluster!.members.filter((m) => m.name !== leader).map((m) => cluster!.endpoint(m.name));
    const reader = newClient(survivors);
    expect(await reader.get('fo/lease').string()).toBe('held');
    lease.release();
    stop = true;
    await Promise.all(workers);
    // A survivor's linearizable read sees every acknowledged put.
    const stored = await reader.getAll().prefix('fo/p/').strings();
    const lost = [...acked].filter(([k, v]) => stored[k] !== v);
    expect(lost).toEqual([]);
    expect(await cluster!.leaderName()).not.toBe(leader);
    await cluster!.restart(leader);
    await cluster!.waitHealthy();
    // The restarted member catches up: a serializable read there converges to the same keys.
    const back = newClient([cluster!.endpoint(leader)]);
    await waitFor(
      async () =>
        (await back
          .getAll()
          .prefix('fo/p/')
          .serializable(true)
          .count()
          .catch(() => -1)) === Object.keys(stored).length,
      10_000,
      'restarted member to catch up',
    );
  });
});
