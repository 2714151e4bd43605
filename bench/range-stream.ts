// npm run bench:range-stream — peak server memory for one large range read as etcd v3.7's KV.RangeStream against the
// buffered KV.Range, on one edgecd member process (file WAL, gRPC on 127.0.0.1). The member is loaded with KEYS
// keys (16-byte keys, 256-byte values; etcd's KEP-5966 figures use that shape) in txns of BATCH puts, then each
// read is measured from a collected heap: peak RSS (VmHWM) and peak used heap (v8.GCProfiler) in the member, via
// ./range-stream-probe.ts. A benchmark, never a test.
//
//   npm run bench:range-stream                      1,000,000 keys, one round of each read over gRPC
//   KEYS=200000 ROUNDS=2 npm run bench:range-stream
//   npm run bench:range-stream -- --gateway         also the JSON gateway: /edgecd/v1/kv/rangestream vs /v3/kv/range

import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadServices } from '../adapters/runtime/node/grpc/proto.ts';

const ROOT = join(import.meta.dirname, '..');
const KEYS = Number(process.env.KEYS ?? 1_000_000);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const BATCH = 4000; // ~1.1 MB per txn on the wire, its Raft entry under the default --max-request-bytes
const GATEWAY = process.argv.includes('--gateway');
const MiB = 2 ** 20;
const kv = loadServices()['etcdserverpb.KV'];

interface Peaks {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as { port: number };
  await new Promise((r) => s.close(r));
  return port;
}

function startMember(dir: string, client: number, peer: number): ChildProcess {
  const probe = pathToFileURL(join(ROOT, 'bench/range-stream-probe.ts')).href;
  const peerUrl = `http://127.0.0.1:${peer}`;
  const clientUrl = `http://127.0.0.1:${client}`;
  return fork(
    join(ROOT, 'bin/edgecd.js'),
    [
      ...['--name', 'bench', '--data-dir', dir, '--listen-client-urls', clientUrl],
      ...['--advertise-client-urls', clientUrl, '--listen-peer-urls', peerUrl],
      ...['--initial-advertise-peer-urls', peerUrl, '--initial-cluster', `bench=${peerUrl}`],
      ...['--max-txn-ops', String(BATCH), '--log-level', 'warn'],
    ],
    {
      cwd: ROOT,
      env: { ...process.env, EDGECD_FROM_SOURCE: '1' },
      // A heap with room for the buffered Range's answer; --expose-gc for the probe's baseline.
      execArgv: ['--expose-gc', '--max-old-space-size=8192', '--import', 'tsx', '--import', probe],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
}

function ask<T>(member: ChildProcess, probe: 'reset' | 'report'): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { probe?: string }) => {
      if (m?.probe !== probe) return;
      member.off('message', on);
      resolve(m as T);
    };
    member.on('message', on);
    member.send({ probe });
  });
}

function unary(client: grpc.Client, method: 'Range' | 'Txn', req: object): Promise<Record<string, unknown>> {
  const def = kv[method]!;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      `/etcdserverpb.KV/${method}`,
      def.requestSerialize,
      def.responseDeserialize as (b: Buffer) => Record<string, unknown>,
      req,
      (err, res) => (err ? reject(err) : resolve(res!)),
    ),
  );
}

/** 16-byte keys; 256-byte values that differ per key (a cheap xorshift fill). */
function keyOf(i: number): Buffer {
  return Buffer.from(`k${String(i).padStart(15, '0')}`);
}
function valueFor(i: number): Buffer {
  const v = Buffer.allocUnsafe(256);
  let x = (i * 2654435761) >>> 0 || 1;
  for (let j = 0; j < 256; j += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    v.writeUInt32LE(x >>> 0, j);
  }
  return v;
}

const RANGE = { key: Buffer.from('k'), range_end: Buffer.from('l') };

/** Reads the whole range one way; returns what the client received. */
type Read = (client: grpc.Client, port: number) => Promise<{ keys: number; messages: number; bytes: number }>;

const READS: Record<string, Read> = {
  'gRPC RangeStream': (client) =>
    new Promise((resolve, reject) => {
      let keys = 0;
      let messages = 0;
      let bytes = 0;
      const call = client.makeServerStreamRequest(
        '/etcdserverpb.KV/RangeStream',
        kv.RangeStream!.requestSerialize,
        (buf: Buffer) => {
          bytes += buf.length;
          return kv.RangeStream!.responseDeserialize(buf);
        },
        RANGE,
      );
      call.on('data', (m: { range_response?: { kvs?: unknown[] } }) => {
        messages++;
        keys += m.range_response?.kvs?.length ?? 0;
      });
      call.on('error', reject);
      call.on('end', () => resolve({ keys, messages, bytes }));
    }),
  'gRPC Range (buffered)': async (client) => {
    let bytes = 0;
    const res = await new Promise<{ kvs?: unknown[] }>((resolve, reject) =>
      client.makeUnaryRequest(
        '/etcdserverpb.KV/Range',
        kv.Range!.requestSerialize,
        (buf: Buffer) => {
          bytes = buf.length;
          return kv.Range!.responseDeserialize(buf) as { kvs?: unknown[] };
        },
        RANGE,
        (err, r) => (err ? reject(err) : resolve(r!)),
      ),
    );
    return { keys: res.kvs?.length ?? 0, messages: 1, bytes };
  },
  ...(GATEWAY
    ? {
        'gateway /edgecd/v1/kv/rangestream': (_c: grpc.Client, port: number) =>
          gatewayRead(port, '/edgecd/v1/kv/rangestream'),
        'gateway /v3/kv/range (buffered)': (_c: grpc.Client, port: number) =>
          gatewayRead(port, '/v3/kv/range'),
      }
    : {}),
};

/** Reads a gateway reply as it arrives, counting keys (`"key":`) and lines without keeping the body. */
async function gatewayRead(
  port: number,
  path: string,
): Promise<{ keys: number; messages: number; bytes: number }> {
  const body = JSON.stringify({
    key: RANGE.key.toString('base64'),
    range_end: RANGE.range_end.toString('base64'),
  });
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', body });
  if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
  const needle = '"key":';
  const decoder = new TextDecoder();
  let keys = 0;
  let messages = 0;
  let bytes = 0;
  // Shorter than the needle, so a match is never counted twice.
  let carry = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    bytes += chunk.length;
    const text = carry + decoder.decode(chunk, { stream: true });
    for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) keys++;
    for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) messages++;
    carry = text.slice(-(needle.length - 1)).replace(/\n/g, ' ');
  }
  return { keys, messages: Math.max(messages, 1), bytes };
}

const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'edgecd-range-stream-'));
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const member = startMember(dir, clientPort, peerPort);
  const client = new grpc.Client(`127.0.0.1:${clientPort}`, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': -1,
  });
  try {
    for (let tries = 0; ; tries++) {
      try {
        await unary(client, 'Range', { key: Buffer.from('probe') });
        break;
      } catch (e) {
        if (tries > 300) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    let started = performance.now();
    for (let i = 0; i < KEYS; i += BATCH) {
      const success = [];
      for (let j = i; j < Math.min(KEYS, i + BATCH); j++)
        success.push({ request_put: { key: keyOf(j), value: valueFor(j) } });
      await unary(client, 'Txn', { success });
    }
    console.log(
      `loaded ${KEYS.toLocaleString('en-US')} keys in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );

    const results: Record<string, { base: Peaks; peak: Peaks }[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, read] of Object.entries(READS)) {
        const base = await ask<Peaks>(member, 'reset');
        started = performance.now();
        const got = await read(client, clientPort);
        const seconds = (performance.now() - started) / 1000;
        const peak = await ask<Peaks>(member, 'report');
        (results[name] ??= []).push({ base, peak });
        console.log(
          `${name}: ${got.keys.toLocaleString('en-US')} keys, ${got.messages} messages, ${mib(got.bytes)} in ` +
            `${seconds.toFixed(1)} s; member RSS ${mib(base.rss)} → peak ${mib(peak.rss)} ` +
            `(+${mib(peak.rss - base.rss)}), used heap ${mib(base.heapUsed)} → peak ${mib(peak.heapUsed)} ` +
            `(+${mib(peak.heapUsed - base.heapUsed)}), external peak +${mib(peak.external - base.external)}`,
        );
        if (got.keys !== KEYS) throw new Error(`${name}: read ${got.keys} keys, expected ${KEYS}`);
      }
    }

    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = Object.entries(results).map(([name, runs]) => ({
      name,
      rss: median(runs.map((r) => r.peak.rss)),
      rssGrowth: median(runs.map((r) => r.peak.rss - r.base.rss)),
      heap: median(runs.map((r) => r.peak.heapUsed)),
      heapGrowth: median(runs.map((r) => r.peak.heapUsed - r.base.heapUsed)),
    }));
    console.log(`\nmedians of ${ROUNDS} round(s), member with ${KEYS.toLocaleString('en-US')} keys:`);
    console.log('| read | peak RSS | RSS growth | peak used heap | heap growth |');
    console.log('|---|---|---|---|---|');
    for (const s of summary)
      console.log(
        `| ${s.name} | ${mib(s.rss)} | +${mib(s.rssGrowth)} | ${mib(s.heap)} | +${mib(s.heapGrowth)} |`,
      );
    const [stream, buffered] = [summary[0]!, summary[1]!];
    console.log(
      `\nbuffered / stream: peak RSS ${(buffered.rss / stream.rss).toFixed(2)}×, ` +
        `peak heap ${(buffered.heap / stream.heap).toFixed(2)}×, ` +
        `RSS growth ${(buffered.rssGrowth / Math.max(stream.rssGrowth, 1)).toFixed(0)}×`,
    );
  } finally {
    client.close();
    member.kill();
    await new Promise((r) => member.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
