// ETCD-NOTES §6b: streams opened with `hasleader: true` metadata (etcdctl watch, clientv3's WithRequireLeader)
// end with `etcdserver: no leader` when the member loses its leader, instead of stalling; /health turns 503.

import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { loadServices } from '../../adapters/runtime/node/grpc/proto.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';

const hasEtcdctl = spawnSync('etcdctl', ['version'], {
  encoding: 'utf8',
  env: { ...process.env, ETCDCTL_API: '3' },
}).stdout?.includes('etcdctl version: 3.4');

let nodes: EdgeNode[] = [];
let server: ClientServer;

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [1n, 2n, 3n].map((id) => ({ id, name: `n${id}`, peerURLs: [`mem://n${id}`] }));
  nodes = await Promise.all(
    members.map((m) =>
      createNode({
        id: m.id,
        name: m.name,
        clusterId: 7n,
        members,
        storage: new MemoryStorage(),
        transport: network.transport(m.id),
        clock,
        random: cryptoRandom,
        tickMs: 10,
        electionTimeoutMs: 100,
      }),
    ),
  );
  server = await startClientServer({ node: nodes[0], noLeaderTimeoutMs: 300 });
  await until(() => nodes.every((n) => n.nodeStatus().leader !== 0n), 10_000, 'a leader');
}, 30_000);

afterAll(async () => {
  await server?.close();
  await Promise.all(nodes.map((n) => n.close()));
});

it('ends hasleader watch streams and unary calls with "etcdserver: no leader" when the leader is gone', async () => {
  // Member 1 serves the client port; it must be a follower so that losing its peers leaves it leaderless.
  if (nodes[0].nodeStatus().role === 'leader') await nodes[0].moveLeader({ targetID: 2n });
  await until(() => ![0n, 1n].includes(nodes[0].nodeStatus().leader), 10_000, 'another leader');

  const Watch = grpc.makeGenericClientConstructor(loadServices()['etcdserverpb.Watch'], 'Watch');
  const client = new Watch(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Watch(metadata: grpc.Metadata): grpc.ClientDuplexStream<object, Record<string, unknown>>;
  };
  const md = new grpc.Metadata();
  md.set('hasleader', 'true');
  const stream = client.Watch(md);
  const created = new Promise<void>((resolve) => stream.on('data', (r) => r.created && resolve()));
  const ended = new Promise<grpc.ServiceError>((resolve) =>
    stream.on('error', (e) => resolve(e as grpc.ServiceError)),
  );
  stream.write({ create_request: { key: Buffer.from('k') } });
  await created;

  // A stream without the metadata stays open.
  const patient = client.Watch(new grpc.Metadata());
  let patientFailed = false;
  patient.on('error', () => (patientFailed = true));

  const etcdctl = hasEtcdctl
    ? spawn('etcdctl', [`--endpoints=127.0.0.1:${server.port}`, 'watch', 'k'], {
        env: { ...process.env, ETCDCTL_API: '3' },
        stdio: ['ignore', 'pipe', 'pipe'],
      })
    : undefined;
  let ctlOutput = '';
  etcdctl?.stdout?.on('data', (d: Buffer) => (ctlOutput += d.toString()));
  etcdctl?.stderr?.on('data', (d: Buffer) => (ctlOutput += d.toString()));
  const ctlExit = etcdctl
    ? new Promise<number | null>((r) => etcdctl.once('close', (code) => r(code)))
    : undefined;
  const killer = setTimeout(() => etcdctl?.kill('SIGKILL'), 20_000);
  await new Promise((r) => setTimeout(r, 500)); // let etcdctl open its watch

  await Promise.all([nodes[1].close(), nodes[2].close()]);
  const err = await ended;
  expect(err.code).toBe(grpc.status.UNAVAILABLE);
  expect(err.details).toBe('etcdserver: no leader');
  expect(patientFailed).toBe(false);

  const Maintenance = grpc.makeGenericClientConstructor(
    loadServices()['etcdserverpb.Maintenance'],
    'Maintenance',
  );
  const m = new Maintenance(
    `127.0.0.1:${server.port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Status(req: object, md: grpc.Metadata, cb: (e: grpc.ServiceError | null) => void): void;
  };
  const unaryErr = await new Promise<grpc.ServiceError | null>((resolve) => m.Status({}, md, resolve));
  expect(unaryErr?.details).toBe('etcdserver: no leader');
  m.close();

  const health = await fetch(`http://127.0.0.1:${server.port}/health`);
  expect(health.status).toBe(503);
  expect(await health.json()).toEqual({ health: 'false' });

  if (etcdctl && ctlExit) {
    // etcdctl's watch asks for a leader: it must not hang once the server cancels its stream.
    const code = await ctlExit;
    expect(code).not.toBe(0);
    expect(ctlOutput).toContain('no leader');
  }
  clearTimeout(killer);
  patient.cancel();
  client.close();
}, 40_000);

it('the port is free again after close', async () => {
  const { port } = server;
  await server.close();
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, '127.0.0.1', () => resolve());
  });
  await new Promise((r) => probe.close(r));
});

it('a port in use fails the start with EADDRINUSE', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', () => resolve()));
  const { port } = taken.address() as net.AddressInfo;
  try {
    await expect(startClientServer({ node: nodes[0], port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  } finally {
    await new Promise((r) => taken.close(r));
  }
});
