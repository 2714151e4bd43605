// KV.RangeStream (etcd v3.7) through EdgeNode and the request pipeline: the merged chunks equal Range's answer for
// every request shape RangeStream accepts (limits around the chunk boundaries, keys_only, count_only, old
// revisions, single keys, NONE order with a non-KEY target), only the last chunk carries header/more/count,
// chunks stay under --max-request-bytes unless one key alone is larger, the stream is pinned to one revision
// while writes land between chunks, a compaction past it fails the next chunk, refused orders and filters fail
// before any chunk with etcd's texts, and auth applies as for Range. The gRPC and gateway tests check the wire.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage, MemoryStorageBackend } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { type RequestPipeline, requestPipeline } from '../../src/api/pipeline.ts';
import { cryptoRandom } from '../../src/env.ts';
import { EtcdError } from '../../src/etcd/errors.ts';
import type { KeyValue, RangeRequest, RangeResponse, RangeStreamResponse } from '../../src/etcd/kv.ts';
import { prefixRangeEnd } from '../../src/mvcc/index.ts';
import { createNode, type EdgeNode, type NodeOptions } from '../../src/server/node.ts';
import { CHUNK_OVERHEAD_BYTES, keyValueBytes } from '../../src/server/services/range-stream.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

const te = new TextEncoder();
const td = new TextDecoder();
const b = (s: string) => te.encode(s);
const MAX_REQUEST_BYTES = 16 * 1024;
const KEYS = 3000;
const PREFIX = { key: b('k'), rangeEnd: prefixRangeEnd(b('k')) };

let cluster: MemoryCluster;
let api: RequestPipeline;

/** Values of 1..600 bytes, different per key, so chunks hold different numbers of keys. */
const valueFor = (i: number, round = 0) => b(`${round}:`.padEnd(1 + ((i * 7919) % 600), String(i % 10)));
const keyOf = (i: number) => b(`k${String(i).padStart(4, '0')}`);

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1, node: { maxRequestBytes: MAX_REQUEST_BYTES } });
  api = requestPipeline(cluster.nodes[0]);
  for (let i = 0; i < KEYS; i += 20) {
    const success = [];
    for (let j = i; j < i + 20; j++) success.push({ requestPut: { key: keyOf(j), value: valueFor(j) } });
    await api.txn({ compare: [], success, failure: [] });
  }
  // Versions and create revisions that differ from key order; one key deleted.
  for (let i = 0; i < KEYS; i += 97) await api.put({ key: keyOf(i), value: valueFor(i, 1) });
  await api.deleteRange({ key: keyOf(5) });
  await api.put({ key: b('a'), value: b('outside') });
  await api.put({ key: b('l'), value: b('outside') });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

async function collect(
  stream: AsyncIterable<RangeStreamResponse>,
): Promise<{ chunks: RangeStreamResponse[]; merged: RangeResponse }> {
  const chunks: RangeStreamResponse[] = [];
  for await (const c of stream) chunks.push(c);
  return { chunks, merged: merge(chunks) };
}

/** etcd's proto.Merge over the chunks, after checking that only the last one carries header, more and count. */
function merge(chunks: readonly RangeStreamResponse[]): RangeResponse {
  expect(chunks.length).toBeGreaterThan(0);
  for (const c of chunks.slice(0, -1)) {
    expect(c.rangeResponse.final).toBeUndefined();
    expect(c.rangeResponse.kvs.length).toBeGreaterThan(0);
  }
  const final = chunks[chunks.length - 1]!.rangeResponse.final;
  expect(final).toBeDefined();
  return { ...final!, kvs: chunks.flatMap((c) => c.rangeResponse.kvs) };
}

async function errorOf(p: Promise<unknown>): Promise<EtcdError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(EtcdError);
    return e as EtcdError;
  }
  throw new Error('expected an error');
}

const chunkBytes = (c: RangeStreamResponse) =>
  c.rangeResponse.kvs.reduce((n, kv) => n + keyValueBytes(kv), CHUNK_OVERHEAD_BYTES);
const names = (kvs: readonly KeyValue[]) => kvs.map((kv) => td.decode(kv.key));

describe('RangeStream answers as Range does', () => {
  it('merges to Range’s answer for every accepted request shape', async () => {
    const whole = await collect(api.rangeStream(PREFIX));
    const firstChunk = whole.chunks[0]!.rangeResponse.kvs.length;
    const total = whole.merged.count;
    expect(total).toBe(KEYS - 1);
    const old = whole.merged.header.revision - 50;
    const requests: [string, RangeRequest][] = [
      ['the whole prefix', PREFIX],
      ['limit 5 (inside the first chunk)', { ...PREFIX, limit: 5 }],
      ['limit at the first chunk boundary', { ...PREFIX, limit: firstChunk }],
      ['limit one past it', { ...PREFIX, limit: firstChunk + 1 }],
      ['limit 1000', { ...PREFIX, limit: 1000 }],
      ['limit = count', { ...PREFIX, limit: total }],
      ['limit > count', { ...PREFIX, limit: total + 100 }],
      ['keys_only', { ...PREFIX, keysOnly: true }],
      ['keys_only with a limit', { ...PREFIX, keysOnly: true, limit: 777 }],
      ['count_only', { ...PREFIX, countOnly: true }],
      ['an old revision', { ...PREFIX, revision: old }],
      ['an old revision with a limit', { ...PREFIX, revision: old, limit: 1500 }],
      ['one key', { key: keyOf(42) }],
      ['one deleted key', { key: keyOf(5) }],
      ['an empty range', { key: b('m'), rangeEnd: b('n') }],
      ['key ≥ range end', { key: b('z'), rangeEnd: b('a') }],
      ['from a key (range_end \\0)', { key: keyOf(2900), rangeEnd: new Uint8Array([0]) }],
      ['every key', { key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }],
      ['ASCEND by KEY', { ...PREFIX, sortOrder: 'ASCEND', sortTarget: 'KEY' }],
      ['NONE by VERSION (sorted ascending, as Range)', { ...PREFIX, sortTarget: 'VERSION' }],
      ['NONE by VALUE with a limit', { ...PREFIX, sortTarget: 'VALUE', limit: 500 }],
      ['serializable', { ...PREFIX, serializable: true, limit: 2000 }],
    ];
    for (const [what, req] of requests) {
      const range = await api.range(req);
      const { chunks, merged } = await collect(api.rangeStream(req));
      expect({ what, ...merged, header: merged.header.revision }).toEqual({
        what,
        ...range,
        header: range.header.revision,
      });
      // The header is the member's, as Range's.
      expect(merged.header.memberId).toBe(range.header.memberId);
      expect(merged.header.clusterId).toBe(range.header.clusterId);
      expect(merged.header.raftTerm).toBe(range.header.raftTerm);
      for (const c of chunks) {
        if (c.rangeResponse.kvs.length > 1) expect(chunkBytes(c)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
      }
    }
  });

  it('sends a large range in several chunks, each filled close to the limit', async () => {
    const { chunks, merged } = await collect(api.rangeStream(PREFIX));
    expect(merged.kvs).toHaveLength(KEYS - 1);
    expect(chunks.length).toBeGreaterThan(10);
    // Every chunk but the last is full: the next key would not have fit.
    for (let i = 0; i < chunks.length - 1; i++) {
      const next = chunks[i + 1]!.rangeResponse.kvs[0]!;
      expect(chunkBytes(chunks[i]!) + keyValueBytes(next)).toBeGreaterThan(MAX_REQUEST_BYTES);
    }
    // Disjoint and in key order.
    const keys = names(merged.kvs);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('count_only and an empty range are one chunk with the header', async () => {
    for (const req of [
      { ...PREFIX, countOnly: true },
      { key: b('m'), rangeEnd: b('n') },
    ]) {
      const { chunks } = await collect(api.rangeStream(req));
      expect(chunks).toHaveLength(1);
    }
  });
});

describe('one revision for the whole stream', () => {
  it('does not see writes made between chunks', async () => {
    const expected = await api.range(PREFIX);
    const it = api.rangeStream(PREFIX)[Symbol.asyncIterator]();
    const chunks: RangeStreamResponse[] = [];
    const first = await it.next();
    chunks.push(first.value as RangeStreamResponse);
    // A new key, an overwrite and a delete, all after the first chunk's keys.
    await api.put({ key: b('k2999a'), value: b('new') });
    await api.put({ key: b('k2500'), value: b('changed') });
    await api.deleteRange({ key: b('k2600') });
    await api.put({ key: b('k1234x'), value: b('new') });
    for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value);
    const merged = merge(chunks);
    expect(merged.header.revision).toBe(expected.header.revision);
    expect(names(merged.kvs)).toEqual(names(expected.kvs));
    expect(merged.kvs).toEqual(expected.kvs);
    expect(merged.count).toBe(expected.count);
    // Range now sees the writes.
    expect((await api.range(PREFIX)).count).toBe(expected.count + 1);
    await api.deleteRange({ key: b('k1234x') });
    await api.deleteRange({ key: b('k2999a') });
  });

  it('counts what the limit cut off at the pinned revision, not at the end', async () => {
    const expected = await api.range({ ...PREFIX, limit: 10 });
    const it = api.rangeStream({ ...PREFIX, limit: 2000 })[Symbol.asyncIterator]();
    const chunks: RangeStreamResponse[] = [(await it.next()).value as RangeStreamResponse];
    await api.put({ key: b('k9999'), value: b('after the pin') });
    for (let r = await it.next(); !r.done; r = await it.next()) chunks.push(r.value);
    const merged = merge(chunks);
    expect(merged.more).toBe(true);
    expect(merged.count).toBe(expected.count);
    await api.deleteRange({ key: b('k9999') });
  });

  it('fails the next chunk with "compacted" once a compaction passes its revision', async () => {
    const it = api.rangeStream(PREFIX)[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.done).toBe(false);
    const r = await api.put({ key: b('k0000'), value: b('moves the revision') });
    await api.compact({ revision: r.header.revision });
    const err = await errorOf(it.next());
    expect(err.message).toBe('etcdserver: mvcc: required revision has been compacted');
    expect(err.code).toBe(11);
  });

  it('stops reading when the consumer returns early', async () => {
    const it = api.rangeStream(PREFIX)[Symbol.asyncIterator]();
    await it.next();
    expect(await it.return?.()).toEqual({ done: true, value: undefined });
    expect((await it.next()).done).toBe(true);
  });
});

describe('refusals before the first chunk, with etcd v3.7’s texts', () => {
  it('refuses custom sort orders and revision filters as Unimplemented; Range’s own errors as Range', async () => {
    const cases: [RangeRequest, number, string][] = [
      [{ ...PREFIX, sortOrder: 'DESCEND' }, 12, 'RangeStream does not support custom sort orders'],
      [
        { ...PREFIX, sortOrder: 'ASCEND', sortTarget: 'MOD' },
        12,
        'RangeStream does not support custom sort orders',
      ],
      [{ ...PREFIX, minModRevision: 3 }, 12, 'RangeStream does not support revision filters'],
      [{ ...PREFIX, maxCreateRevision: 3 }, 12, 'RangeStream does not support revision filters'],
      [{ key: new Uint8Array(0) }, 3, 'etcdserver: key is not provided'],
      [{ ...PREFIX, revision: 1_000_000 }, 11, 'etcdserver: mvcc: required revision is a future revision'],
      [{ ...PREFIX, revision: 2 }, 11, 'etcdserver: mvcc: required revision has been compacted'],
    ];
    // Compacted below: make sure there was a compaction (the test above may not have run first).
    const r = await api.put({ key: b('a'), value: b('x') });
    await api.compact({ revision: r.header.revision - 1 }).catch(() => {});
    for (const [req, code, message] of cases) {
      const err = await errorOf(api.rangeStream(req)[Symbol.asyncIterator]().next());
      expect([err.code, err.message]).toEqual([code, message]);
    }
  });
});

describe('a key larger than the limit', () => {
  it('travels alone in its chunk (etcd’s TestV3RangeStreamLargeValues)', async () => {
    // Written under the default limit, read after a restart with a 16 KiB one.
    const backend = new MemoryStorageBackend();
    const clock = new RealClock();
    const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
    const member = { id: 1n, name: 'n1', peerURLs: ['mem://n1'] };
    const start = (options: Partial<NodeOptions>) =>
      createNode({
        id: 1n,
        name: 'n1',
        clusterId: 7n,
        members: [member],
        storage: new MemoryStorage(backend),
        transport: network.transport(1n),
        clock,
        random: cryptoRandom,
        tickMs: 10,
        electionTimeoutMs: 100,
        ...options,
      });
    const until = async (node: EdgeNode) => {
      while (node.nodeStatus().leader === 0n) await new Promise((r) => setTimeout(r, 10));
    };
    let node = await start({});
    await until(node);
    const big = new Uint8Array(40 * 1024).fill(7);
    for (let i = 0; i < 5; i++) await node.put({ key: b(`big-${i}`), value: big });
    await node.close();
    node = await start({ maxRequestBytes: MAX_REQUEST_BYTES });
    await until(node);
    try {
      const { chunks, merged } = await collect(node.rangeStream({ key: b('big-'), rangeEnd: b('big.') }));
      expect(chunks.map((c) => c.rangeResponse.kvs.length)).toEqual([1, 1, 1, 1, 1]);
      expect(names(merged.kvs)).toEqual(['big-0', 'big-1', 'big-2', 'big-3', 'big-4']);
      expect(merged.kvs.every((kv) => kv.value.length === big.length)).toBe(true);
    } finally {
      await node.close();
    }
  });
});

describe('auth', () => {
  it('checks READ on the range once, before the first chunk', async () => {
    const auth = await startMemoryCluster({ size: 1 });
    const n = requestPipeline(auth.nodes[0]);
    try {
      await n.put({ key: b('/app/1'), value: b('1') });
      await n.put({ key: b('/other/1'), value: b('1') });
      await n.userAdd({ name: 'root', password: 'rootpw' });
      await n.roleAdd({ name: 'root' });
      await n.userGrantRole({ user: 'root', role: 'root' });
      await n.roleAdd({ name: 'app' });
      await n.roleGrantPermission({
        name: 'app',
        perm: { permType: 'READ', key: b('/app/'), rangeEnd: b('/app0') },
      });
      await n.userAdd({ name: 'alice', password: 'alicepw' });
      await n.userGrantRole({ user: 'alice', role: 'app' });
      await n.authEnable();
      const { token } = await n.authenticate({ name: 'alice', password: 'alicepw' });
      const app = { key: b('/app/'), rangeEnd: b('/app0') };
      const { merged } = await collect(n.rangeStream(app, { token }));
      expect(names(merged.kvs)).toEqual(['/app/1']);
      const denied = await errorOf(
        n
          .rangeStream({ key: b('/'), rangeEnd: b('0') }, { token })
          [Symbol.asyncIterator]()
          .next(),
      );
      expect(denied.message).toBe('etcdserver: permission denied');
      const anonymous = await errorOf(n.rangeStream(app)[Symbol.asyncIterator]().next());
      expect(anonymous.message).toBe('etcdserver: user name is empty');
    } finally {
      await auth.close();
    }
  });
});
