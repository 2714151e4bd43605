// etcdctl 3.4's lock and elect (client-side recipes: sessions, leases, revisions) against a real 3-member edgecd
// cluster, and the server-side v3lock / v3election services over the real client port (gRPC and gateway).
import { type ChildProcess, spawn } from 'node:child_process';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PROTO_DIR } from '../../adapters/runtime/node/grpc/proto.ts';
import { etcdctl, sleep, TestCluster } from './cluster-harness.ts';

let c: TestCluster;
const ctl = (args: string[], input?: string) => etcdctl(c.endpoints, args, input);
const started: ChildProcess[] = [];

interface Proc {
  readonly child: ChildProcess;
  out(): string;
  err(): string;
}

/** A long-running etcdctl in its own process group (so a child command dies with it). */
function background(args: string[]): Proc {
  const child = spawn('etcdctl', [`--endpoints=${c.endpoints}`, '--dial-timeout=3s', ...args], {
    env: { ...process.env, ETCDCTL_API: '3' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  started.push(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += String(d);
  });
  child.stderr?.on('data', (d) => {
    err += String(d);
  });
  return { child, out: () => out, err: () => err };
}

function killGroup(p: ChildProcess, signal: NodeJS.Signals): void {
  if (p.pid === undefined || p.exitCode !== null || p.signalCode !== null) return;
  try {
    process.kill(-p.pid, signal);
  } catch {
    // already gone
  }
}

async function waitFor(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

const exited = (p: ChildProcess) =>
  p.exitCode !== null || p.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => p.once('exit', () => r()));

beforeAll(async () => {
  c = await TestCluster.start();
});
afterEach(() => {
  for (const p of started.splice(0)) killGroup(p, 'SIGKILL');
});
afterAll(async () => {
  await c?.close();
});

describe('etcdctl lock', () => {
  it('holds the lock and prints the owner key mylock/<lease hex>; a second locker waits for the release', async () => {
    const first = background(['lock', 'mylock']);
    await waitFor(() => first.out().includes('\n'), 15_000, 'first lock');
    const key = first.out().trim();
    expect(key).toMatch(/^mylock\/[0-9a-f]+$/);
    // The key is in the store, attached to the session lease.
    const got = ctl(['get', key, '-w', 'json']).stdout;
    expect(JSON.parse(got).kvs).toHaveLength(1);
    const leaseId = /"lease":(\d+)/.exec(got)?.[1] ?? '0'; // raw digits: IDs exceed 2^53
    expect(BigInt(leaseId).toString(16)).toBe(key.split('/')[1]);

    const second = background(['lock', 'mylock']);
    await sleep(1500);
    expect(second.out()).toBe('');
    killGroup(first.child, 'SIGTERM'); // etcdctl unlocks on SIGTERM
    await waitFor(() => second.out().includes('\n'), 15_000, 'second lock');
    const key2 = second.out().trim();
    expect(key2).toMatch(/^mylock\/[0-9a-f]+$/);
    expect(key2).not.toBe(key);
    killGroup(second.child, 'SIGTERM');
    await exited(second.child);
  });

  it('a SIGKILLed holder (--ttl 3) loses the lock when its lease expires', async () => {
    const holder = background(['lock', '--ttl', '3', 'mylock2', '--', 'sleep', '100']);
    await waitFor(
      () => ctl(['get', 'mylock2/', '--prefix', '--keys-only']).stdout.trim() !== '',
      15_000,
      'holder key',
    );
    const waiter = background(['lock', 'mylock2']);
    await sleep(500);
    expect(waiter.out()).toBe('');
    const killedAt = Date.now();
    killGroup(holder.child, 'SIGKILL'); // no unlock, no revoke: only the lease TTL frees the lock
    await waitFor(() => waiter.out().includes('\n'), 15_000, 'lock after lease expiry');
    const waited = Date.now() - killedAt;
    expect(waiter.out().trim()).toMatch(/^mylock2\/[0-9a-f]+$/);
    expect(waited).toBeGreaterThan(1500); // not before the lease (TTL 3 s, renewed each second) ran out
    expect(waited).toBeLessThan(12_000);
    killGroup(waiter.child, 'SIGTERM');
    await exited(waiter.child);
  });
});

describe('etcdctl elect', () => {
  it('elect prints the leader key and value; --listen observes the leaders', async () => {
    const listener = background(['elect', '--listen', 'myelection']);
    const p1 = background(['elect', 'myelection', 'p1']);
    await waitFor(() => p1.out().split('\n').length >= 3, 15_000, 'p1 elected');
    const [key, value] = p1.out().split('\n');
    expect(key).toMatch(/^myelection\/[0-9a-f]+$/);
    expect(value).toBe('p1');
    await waitFor(() => listener.out().includes('p1\n'), 15_000, 'listener sees p1');
    expect(listener.out()).toBe(`${key}\np1\n`);

    const p2 = background(['elect', 'myelection', 'p2']);
    await sleep(1000);
    expect(p2.out()).toBe('');
    killGroup(p1.child, 'SIGTERM'); // resigns
    await waitFor(() => p2.out().includes('p2\n'), 15_000, 'p2 elected');
    const key2 = p2.out().split('\n')[0];
    expect(key2).toMatch(/^myelection\/[0-9a-f]+$/);
    await waitFor(() => listener.out().includes('p2\n'), 15_000, 'listener sees p2');
    expect(listener.out()).toBe(`${key}\np1\n${key2}\np2\n`);
    killGroup(p2.child, 'SIGTERM');
    await exited(p2.child);
  });
});

describe('v3lock / v3election services on a real member', () => {
  it('Lock over gRPC on one member, Unlock through the gateway of another', async () => {
    const granted = /lease ([0-9a-f]+) granted/.exec(ctl(['lease', 'grant', '30']).stdout)?.[1] ?? '0';
    const lease = BigInt(`0x${granted}`);
    const pkg = protoLoader.loadSync(['v3lock.proto'], {
      keepCase: true,
      longs: String,
      defaults: false,
      includeDirs: [PROTO_DIR],
    });
    const { v3lockpb } = grpc.loadPackageDefinition(pkg) as unknown as {
      v3lockpb: {
        Lock: new (
          addr: string,
          creds: grpc.ChannelCredentials,
        ) => grpc.Client & {
          Lock(req: object, cb: (e: grpc.ServiceError | null, r: { key: Buffer }) => void): void;
        };
      };
    };
    const client = new v3lockpb.Lock(c.endpoint('m1'), grpc.credentials.createInsecure());
    try {
      const r = await new Promise<{ key: Buffer }>((resolve, reject) =>
        client.Lock({ name: Buffer.from('svc'), lease: String(lease) }, (e, res) =>
          e ? reject(e) : resolve(res),
        ),
      );
      const key = r.key.toString();
      // etcd names the key <prefix>/<lease ID in %x>: no leading zeros, whereas etcdctl's "lease grant" prints
      // the ID zero-padded to 16 digits. Compare numbers, not strings.
      expect(key).toMatch(/^svc\/[0-9a-f]+$/);
      expect(key).toBe(`svc/${lease.toString(16)}`);
      expect(BigInt(`0x${key.slice('svc/'.length)}`)).toBe(lease);
      expect(ctl(['get', key, '--print-value-only']).status).toBe(0);
      const unlock = await fetch(`http://${c.endpoint('m2')}/v3/lock/unlock`, {
        method: 'POST',
        body: JSON.stringify({ key: r.key.toString('base64') }),
      });
      expect(unlock.status).toBe(200);
      expect(ctl(['get', key]).stdout).toBe('');
      const leader = await fetch(`http://${c.endpoint('m3')}/v3/election/leader`, {
        method: 'POST',
        body: JSON.stringify({ name: Buffer.from('nobody').toString('base64') }),
      });
      expect(leader.status).toBe(500);
      expect(await leader.json()).toEqual({
        error: 'election: no leader',
        message: 'election: no leader',
        code: 2,
      });
    } finally {
      client.close();
    }
  });
});
