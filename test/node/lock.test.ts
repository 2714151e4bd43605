// v3lock and v3election on the client port: an in-process 3-member cluster, member 1 served by startClientServer
// (gRPC + JSON gateway on one port), driven by a raw grpc-js client loading the vendored protos and by fetch.

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { PROTO_DIR } from '../../adapters/runtime/node/grpc/proto.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { dec, enc, settledWithin, sleep, startCluster, until } from '../concurrency/cluster.ts';

type Callback = (err: grpc.ServiceError | null, res: Record<string, unknown>) => void;
type UnaryMethod = (req: object, cb: Callback) => grpc.ClientUnaryCall;
interface LockClient extends grpc.Client {
  Lock: UnaryMethod;
  Unlock: UnaryMethod;
}
interface ElectionClient extends grpc.Client {
  Campaign: UnaryMethod;
  Proclaim: UnaryMethod;
  Leader: UnaryMethod;
  Resign: UnaryMethod;
  Observe(req: object): grpc.ClientReadableStream<Record<string, unknown>>;
}

let nodes: EdgeNode[];
let server: ClientServer;
let base: string;
let lockClient: LockClient;
let electionClient: ElectionClient;

beforeAll(async () => {
  nodes = await startCluster();
  server = await startClientServer({ node: nodes[0], gateway: createGateway(nodes[0]) });
  base = `http://127.0.0.1:${server.port}`;
  const pkg = protoLoader.loadSync(['v3lock.proto', 'v3election.proto'], {
    keepCase: true,
    longs: String,
    defaults: false,
    includeDirs: [PROTO_DIR],
  });
  const loaded = grpc.loadPackageDefinition(pkg) as unknown as {
    v3lockpb: { Lock: new (addr: string, creds: grpc.ChannelCredentials) => LockClient };
    v3electionpb: { Election: new (addr: string, creds: grpc.ChannelCredentials) => ElectionClient };
  };
  const addr = `127.0.0.1:${server.port}`;
  lockClient = new loaded.v3lockpb.Lock(addr, grpc.credentials.createInsecure());
  electionClient = new loaded.v3electionpb.Election(addr, grpc.credentials.createInsecure());
}, 30_000);

afterAll(async () => {
  lockClient?.close();
  electionClient?.close();
  await server?.close();
  await Promise.all(nodes.map((n) => n.close()));
});

function call(client: LockClient | ElectionClient, method: string, req: object) {
  let handle: grpc.ClientUnaryCall | undefined;
  const promise = new Promise<Record<string, unknown>>((resolve, reject) => {
    handle = (client as unknown as Record<string, UnaryMethod>)[method].call(client, req, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
  return { promise, cancel: () => handle?.cancel() };
}
const rpc = (client: LockClient | ElectionClient, method: string, req: object) =>
  call(client, method, req).promise;

const grant = async (ttl = 30) => (await nodes[0].leaseGrant({ TTL: ttl })).ID;
const exists = async (key: string) => (await nodes[1].range({ key: enc(key) })).kvs.length === 1;

async function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const r = await fetch(`${base}${path}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');
const unb64 = (s: unknown) => Buffer.from(String(s), 'base64').toString();

describe('gRPC v3lockpb.Lock', () => {
  it('Lock returns the owner key name/<lease hex> with a header; Unlock deletes it', async () => {
    const lease = await grant();
    const r = await rpc(lockClient, 'Lock', { name: Buffer.from('g-lock'), lease: String(lease) });
    expect(Buffer.from(r.key as Buffer).toString()).toBe(`g-lock/${lease.toString(16)}`);
    const header = r.header as Record<string, string>;
    expect(header.cluster_id).toBe('42');
    expect(Number(header.revision)).toBeGreaterThan(0);
    expect(await exists(`g-lock/${lease.toString(16)}`)).toBe(true);
    const u = await rpc(lockClient, 'Unlock', { key: r.key });
    expect(Number((u.header as Record<string, string>).revision)).toBeGreaterThan(Number(header.revision));
    expect(await exists(`g-lock/${lease.toString(16)}`)).toBe(false);
  });

  it('a second Lock blocks until Unlock; a cancelled waiting Lock deletes its key', async () => {
    const [a, b, c] = [await grant(), await grant(), await grant()];
    const first = await rpc(lockClient, 'Lock', { name: Buffer.from('g-wait'), lease: String(a) });
    const cancelled = call(lockClient, 'Lock', { name: Buffer.from('g-wait'), lease: String(b) });
    cancelled.promise.catch(() => {});
    await until(() => exists(`g-wait/${b.toString(16)}`), 5000, 'waiter key');
    const third = rpc(lockClient, 'Lock', { name: Buffer.from('g-wait'), lease: String(c) });
    expect(await settledWithin(third, 200)).toBe('pending');
    cancelled.cancel();
    await expect(cancelled.promise).rejects.toMatchObject({ code: grpc.status.CANCELLED });
    await until(async () => !(await exists(`g-wait/${b.toString(16)}`)), 5000, 'waiter key deleted');
    await rpc(lockClient, 'Unlock', { key: first.key });
    const got = await third;
    expect(Buffer.from(got.key as Buffer).toString()).toBe(`g-wait/${c.toString(16)}`);
    await rpc(lockClient, 'Unlock', { key: got.key });
  });

  it('an unknown lease: `etcdserver: requested lease not found` with code 2, as etcd lock server answers', async () => {
    await expect(rpc(lockClient, 'Lock', { name: Buffer.from('g-x'), lease: '12345' })).rejects.toMatchObject(
      {
        code: grpc.status.UNKNOWN,
        details: 'etcdserver: requested lease not found',
      },
    );
  });
});

describe('gRPC v3electionpb.Election', () => {
  it('Leader on an empty election: code 2 `election: no leader`', async () => {
    await expect(rpc(electionClient, 'Leader', { name: Buffer.from('g-empty') })).rejects.toMatchObject({
      code: grpc.status.UNKNOWN,
      details: 'election: no leader',
    });
  });

  it('Campaign, Leader, Observe (stream), Proclaim, not-leader Proclaim, Resign', async () => {
    const [a, b] = [await grant(), await grant()];
    const observed: string[] = [];
    const stream = electionClient.Observe({ name: Buffer.from('g-elect') });
    stream.on('data', (r: { kv: { value?: Buffer } }) =>
      observed.push(Buffer.from(r.kv.value ?? []).toString()),
    );
    stream.on('error', () => {});

    const c1 = await rpc(electionClient, 'Campaign', {
      name: Buffer.from('g-elect'),
      lease: String(a),
      value: Buffer.from('p1'),
    });
    const leader = c1.leader as { name: Buffer; key: Buffer; rev: string; lease: string };
    expect(Buffer.from(leader.name).toString()).toBe('g-elect');
    expect(Buffer.from(leader.key).toString()).toBe(`g-elect/${a.toString(16)}`);
    expect(leader.lease).toBe(String(a));
    expect(leader.rev).toBe((c1.header as Record<string, string>).revision);

    const l = await rpc(electionClient, 'Leader', { name: Buffer.from('g-elect') });
    expect(Buffer.from((l.kv as { value: Buffer }).value).toString()).toBe('p1');

    const second = rpc(electionClient, 'Campaign', {
      name: Buffer.from('g-elect'),
      lease: String(b),
      value: Buffer.from('p2'),
    });
    expect(await settledWithin(second, 200)).toBe('pending');
    await rpc(electionClient, 'Proclaim', { leader, value: Buffer.from('p1b') });
    await expect(
      rpc(electionClient, 'Proclaim', {
        leader: { ...leader, key: Buffer.from(`g-elect/${b.toString(16)}`), lease: String(b) },
        value: Buffer.from('nope'),
      }),
    ).rejects.toMatchObject({ code: grpc.status.UNKNOWN, details: 'election: not leader' });
    await expect(rpc(electionClient, 'Proclaim', { value: Buffer.from('x') })).rejects.toMatchObject({
      code: grpc.status.UNKNOWN,
      details: '"leader" field must be provided',
    });

    const resigned = await rpc(electionClient, 'Resign', { leader });
    expect(resigned.header).toBeDefined();
    const c2 = await second;
    expect(Buffer.from((c2.leader as { key: Buffer }).key).toString()).toBe(`g-elect/${b.toString(16)}`);
    await until(() => observed.length >= 3, 5000, 'observations');
    expect(observed).toEqual(['p1', 'p1b', 'p2']);
    stream.cancel();
    await rpc(electionClient, 'Resign', { leader: c2.leader });
  });
});

describe('gateway /v3/lock and /v3/election', () => {
  it('/v3/lock/lock and /v3/lock/unlock', async () => {
    const lease = await grant();
    const r = await post('/v3/lock/lock', { name: b64('h-lock'), lease: String(lease) });
    expect(r.status).toBe(200);
    expect(unb64(r.json.key)).toBe(`h-lock/${lease.toString(16)}`);
    expect((r.json.header as Record<string, string>).cluster_id).toBe('42');
    const u = await post('/v3/lock/unlock', { key: r.json.key });
    expect(u.status).toBe(200);
    expect(Object.keys(u.json)).toEqual(['header']);
    expect(await exists(`h-lock/${lease.toString(16)}`)).toBe(false);
  });

  it('a waiting /v3/lock/lock whose client disconnects leaves no key behind', async () => {
    const [a, b] = [await grant(), await grant()];
    const first = await post('/v3/lock/lock', { name: b64('h-wait'), lease: String(a) });
    const abort = new AbortController();
    const waiting = fetch(`${base}/v3/lock/lock`, {
      method: 'POST',
      body: JSON.stringify({ name: b64('h-wait'), lease: String(b) }),
      signal: abort.signal,
    });
    waiting.catch(() => {});
    await until(() => exists(`h-wait/${b.toString(16)}`), 5000, 'waiter key');
    abort.abort();
    await until(async () => !(await exists(`h-wait/${b.toString(16)}`)), 5000, 'waiter key deleted');
    await post('/v3/lock/unlock', { key: first.json.key });
  });

  it('/v3/election/*: campaign, leader, proclaim, observe (NDJSON), resign, and the error bodies', async () => {
    const none = await post('/v3/election/leader', { name: b64('h-elect') });
    expect(none.status).toBe(500);
    expect(none.json).toEqual({ error: 'election: no leader', message: 'election: no leader', code: 2 });

    // As etcd's gateway (it waits for the gRPC stream's headers), the reply starts with the first leader.
    const abort = new AbortController();
    const responded = fetch(`${base}/v3/election/observe`, {
      method: 'POST',
      body: JSON.stringify({ name: b64('h-elect') }),
      signal: abort.signal,
    });
    const lines: Record<string, unknown>[] = [];
    const reading = (async () => {
      const obs = await responded;
      expect(obs.status).toBe(200);
      const reader = obs.body!.getReader();
      let buf = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buf += Buffer.from(value).toString();
          let nl = buf.indexOf('\n');
          while (nl >= 0) {
            lines.push(JSON.parse(buf.slice(0, nl)));
            buf = buf.slice(nl + 1);
            nl = buf.indexOf('\n');
          }
        }
      } catch {
        // aborted
      }
    })();
    await sleep(50);

    const lease = await grant();
    const c = await post('/v3/election/campaign', {
      name: b64('h-elect'),
      lease: String(lease),
      value: b64('v1'),
    });
    expect(c.status).toBe(200);
    const leader = c.json.leader as Record<string, string>;
    expect(unb64(leader.name)).toBe('h-elect');
    expect(unb64(leader.key)).toBe(`h-elect/${lease.toString(16)}`);
    expect(leader.lease).toBe(String(lease));
    expect(leader.rev).toBe((c.json.header as Record<string, string>).revision);

    const l = await post('/v3/election/leader', { name: b64('h-elect') });
    expect(unb64((l.json.kv as Record<string, string>).value)).toBe('v1');

    expect((await post('/v3/election/proclaim', { leader, value: b64('v2') })).status).toBe(200);
    const notLeader = await post('/v3/election/proclaim', {
      leader: { ...leader, rev: '1' },
      value: b64('x'),
    });
    expect(notLeader.status).toBe(500);
    expect(notLeader.json).toEqual({
      error: 'election: not leader',
      message: 'election: not leader',
      code: 2,
    });

    await until(() => lines.length >= 2, 5000, 'observe lines');
    const values = lines.map((x) =>
      unb64(((x.result as Record<string, unknown>).kv as Record<string, string>).value),
    );
    expect(values).toEqual(['v1', 'v2']);
    expect((lines[0].result as Record<string, unknown>).header).toBeDefined();

    expect((await post('/v3/election/resign', { leader })).status).toBe(200);
    expect((await post('/v3/election/leader', { name: b64('h-elect') })).status).toBe(500);
    abort.abort();
    await reading;
    await sleep(10);
  });
});

describe('etcdctl compatibility of the keys', () => {
  it('keys made through the Lock RPC look like etcdctl lock owner keys', async () => {
    const lease = await grant();
    const r = await rpc(lockClient, 'Lock', { name: Buffer.from('mylock'), lease: String(lease) });
    expect(dec(new Uint8Array(r.key as Buffer))).toMatch(/^mylock\/[0-9a-f]+$/);
    await rpc(lockClient, 'Unlock', { key: r.key });
  });
});
