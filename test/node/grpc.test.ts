// The client port end to end: a 3-member in-process cluster, one member served by startClientServer on a real
// port, driven by the real etcdctl 3.4 binary, the `etcd3` npm client, a raw grpc-js client and plain HTTP/1.1.
// etcdctl runs as a child process (async spawn: the server lives in this process) with a bounded wait.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { PROTO_DIR } from '../../adapters/runtime/node/grpc/proto.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

const hasEtcdctl = spawnSync('etcdctl', ['version'], {
  encoding: 'utf8',
  env: { ...process.env, ETCDCTL_API: '3' },
}).stdout?.includes('etcdctl version: 3.4');

let nodes: EdgeNode[] = [];
let server: ClientServer;
let port: number;
const text = new TextEncoder();

async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await new Promise((r) => probe.once('listening', r));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

async function until(
  check: () => boolean | Promise<boolean>,
  ms = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  port = await freePort();
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
  nodes = await Promise.all(
    members.map((m) =>
      createNode({
        id: m.id,
        name: m.name,
        clusterId: 42n,
        members,
        clientURLs: m.id === 1n ? [`http://127.0.0.1:${port}`] : [],
        storage: new MemoryStorage(),
        transport: network.transport(m.id),
        clock,
        random: cryptoRandom,
        tickMs: 10,
        electionTimeoutMs: 100,
      }),
    ),
  );
  server = await startClientServer({ node: nodes[0], host: '127.0.0.1', port });
  await until(() => nodes[0].nodeStatus().leader !== 0n, 10_000, 'a leader');
  // Every member has published its name (member list shows them started).
  await until(async () => (await nodes[0].memberList()).members.every((m) => m.name !== ''), 10_000, 'names');
}, 30_000);

afterAll(async () => {
  await server?.close();
  await Promise.all(nodes.map((n) => n.close()));
});

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs etcdctl against the test member; resolves when it exits (killed after `timeoutMs`). */
function etcdctl(args: readonly string[], input?: string, timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      'etcdctl',
      [`--endpoints=127.0.0.1:${port}`, '--dial-timeout=3s', '--command-timeout=5s', ...args],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input ?? '');
  });
}

async function ok(args: readonly string[], input?: string): Promise<string> {
  const r = await etcdctl(args, input);
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A long-running etcdctl (watch): collects stdout until stopped by its PID. */
function startEtcdctl(args: readonly string[]): {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
} {
  const child = spawn('etcdctl', [`--endpoints=127.0.0.1:${port}`, '--dial-timeout=3s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const hardStop = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return {
    child,
    output: () => out,
    stop: async () => {
      clearTimeout(hardStop);
      if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      await exited;
    },
  };
}

async function currentRevision(): Promise<number> {
  return (await nodes[0].range({ key: text.encode('\0'), serializable: true, countOnly: true })).header
    .revision;
}

describe.skipIf(!hasEtcdctl)('etcdctl 3.4 against the gRPC port', () => {
  it('put and get, with -w json', async () => {
    expect(await ok(['put', 'foo', 'bar'])).toBe('OK\n');
    expect(await ok(['get', 'foo'])).toBe('foo\nbar\n');
    const json = JSON.parse(await ok(['get', 'foo', '-w', 'json']));
    expect(json.header.cluster_id).toBe(42);
    expect(json.header.member_id).toBe(1);
    expect(json.header.raft_term).toBeGreaterThan(0);
    expect(json.count).toBe(1);
    expect(json.kvs).toHaveLength(1);
    expect(Buffer.from(json.kvs[0].key, 'base64').toString()).toBe('foo');
    expect(Buffer.from(json.kvs[0].value, 'base64').toString()).toBe('bar');
    expect(json.kvs[0].version).toBe(1);
    expect(json.kvs[0].create_revision).toBe(json.kvs[0].mod_revision);
    expect(json.kvs[0].lease).toBeUndefined(); // zero values are omitted
    expect(await ok(['put', '--prev-kv', 'foo', 'baz'])).toBe('OK\nfoo\nbar\n');
    expect(await ok(['get', 'missing-key'])).toBe('');
  }, 30_000);

  it('get with --prefix, --limit, --sort-by/--order, --keys-only, --rev, a range', async () => {
    for (const k of ['a', 'b', 'c']) await ok(['put', `p/${k}`, `v${k}`]);
    const revAfterA = (await nodes[0].range({ key: text.encode('p/a') })).kvs[0].modRevision;
    expect(await ok(['get', '--prefix', 'p/'])).toBe('p/a\nva\np/b\nvb\np/c\nvc\n');
    expect(await ok(['get', '--prefix', 'p/', '--limit=2'])).toBe('p/a\nva\np/b\nvb\n');
    expect(await ok(['get', '--prefix', 'p/', '--sort-by=KEY', '--order=DESCEND'])).toBe(
      'p/c\nvc\np/b\nvb\np/a\nva\n',
    );
    expect(await ok(['get', '--prefix', 'p/', '--keys-only'])).toBe('p/a\n\np/b\n\np/c\n\n');
    expect(await ok(['get', '--prefix', 'p/', `--rev=${revAfterA}`])).toBe('p/a\nva\n');
    const limited = JSON.parse(await ok(['get', '--prefix', 'p/', '--limit=1', '-w', 'json']));
    expect(limited.more).toBe(true);
    expect(limited.count).toBe(3);
    expect(await ok(['get', 'p/a', 'p/c'])).toBe('p/a\nva\np/b\nvb\n'); // [key, range_end)
  }, 30_000);

  it('del and del --prefix print the number deleted', async () => {
    for (const k of ['x', 'y', 'z']) await ok(['put', `d/${k}`, k]);
    expect(await ok(['del', 'd/x'])).toBe('1\n');
    expect(await ok(['del', 'd/x'])).toBe('0\n');
    expect(await ok(['del', '--prefix', 'd/'])).toBe('2\n');
    expect(await ok(['del', '--prev-kv', 'foo'])).toBe('1\nfoo\nbaz\n');
  }, 30_000);

  it('txn, interactive on stdin: success and failure branches', async () => {
    await ok(['put', 't', '1']);
    const yes = await ok(['txn'], 'value("t") = "1"\n\nput t 2\nget t\n\nput t never\n\n');
    expect(yes).toBe('SUCCESS\n\nOK\n\nt\n2\n');
    const no = await ok(['txn'], 'value("t") = "1"\n\nput t never\n\nget t\n\n');
    expect(no).toBe('FAILURE\n\nt\n2\n');
    const mod = (await nodes[0].range({ key: text.encode('t') })).kvs[0].modRevision;
    const cmp = await ok(['txn'], `mod("t") = "${mod}"\nversion("t") > "1"\n\ndel t\n\n\n`);
    expect(cmp).toBe('SUCCESS\n\n1\n');
  }, 30_000);

  it('watch: live events, then kill by PID', async () => {
    const w = startEtcdctl(['watch', '--prefix', 'live/']);
    // The watch starts at "now": keep writing until the first event shows, then write the rest.
    let i = 0;
    await until(
      async () => {
        await ok(['put', 'live/probe', String(i++)]);
        return w.output().includes('PUT\nlive/probe\n');
      },
      15_000,
      'the watch to report',
    );
    await ok(['put', 'live/k', 'v1']);
    await ok(['del', 'live/k']);
    await until(() => w.output().includes('DELETE\nlive/k\n'), 10_000, 'the delete event');
    await w.stop();
    expect(w.output()).toContain('PUT\nlive/k\nv1\nDELETE\nlive/k\n\n');
  }, 40_000);

  it('watch --rev replays history, with --prev-kv', async () => {
    const start = (await currentRevision()) + 1;
    await ok(['put', 'hist/a', '1']);
    await ok(['put', 'hist/a', '2']);
    await ok(['del', 'hist/a']);
    const w = startEtcdctl(['watch', '--prefix', 'hist/', `--rev=${start}`, '--prev-kv']);
    await until(() => w.output().includes('DELETE'), 10_000, 'history');
    await w.stop();
    expect(w.output()).toBe('PUT\nhist/a\n1\nPUT\nhist/a\n1\nhist/a\n2\nDELETE\nhist/a\n2\nhist/a\n\n');
  }, 30_000);

  it('compaction, and the errors of reading or watching below it', async () => {
    await ok(['put', 'c', 'old']);
    const old = await currentRevision();
    await ok(['put', 'c', 'new']);
    expect(await ok(['compaction', String(old)])).toBe(`compacted revision ${old}\n`);
    const r = await etcdctl(['get', 'c', `--rev=${old - 1}`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Error: etcdserver: mvcc: required revision has been compacted\n');
    const again = await etcdctl(['compaction', String(old)]);
    expect(again.stderr).toContain('Error: etcdserver: mvcc: required revision has been compacted');
    const future = await etcdctl(['get', 'c', '--rev=100000']);
    expect(future.stderr).toContain('Error: etcdserver: mvcc: required revision is a future revision');
    expect(await ok(['get', 'c', `--rev=${old}`])).toBe('c\nold\n');
    const w = await etcdctl(['watch', 'c', `--rev=${old - 1}`]);
    expect(w.code).toBe(5); // etcdctl's ExitInterrupted
    expect(w.stdout + w.stderr).toContain(
      'watch was canceled (etcdserver: mvcc: required revision has been compacted)',
    );
  }, 30_000);

  it('lease grant, put --lease, keep-alive --once, timetolive --keys, list, revoke', async () => {
    const granted = await ok(['lease', 'grant', '60']);
    const m = /^lease ([0-9a-f]+) granted with TTL\(60s\)\n$/.exec(granted);
    expect(m).not.toBeNull();
    const id = m![1];
    expect(await ok(['put', 'leased', 'v', `--lease=${id}`])).toBe('OK\n');
    expect(await ok(['lease', 'keep-alive', '--once', id])).toBe(`lease ${id} keepalived with TTL(60)\n`);
    expect(await ok(['lease', 'timetolive', '--keys', id])).toMatch(
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\((5\\d|60)s\\), attached keys\\(\\[leased\\]\\)\n$`,
      ),
    );
    const list = await ok(['lease', 'list']);
    expect(list).toMatch(/^found \d+ leases\n/);
    expect(list.split('\n')).toContain(id);
    expect(await ok(['lease', 'revoke', id])).toBe(`lease ${id} revoked\n`);
    expect(await ok(['get', 'leased'])).toBe('');
    const again = await etcdctl(['lease', 'revoke', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Error: failed to revoke lease (etcdserver: requested lease not found)');
    expect(await ok(['lease', 'timetolive', id])).toBe(`lease ${id} already expired\n`);
    const missing = await etcdctl(['put', 'k', 'v', '--lease=1234abcd']);
    expect(missing.stderr).toContain('Error: etcdserver: requested lease not found');
  }, 30_000);

  it('member list, endpoint status, endpoint health, endpoint hashkv, alarm list', async () => {
    expect(await ok(['member', 'list'])).toBe(
      [
        `1, started, n1, mem://n1, http://127.0.0.1:${port}, false`,
        '2, started, n2, mem://n2, , false',
        '3, started, n3, mem://n3, , false',
        '',
      ].join('\n'),
    );
    const members = JSON.parse(await ok(['member', 'list', '-w', 'json']));
    expect(members.members.map((x: { ID: number }) => x.ID)).toEqual([1, 2, 3]);
    expect(members.header.revision).toBeUndefined();
    const status = await ok(['endpoint', 'status']);
    expect(status).toMatch(
      new RegExp(
        `^127\\.0\\.0\\.1:${port}, 1, 3\\.4\\.23, [0-9.]+ [kMG]?B, (true|false), false, \\d+, \\d+, \\d+, \\n$`,
      ),
    );
    const sj = JSON.parse(await ok(['endpoint', 'status', '-w', 'json']));
    expect(sj[0].Status.leader).toBe(Number(nodes[0].nodeStatus().leader));
    expect(sj[0].Status.version).toBe('3.4.23');
    // etcdctl 3.4 prints the health line on stderr.
    const health = await etcdctl(['endpoint', 'health']);
    expect(health.code).toBe(0);
    expect(health.stderr).toMatch(
      new RegExp(`^127\\.0\\.0\\.1:${port} is healthy: successfully committed proposal: took = .+\\n$`),
    );
    expect(await ok(['endpoint', 'hashkv'])).toMatch(new RegExp(`^127\\.0\\.0\\.1:${port}, \\d+\\n$`));
    expect(await ok(['alarm', 'list'])).toBe('');
  }, 30_000);

  it('member add --learner, member update, member remove', async () => {
    const added = await ok(['member', 'add', 'n4', '--peer-urls=http://127.0.0.1:1', '--learner']);
    // etcdctl prints IDs with %16x: shorter IDs are padded with spaces.
    const m = /^Member\s+([0-9a-f]+) added to cluster\s+2a\n/.exec(added);
    expect(m).not.toBeNull();
    expect(added).toContain('ETCD_INITIAL_CLUSTER_STATE="existing"');
    expect(await ok(['member', 'list'])).toContain(`${m![1]}, unstarted, , http://127.0.0.1:1, , true\n`);
    expect(await ok(['member', 'update', m![1], '--peer-urls=http://127.0.0.1:3'])).toMatch(
      new RegExp(`^Member\\s+${m![1]} updated in cluster\\s+2a\n$`),
    );
    expect(await ok(['member', 'list'])).toContain(`${m![1]}, unstarted, , http://127.0.0.1:3, , true\n`);
    expect(await ok(['member', 'remove', m![1]])).toMatch(
      new RegExp(`^Member\\s+${m![1]} removed from cluster\\s+2a\n$`),
    );
    const gone = await etcdctl(['member', 'remove', m![1]]);
    expect(gone.stderr).toContain('Error: etcdserver: member not found');
    const update = await etcdctl(['member', 'update', m![1], '--peer-urls=http://127.0.0.1:2']);
    expect(update.code).toBe(1);
    expect(update.stderr).toContain('Error: etcdserver: member not found');
  }, 30_000);

  it('client-side recipes over KV, leases and watch: lock and put --ignore-value', async () => {
    expect(await ok(['lock', 'mylock', '--', 'echo', 'locked'])).toBe('locked\n');
    const missing = await etcdctl(['put', 'no-such-key', '--ignore-value']);
    expect(missing.stderr).toContain('Error: etcdserver: key not found');
    await ok(['put', 'iv', 'keep']);
    expect(await ok(['put', 'iv', '--ignore-value'])).toBe('OK\n');
    expect(await ok(['get', 'iv'])).toBe('iv\nkeep\n');
  }, 30_000);

  it('the Auth service answers: user list with auth off is empty', async () => {
    const r = await etcdctl(['user', 'list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  }, 30_000);

  it('snapshot save: the stream ends in a sha256 trailer at size % 512 == 32', async () => {
    const file = path.join(os.tmpdir(), `edgecd-grpc-${process.pid}.db`);
    try {
      const r = await etcdctl(['snapshot', 'save', file]);
      expect(r.stdout).toBe(`Snapshot saved at ${file}\n`);
      expect(fs.statSync(file).size % 512).toBe(32);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }, 30_000);
});

describe('the etcd3 npm client', () => {
  let client: Etcd3;
  beforeAll(() => {
    client = new Etcd3({ hosts: `http://127.0.0.1:${port}` });
  });
  afterAll(() => client.close());

  it('put, get, getAll, delete', async () => {
    await client.put('js/a').value('1');
    await client.put('js/b').value('2');
    expect(await client.get('js/a').string()).toBe('1');
    expect(await client.getAll().prefix('js/').strings()).toEqual({ 'js/a': '1', 'js/b': '2' });
    expect(await client.getAll().prefix('js/').count()).toBe(2);
    const del = await client.delete().key('js/a');
    expect(del.deleted).toBe('1');
    expect(await client.get('js/a').string()).toBeNull();
  }, 20_000);

  it('transactions with compares', async () => {
    await client.put('js/t').value('x');
    const r = await client
      .if('js/t', 'Value', '==', 'x')
      .then(client.put('js/t').value('y'))
      .else(client.get('js/t'))
      .commit();
    expect(r.succeeded).toBe(true);
    const r2 = await client.if('js/t', 'Value', '==', 'x').then(client.put('js/t').value('z')).commit();
    expect(r2.succeeded).toBe(false);
    expect(await client.get('js/t').string()).toBe('y');
  }, 20_000);

  it('watch', async () => {
    const watcher = await client.watch().prefix('jsw/').create();
    const seen: string[] = [];
    watcher.on('put', (kv) => seen.push(`put ${kv.key.toString()}=${kv.value.toString()}`));
    watcher.on('delete', (kv) => seen.push(`delete ${kv.key.toString()}`));
    await client.put('jsw/1').value('a');
    await client.delete().key('jsw/1');
    await until(() => seen.length >= 2, 10_000, 'watch events');
    expect(seen).toEqual(['put jsw/1=a', 'delete jsw/1']);
    await watcher.cancel();
  }, 20_000);

  it('leases: grant, attach, keep-alive, revoke', async () => {
    const lease = client.lease(30, { autoKeepAlive: false });
    const id = await lease.grant();
    await lease.put('jsl/k').value('v');
    const ka = await lease.keepaliveOnce();
    expect(ka.TTL).toBe('30');
    expect((await client.get('jsl/k').exec()).kvs[0].lease).toBe(id);
    await lease.revoke();
    expect(await client.get('jsl/k').string()).toBeNull();
  }, 20_000);

  it('maps etcd errors by their text', async () => {
    await expect(client.get('anything').revision(1_000_000).string()).rejects.toThrow(
      'etcdserver: mvcc: required revision is a future revision',
    );
  }, 20_000);
});

describe('the gRPC protocol edges', () => {
  const require = createRequire(import.meta.url);
  // A client built from the etcd3 package's own protos (not the server's vendored copy).
  const protoDir = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto');
  const pkg = protoLoader.loadSync(path.join(protoDir, 'rpc.proto'), {
    keepCase: true,
    longs: String,
    defaults: false,
  });
  const loaded = grpc.loadPackageDefinition(pkg) as unknown as {
    etcdserverpb: Record<string, new (address: string, creds: grpc.ChannelCredentials) => grpc.Client>;
  };
  type Unary = (
    req: object,
    cb: (err: grpc.ServiceError | null, res?: Record<string, unknown>) => void,
  ) => void;

  function call(service: string, method: string, req: object): Promise<Record<string, unknown>> {
    const c = new loaded.etcdserverpb[service](`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      (c as unknown as Record<string, Unary>)[method].call(c, req, (err, res) => {
        c.close();
        if (err) reject(err);
        else resolve(res ?? {});
      });
    });
  }

  it('LeaseKeepAlive: a client that half-closes gets its answers, then the stream ends with status OK', async () => {
    // Python's etcd3 (gRPC C-core) refreshes a lease this way: one request, half-close, wait for the end.
    const granted = await call('Lease', 'LeaseGrant', { TTL: 60 });
    const c = new loaded.etcdserverpb.Lease(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & {
      LeaseKeepAlive(): grpc.ClientDuplexStream<object, Record<string, unknown>>;
    };
    try {
      for (const ids of [[granted.ID], [granted.ID, '12345', granted.ID], []]) {
        const stream = c.LeaseKeepAlive();
        const got: Record<string, unknown>[] = [];
        stream.on('data', (r: Record<string, unknown>) => got.push(r));
        const ended = new Promise<grpc.StatusObject>((resolve, reject) => {
          stream.on('status', resolve);
          stream.on('error', reject);
        });
        for (const ID of ids) stream.write({ ID });
        stream.end();
        const status = await Promise.race([
          ended,
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('stream never ended')), 5000)),
        ]);
        expect(status.code).toBe(grpc.status.OK);
        expect(got.map((r) => [r.ID, r.TTL])).toEqual(
          ids.map((ID) => [ID, ID === '12345' ? undefined : '60']),
        );
      }
    } finally {
      c.close();
    }
  });

  it('grpc.health.v1.Health/Check answers SERVING for the server, NOT_FOUND for an unknown service', async () => {
    const health = protoLoader.loadSync('health.proto', { includeDirs: [PROTO_DIR], defaults: true });
    const pkgDef = grpc.loadPackageDefinition(health) as unknown as {
      grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => grpc.Client } } };
    };
    const c = new pkgDef.grpc.health.v1.Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<{ status: number }>((resolve, reject) =>
        (c as unknown as Record<string, Unary>).Check.call(c, { service }, (err, res) =>
          err ? reject(err) : resolve(res as { status: number }),
        ),
      );
    try {
      expect(await check('')).toEqual({ status: 1 }); // SERVING
      await expect(check('etcdserverpb.KV')).rejects.toMatchObject({ code: 5, details: 'unknown service' });
    } finally {
      c.close();
    }
  });

  it('an unknown method answers UNIMPLEMENTED (12)', async () => {
    const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      c.makeUnaryRequest(
        '/etcdserverpb.KV/NoSuchMethod',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (e) => resolve(e as grpc.ServiceError),
      ),
    );
    c.close();
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('Downgrade (3.5+) answers UNIMPLEMENTED with a reason; Authenticate says auth is off', async () => {
    await expect(call('Maintenance', 'Downgrade', {})).rejects.toMatchObject({
      code: 12,
      details: 'edgecd: Maintenance.Downgrade does not exist in etcd 3.4',
    });
    await expect(call('Auth', 'Authenticate', { name: 'root', password: 'x' })).rejects.toMatchObject({
      code: 9,
      details: 'etcdserver: authentication is not enabled',
    });
  });

  it('wire shapes: zero values omitted, IDs as uint64, enums by number', async () => {
    const put = await call('KV', 'Put', { key: Buffer.from('wire'), value: Buffer.from('v') });
    expect((put.header as Record<string, string>).cluster_id).toBe('42');
    expect(put.prev_kv).toBeUndefined();
    const range = await call('KV', 'Range', {
      key: Buffer.from('wire'),
      range_end: Buffer.from('wirf'),
      sort_order: 'Descend',
      sort_target: 'Mod',
    });
    expect(range.count).toBe('1');
    expect(range.more).toBeUndefined();
    const kv = (range.kvs as Record<string, unknown>[])[0];
    expect(kv.lease).toBeUndefined();
    expect(kv.version).toBe('1');
    const txn = await call('KV', 'Txn', {
      compare: [{ key: Buffer.from('wire'), result: 'NotEqual', target: 'Value', value: Buffer.from('v') }],
      success: [{ request_put: { key: Buffer.from('wire'), value: Buffer.from('no') } }],
      failure: [{ request_range: { key: Buffer.from('wire') } }],
    });
    expect(txn.succeeded).toBeUndefined();
    const inner = (txn.responses as Record<string, Record<string, Record<string, string>>>[])[0]
      .response_range;
    expect(inner.header.cluster_id).toBeUndefined(); // nested headers carry only the revision
    expect(inner.header.revision).toBeDefined();
    const err = await call('KV', 'Put', { key: Buffer.alloc(0), value: Buffer.from('v') }).catch((e) => e);
    expect(err).toMatchObject({ code: 3, details: 'etcdserver: key is not provided' });
  });

  it('a request over max-request-bytes fails with "request is too large"; over +512 KiB gRPC refuses it', async () => {
    const big = Buffer.alloc(1.5 * 1024 * 1024 + 10, 120);
    await expect(call('KV', 'Put', { key: Buffer.from('big'), value: big })).rejects.toMatchObject({
      code: 3,
      details: 'etcdserver: request is too large',
    });
    const huge = Buffer.alloc(2 * 1024 * 1024 + 10, 120);
    await expect(call('KV', 'Put', { key: Buffer.from('big'), value: huge })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: expect.stringContaining('larger than max'),
    });
    // Just under the limit works.
    const fits = Buffer.alloc(1024 * 1024, 120);
    await expect(call('KV', 'Put', { key: Buffer.from('big'), value: fits })).resolves.toBeDefined();
  }, 20_000);

  it('a watch stream: many watchers, cancel, progress', async () => {
    const c = new loaded.etcdserverpb.Watch(
      `127.0.0.1:${port}`,
      grpc.credentials.createInsecure(),
    ) as grpc.Client & {
      Watch(): grpc.ClientDuplexStream<object, Record<string, unknown>>;
    };
    const stream = c.Watch();
    const got: Record<string, unknown>[] = [];
    stream.on('data', (r: Record<string, unknown>) => got.push(r));
    stream.on('error', () => {});
    stream.write({ create_request: { key: Buffer.from('mw/a') } });
    stream.write({ create_request: { key: Buffer.from('mw/b'), watch_id: '7' } });
    await until(() => got.filter((r) => r.created).length === 2, 5000, 'created');
    expect(got.map((r) => r.watch_id)).toEqual([undefined, '7']);
    await call('KV', 'Put', { key: Buffer.from('mw/b'), value: Buffer.from('1') });
    await until(() => got.some((r) => r.events), 5000, 'event');
    expect(got[2].watch_id).toBe('7');
    stream.write({ cancel_request: { watch_id: '7' } });
    await until(() => got.some((r) => r.canceled), 5000, 'canceled');
    stream.write({ progress_request: {} });
    await until(() => got.some((r) => r.watch_id === '-1'), 5000, 'progress');
    stream.cancel();
    c.close();
  }, 20_000);
});

describe('HTTP/1.1 on the same port', () => {
  it('GET /health and /version (no gateway configured)', async () => {
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ health: 'true' });
    const version = await fetch(`http://127.0.0.1:${port}/version`);
    expect(await version.json()).toEqual({ etcdserver: '3.4.23', etcdcluster: '3.4.0' });
    const other = await fetch(`http://127.0.0.1:${port}/v3/kv/range`, { method: 'POST', body: '{}' });
    expect(other.status).toBe(404);
  });

  it('a gateway handler gets Requests with their bodies and may stream its Responses', async () => {
    const gateway = async (req: Request): Promise<Response> => {
      if (new URL(req.url).pathname === '/stream') {
        let n = 0;
        const body = new ReadableStream<Uint8Array>({
          pull: async (controller) => {
            await new Promise((r) => setTimeout(r, 5));
            if (n === 3) controller.close();
            else controller.enqueue(text.encode(`${JSON.stringify({ result: { n: n++ } })}\n`));
          },
        });
        return new Response(body, { headers: { 'content-type': 'application/json' } });
      }
      return Response.json({
        method: req.method,
        body: await req.text(),
        auth: req.headers.get('authorization'),
      });
    };
    const other = await startClientServer({ node: nodes[0], gateway });
    try {
      const r = await fetch(`http://127.0.0.1:${other.port}/v3/kv/put`, {
        method: 'POST',
        body: '{"key":"Zm9v"}',
        headers: { authorization: 'tok' },
      });
      expect(await r.json()).toEqual({ method: 'POST', body: '{"key":"Zm9v"}', auth: 'tok' });
      const s = await fetch(`http://127.0.0.1:${other.port}/stream`, { method: 'POST' });
      expect((await s.text()).trim().split('\n')).toHaveLength(3);
      // gRPC still works on that port.
      const c = new Etcd3({ hosts: `http://127.0.0.1:${other.port}` });
      expect(await c.get('js/b').string()).toBe('2');
      c.close();
    } finally {
      await other.close();
    }
  }, 20_000);

  it("serves edgecd's JSON gateway beside gRPC: a gateway write is read back over gRPC, a watch streams", async () => {
    const both = await startClientServer({ node: nodes[0], gateway: createGateway(nodes[0]) });
    const base = `http://127.0.0.1:${both.port}`;
    const c = new Etcd3({ hosts: base });
    try {
      const put = await fetch(`${base}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({
          key: Buffer.from('gw').toString('base64'),
          value: Buffer.from('json').toString('base64'),
        }),
      });
      expect(put.status).toBe(200);
      expect(await c.get('gw').string()).toBe('json');
      const abort = new AbortController();
      const watch = await fetch(`${base}/v3/watch`, {
        method: 'POST',
        body: JSON.stringify({ create_request: { key: Buffer.from('gw').toString('base64') } }),
        signal: abort.signal,
      });
      const reader = watch.body!.getReader();
      let seen = '';
      const readUntil = async (needle: string) => {
        while (!seen.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}: ${seen}`);
          seen += new TextDecoder().decode(value);
        }
      };
      await readUntil('"created":true');
      await c.put('gw').value('again');
      await readUntil(Buffer.from('again').toString('base64'));
      abort.abort();
      await reader.cancel().catch(() => {});
    } finally {
      c.close();
      await both.close();
    }
  }, 20_000);
});
