// KV.RangeStream on the gRPC wire (etcd v3.7's rpc.proto, vendored): a one-member in-process cluster with a 16 KiB
// --max-request-bytes behind startClientServer, read by grpc-js with that proto and by a hand-driven HTTP/2 stream
// that stops reading. It proves: each RangeStreamResponse message is at most --max-request-bytes on the wire; the
// merged messages equal the unary Range answer (header, more, count only in the last message); refused requests
// get etcd's status codes and texts; the server reads the next chunk only as the client takes the previous one (a
// compaction while the client is not reading fails the rest of the stream, and writes meanwhile are not seen);
// and clients that know nothing of RangeStream (the etcd3 package's proto, the etcd3 client) are unaffected.

import http2 from 'node:http2';
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { loadServices } from '../../adapters/runtime/node/grpc/proto.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { prefixRangeEnd } from '../../src/mvcc/index.ts';
import type { EdgeNode } from '../../src/server/node.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

const MAX_REQUEST_BYTES = 16 * 1024;
const KEYS = 3000;
const te = new TextEncoder();
const b = (s: string) => Buffer.from(te.encode(s));
const keyOf = (i: number) => `k${String(i).padStart(4, '0')}`;
const PREFIX = { key: b('k'), range_end: Buffer.from(prefixRangeEnd(b('k'))) };

type Wire = Record<string, unknown> & {
  header?: Record<string, unknown>;
  kvs?: Record<string, unknown>[];
  more?: boolean;
  count?: string;
};

let cluster: MemoryCluster;
let node: EdgeNode;
let server: ClientServer;
let client: grpc.Client;
const kv = loadServices()['etcdserverpb.KV'];

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1, node: { maxRequestBytes: MAX_REQUEST_BYTES } });
  node = cluster.nodes[0]!;
  for (let i = 0; i < KEYS; i += 20) {
    const success = [];
    for (let j = i; j < i + 20; j++)
      success.push({ requestPut: { key: b(keyOf(j)), value: b('v'.repeat(1 + ((j * 7919) % 600))) } });
    await node.txn({ compare: [], success, failure: [] });
  }
  server = await startClientServer({ node, gateway: createGateway(node) });
  client = new grpc.Client(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
}, 60_000);

afterAll(async () => {
  client?.close();
  await server?.close();
  await cluster?.close();
});

interface Message {
  readonly bytes: number;
  readonly message: Wire;
}

/** Every message of a RangeStream call, with its size on the wire, or the call's error. */
function rangeStream(req: object): Promise<{ messages: Message[]; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    const messages: Message[] = [];
    const call = client.makeServerStreamRequest(
      '/etcdserverpb.KV/RangeStream',
      kv.RangeStream!.requestSerialize,
      (buf: Buffer) => ({
        bytes: buf.length,
        message: kv.RangeStream!.responseDeserialize(buf) as { range_response: Wire },
      }),
      req,
    );
    call.on('data', (m: { bytes: number; message: { range_response: Wire } }) =>
      messages.push({ bytes: m.bytes, message: m.message.range_response }),
    );
    call.on('error', (error: grpc.ServiceError) => resolve({ messages, error }));
    call.on('end', () => resolve({ messages }));
  });
}

function range(req: object): Promise<Wire> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      '/etcdserverpb.KV/Range',
      kv.Range!.requestSerialize,
      (buf: Buffer) => kv.Range!.responseDeserialize(buf) as Wire,
      req,
      (err, res) => (err ? reject(err) : resolve(res as Wire)),
    );
  });
}

/** proto.Merge over the messages, after checking that only the last carries header, more and count. */
function merge(messages: readonly Message[]): Wire {
  expect(messages.length).toBeGreaterThan(0);
  for (const { message } of messages.slice(0, -1)) {
    expect(Object.keys(message)).toEqual(['kvs']);
    expect(message.kvs?.length).toBeGreaterThan(0);
  }
  const last = messages[messages.length - 1]!.message;
  expect(last.header).toBeDefined();
  const kvs = messages.flatMap(({ message }) => message.kvs ?? []);
  return { ...last, kvs: kvs.length > 0 ? kvs : undefined };
}

/** Bytes fields as base64 text, for quick deep comparisons. */
function plain(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

describe('RangeStream over gRPC', () => {
  it('sends messages of at most --max-request-bytes that merge into Range’s answer', async () => {
    const requests: [string, object][] = [
      ['the whole prefix', PREFIX],
      ['limit 100', { ...PREFIX, limit: 100 }],
      ['limit 2000', { ...PREFIX, limit: 2000 }],
      ['keys_only', { ...PREFIX, keys_only: true }],
      ['count_only', { ...PREFIX, count_only: true }],
      ['one key', { key: b(keyOf(7)) }],
      ['nothing', { key: b('x') }],
      ['NONE by MOD', { ...PREFIX, sort_target: 3, limit: 50 }],
    ];
    for (const [what, req] of requests) {
      const expected = await range(req);
      const { messages, error } = await rangeStream(req);
      expect(error).toBeUndefined();
      for (const m of messages) expect(m.bytes).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      const merged = merge(messages);
      // Buffers as text: vitest compares Buffers byte by byte, slowly.
      expect(plain({ what, ...merged })).toEqual(plain({ what, ...expected }));
    }
    const whole = await rangeStream(PREFIX);
    expect(whole.messages.length).toBeGreaterThan(20);
    expect(merge(whole.messages).count).toBe(String(KEYS));
    // Chunks are filled: all but the last are within a key's size of the limit.
    for (const m of whole.messages.slice(0, -1)) expect(m.bytes).toBeGreaterThan(MAX_REQUEST_BYTES - 700);
  });

  it('refuses what RangeStream cannot serve with etcd’s codes and texts', async () => {
    const cases: [object, number, string][] = [
      [{ ...PREFIX, sort_order: 2 }, 12, 'RangeStream does not support custom sort orders'],
      [{ ...PREFIX, sort_order: 1, sort_target: 1 }, 12, 'RangeStream does not support custom sort orders'],
      [{ ...PREFIX, min_mod_revision: 2 }, 12, 'RangeStream does not support revision filters'],
      [{ key: Buffer.alloc(0) }, 3, 'etcdserver: key is not provided'],
      [{ ...PREFIX, revision: 1_000_000 }, 11, 'etcdserver: mvcc: required revision is a future revision'],
    ];
    for (const [req, code, details] of cases) {
      const { messages, error } = await rangeStream(req);
      expect(messages).toEqual([]);
      expect([error?.code, error?.details]).toEqual([code, details]);
    }
  });

  it('clients without RangeStream are unaffected: the etcd3 package’s proto and the etcd3 client', async () => {
    const require = createRequire(import.meta.url);
    const protoDir = path.join(path.dirname(require.resolve('etcd3/package.json')), 'proto');
    const old = grpc.loadPackageDefinition(
      protoLoader.loadSync(path.join(protoDir, 'rpc.proto'), { keepCase: true, longs: String }),
    ) as unknown as { etcdserverpb: { KV: new (a: string, c: grpc.ChannelCredentials) => grpc.Client } };
    expect(Object.keys(old.etcdserverpb.KV.prototype)).not.toContain('RangeStream');
    const oldClient = new old.etcdserverpb.KV(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
    const answer = await new Promise<Wire>((resolve, reject) =>
      (
        oldClient as unknown as Record<string, (r: object, cb: (e: Error | null, r: Wire) => void) => void>
      ).range!.call(oldClient, { ...PREFIX, limit: 3 }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    oldClient.close();
    expect(answer.count).toBe(String(KEYS));
    expect(answer.kvs).toHaveLength(3);
    const etcd = new Etcd3({ hosts: `127.0.0.1:${server.port}` });
    try {
      expect(await etcd.getAll().prefix('k').count()).toBe(KEYS);
      expect(await etcd.get(keyOf(42)).string()).toBe('v'.repeat(1 + ((42 * 7919) % 600)));
    } finally {
      etcd.close();
    }
  });
});

/** A RangeStream call on a bare HTTP/2 stream that reads one message at a time: what it does not read, stays. */
class SlowReader {
  private readonly session: http2.ClientHttp2Session;
  private readonly stream: http2.ClientHttp2Stream;
  private buffered = Buffer.alloc(0);
  private ended = false;
  trailers: http2.IncomingHttpHeaders = {};

  constructor(port: number, req: object) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => {});
    this.stream = this.session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.KV/RangeStream',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    this.stream.on('trailers', (t) => {
      this.trailers = t;
    });
    this.stream.on('end', () => {
      this.ended = true;
    });
    const body = kv.RangeStream!.requestSerialize(req);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.stream.end(frame);
  }

  /** The next message, or undefined at the end of the stream. */
  async next(): Promise<Wire | undefined> {
    for (;;) {
      if (this.buffered.length >= 5) {
        const length = this.buffered.readUInt32BE(1);
        if (this.buffered.length >= 5 + length) {
          const message = this.buffered.subarray(5, 5 + length);
          this.buffered = this.buffered.subarray(5 + length);
          return (kv.RangeStream!.responseDeserialize(message) as { range_response: Wire }).range_response;
        }
      }
      const chunk = this.stream.read() as Buffer | null;
      if (chunk) {
        this.buffered = Buffer.concat([this.buffered, chunk]);
        continue;
      }
      if (this.ended || this.stream.readableEnded) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('readable', done);
          this.stream.off('end', done);
          resolve();
        };
        this.stream.on('readable', done);
        this.stream.on('end', done);
      });
    }
  }

  async rest(): Promise<Wire[]> {
    const out: Wire[] = [];
    for (let m = await this.next(); m; m = await this.next()) out.push(m);
    return out;
  }

  close(): void {
    this.stream.close();
    this.session.close();
  }
}

describe('back-pressure and the pinned revision', () => {
  it('does not read ahead of the client: writes while it is not reading are not seen', async () => {
    const expected = await range(PREFIX);
    const reader = new SlowReader(server.port, PREFIX);
    try {
      const first = await reader.next();
      expect(first?.kvs?.length).toBeGreaterThan(0);
      await node.put({ key: b('k2999z'), value: b('new') });
      await node.put({ key: b(keyOf(2500)), value: b('changed') });
      const rest = await reader.rest();
      expect(reader.trailers['grpc-status']).toBe('0');
      const merged = [first!, ...rest].flatMap((m) => m.kvs ?? []);
      expect(plain(merged)).toEqual(plain(expected.kvs));
      expect(rest[rest.length - 1]?.header?.revision).toBe(expected.header?.revision);
    } finally {
      reader.close();
      await node.deleteRange({ key: b('k2999z') });
    }
  });

  it('fails the rest of the stream when a compaction passes its revision while the client is not reading', async () => {
    const reader = new SlowReader(server.port, PREFIX);
    try {
      const first = await reader.next();
      expect(first?.kvs?.length).toBeGreaterThan(0);
      const r = await node.put({ key: b('a'), value: b('moves the revision') });
      await node.compact({ revision: r.header.revision });
      const rest = await reader.rest();
      const received = [first!, ...rest].reduce((n, m) => n + (m.kvs?.length ?? 0), 0);
      // Some chunks were already on their way; the server read no more once the compaction happened.
      expect(received).toBeLessThan(KEYS);
      expect(reader.trailers['grpc-status']).toBe('11');
      expect(decodeURIComponent(String(reader.trailers['grpc-message']))).toBe(
        'etcdserver: mvcc: required revision has been compacted',
      );
    } finally {
      reader.close();
    }
  });
});
