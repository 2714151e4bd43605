// Slow and stuck clients on the client port (startClientServer over a real socket, an in-process member, the
// JSON gateway): the member keeps serving everyone else, with bounded memory.
// - 2,200 connections that hold the port without finishing a request: HTTP/1.1 headers dripped a byte at a time
//   (slowloris), an HTTP/2 preface cut short (held by the protocol sniffer), and silent ones;
// - 10,000 concurrent gRPC streams on one HTTP/2 connection: every one answered, other clients served meanwhile;
// - a gateway watch whose client never reads while 48 MiB of events go by: every write completes and other
//   clients are served. (Its memory bound is asserted on a member process, whose heap is read after a full GC:
//   test/e2e/slow-clients.test.ts.)
// Memory is compared after a forced GC, with a wide margin.

import { connect as connect2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import type { EdgeNode } from '../../src/index.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const b64 = (s: string) => Buffer.from(s).toString('base64');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function memory(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

function open(port: number): Socket {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  sockets.push(s);
  return s;
}

describe('slow and stuck clients on the client port', () => {
  let cluster: MemoryCluster;
  let node: EdgeNode;
  let server: ClientServer;
  let base: string;

  beforeAll(async () => {
    // Small snapshot count: the Raft log is compacted often, so the entries' bytes do not pile up in memory.
    cluster = await startMemoryCluster({ size: 1, node: { snapshotCount: 20 } });
    node = cluster.nodes[0];
    server = await startClientServer({ node, gateway: createGateway(node) });
    base = `http://127.0.0.1:${server.port}`;
  }, 30_000);
  afterAll(async () => {
    await server?.close();
    await cluster?.close();
  });

  async function servesOthers(tag: string): Promise<void> {
    for (let i = 0; i < 10; i++) {
      const put = await fetch(`${base}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`${tag}${i}`), value: b64(`v${i}`) }),
      });
      expect(put.status).toBe(200);
      const got = await fetch(`${base}/v3/kv/range`, {
        method: 'POST',
        body: JSON.stringify({ key: b64(`${tag}${i}`) }),
      });
      expect(((await got.json()) as { kvs: { value: string }[] }).kvs[0].value).toBe(b64(`v${i}`));
    }
  }

  it('2,200 connections that never finish a request: others are served, memory stays bounded', async () => {
    const before = memory();
    const dripping: Socket[] = [];
    for (let i = 0; i < 100; i++) {
      const s = open(server.port);
      s.write(`POST /v3/kv/range HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n`);
      dripping.push(s);
    }
    for (let i = 0; i < 100; i++) open(server.port).write('PRI * HTTP/2.0\r\n'); // the preface, cut short
    for (let i = 0; i < 2000; i++) open(server.port); // silent
    // Drip one more header byte per slow connection every 20 ms while the others use the port.
    let dripping_ = true;
    const drip = (async () => {
      for (let n = 0; dripping_ && n < 100; n++) {
        for (const s of dripping) s.write('X');
        await sleep(20);
      }
    })();
    await servesOthers('slowloris/');
    dripping_ = false;
    await drip;
    expect(memory() - before).toBeLessThan(32 * 1024 * 1024);
  }, 60_000);

  it('10,000 concurrent gRPC streams on one HTTP/2 connection: all answered, others served', async () => {
    const session = connect2(`http://127.0.0.1:${server.port}`);
    session.on('error', () => {});
    // A gRPC Range request for key "a": the 5-byte message prefix, then RangeRequest{key: "a"}.
    const message = Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x01, 0x61]);
    const before = memory();
    const calls = Array.from(
      { length: 10_000 },
      () =>
        new Promise<string>((resolve) => {
          const stream = session.request({
            ':method': 'POST',
            ':path': '/etcdserverpb.KV/Range',
            'content-type': 'application/grpc',
            te: 'trailers',
          });
          let status = 'none';
          stream.on('response', (headers) => {
            if (headers['grpc-status'] !== undefined) status = String(headers['grpc-status']);
          });
          stream.on('trailers', (trailers) => {
            status = String(trailers['grpc-status']);
          });
          stream.on('data', () => {});
          stream.on('close', () => resolve(status));
          stream.on('error', () => resolve('error'));
          stream.end(message);
        }),
    );
    await servesOthers('streams/');
    const statuses = await Promise.all(calls);
    session.close();
    expect(statuses.filter((s) => s !== '0')).toEqual([]);
    expect(memory() - before).toBeLessThan(64 * 1024 * 1024);
  }, 60_000);

  it('a watch whose client never reads: every write completes, others are served', async () => {
    const value = 'x'.repeat(64 * 1024);
    const stuck = open(server.port);
    const body = JSON.stringify({ create_request: { key: b64('w/'), range_end: b64('w0') } });
    stuck.write(`POST /v3/watch HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await waitFor('the watch created', () => node.nodeStatus().watchers > 0);
    stuck.pause(); // never reads again
    // 768 events of 64 KiB (48 MiB, 64 MiB as base64 JSON) for a client that takes none: every write completes.
    for (let round = 0; round < 16; round++) {
      for (let i = 0; i < 48; i++)
        await node.put({ key: new TextEncoder().encode(`w/${i}`), value: new TextEncoder().encode(value) });
      await node.compact({ revision: node.nodeStatus().revision });
    }
    // (Once compaction passes what it has not taken, the watcher is canceled as etcd cancels a compacted one.)
    await servesOthers('stuck-watch/');
  }, 60_000);
});
