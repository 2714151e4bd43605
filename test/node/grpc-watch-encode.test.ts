// The Watch stream's hand-written WatchResponse encoder (adapters/runtime/node/grpc/watch-encode.ts) writes the
// very bytes proto-loader writes for the same response, on random responses: headers, negative watch IDs,
// control flags, cancel reasons in UTF-8, compaction, fragments, PUT and DELETE events with and without prev_kv,
// empty and large keys and values, leases up to int64's extremes. A real grpc-js call also offers the direct
// send path the stream writes through (bidi.ts directSend), so a grpc-js upgrade that removes it is noticed.

import { credentials, loadPackageDefinition, Server, ServerCredentials } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { directSend } from '../../adapters/runtime/node/grpc/bidi.ts';
import { loadPackage, loadServices } from '../../adapters/runtime/node/grpc/proto.ts';
import { encodeWatchResponse } from '../../adapters/runtime/node/grpc/watch-encode.ts';
import { watchResponse } from '../../adapters/runtime/node/grpc/wire.ts';
import type { Event, KeyValue } from '../../src/etcd/kv.ts';
import type { WatchResponse } from '../../src/etcd/types.ts';

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomResponse(rand: () => number): WatchResponse {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const int = () => pick([0, 1, 127, 128, 16_383, 16_384, 2 ** 31, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER]);
  const bytes = () => {
    const n = pick([0, 1, 5, 127, 128, 300, 20_000]);
    return Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
  };
  const lease = () => pick([0n, 1n, 0x7fffffffffffffffn, -1n, -(2n ** 63n), 123_456_789_012n]);
  const kv = (): KeyValue => ({
    key: bytes(),
    createRevision: int(),
    modRevision: int(),
    version: int(),
    value: bytes(),
    lease: lease(),
  });
  const events: Event[] = Array.from({ length: pick([0, 1, 1, 2, 5]) }, () => ({
    type: rand() < 0.3 ? 'DELETE' : 'PUT',
    kv: kv(),
    ...(rand() < 0.4 ? { prevKv: kv() } : {}),
  }));
  return {
    header: {
      clusterId: pick([0n, 1n, 0xcdef0123456789abn]),
      memberId: pick([0n, 42n, 0xffffffffffffffffn]),
      revision: int(),
      raftTerm: int(),
    },
    watchId: pick([0, 1, 7, 200, -1, 2 ** 33]),
    ...(rand() < 0.2 ? { created: true } : {}),
    ...(rand() < 0.2 ? { canceled: true } : {}),
    ...(rand() < 0.2 ? { compactRevision: int() } : {}),
    ...(rand() < 0.2
      ? { cancelReason: pick(['mvcc: required revision has been compacted', 'é ✓ 漢字', '']) }
      : {}),
    ...(rand() < 0.2 ? { fragment: true } : {}),
    events,
  };
}

describe('WatchResponse encoding', () => {
  const { responseSerialize, responseDeserialize } = loadServices()['etcdserverpb.Watch'].Watch as {
    responseSerialize: (v: unknown) => Buffer;
    responseDeserialize: (b: Buffer) => unknown;
  };

  it("writes proto-loader's bytes for 1,000 random responses", () => {
    const rand = prng(14);
    for (let i = 0; i < 1000; i++) {
      const r = randomResponse(rand);
      const expected = responseSerialize(watchResponse(r));
      const actual = encodeWatchResponse(r);
      expect(actual.equals(expected), `response ${i}`).toBe(true);
      // Encoded once, the same bytes again (the caches are keyed by the shared event and header objects).
      expect(encodeWatchResponse(r).equals(expected)).toBe(true);
    }
  });

  it('a pre-encoded response passes through the codec unchanged and decodes', () => {
    const r = randomResponse(prng(3));
    const bytes = encodeWatchResponse(r);
    expect(responseSerialize(bytes)).toBe(bytes);
    expect(responseDeserialize(bytes)).toEqual(responseDeserialize(responseSerialize(watchResponse(r))));
  });
});

describe('the direct send path of a grpc-js bidirectional call', () => {
  it('is there, and what it sends reaches the client in order', async () => {
    const pkg = loadPackage();
    const server = new Server();
    let direct = false;
    server.addService(loadServices()['etcdserverpb.Watch'], {
      Watch: (
        call: Parameters<typeof directSend>[0] & { end(): void; on(e: string, f: () => void): void },
      ) => {
        const send = directSend(call);
        direct = send !== undefined;
        call.on('data', () => {
          for (let i = 1; i <= 3; i++)
            send?.(encodeWatchResponse({ header: ZERO_HEADER, watchId: i, events: [] }), () => {});
          call.end();
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    try {
      const proto = loadPackageDefinition(pkg) as unknown as {
        etcdserverpb: {
          Watch: new (
            address: string,
            creds: ReturnType<typeof credentials.createInsecure>,
          ) => { Watch(): NodeJS.ReadWriteStream & { end(): void } };
        };
      };
      const client = new proto.etcdserverpb.Watch(`127.0.0.1:${port}`, credentials.createInsecure());
      const stream = client.Watch();
      const ids: string[] = [];
      const done = new Promise<void>((resolve, reject) => {
        stream.on('data', (m: { watch_id: string }) => ids.push(m.watch_id));
        stream.on('end', resolve);
        stream.on('error', reject);
      });
      stream.write({ progress_request: {} } as never);
      await done;
      expect(direct).toBe(true);
      expect(ids).toEqual(['1', '2', '3']);
    } finally {
      server.forceShutdown();
    }
  });
});

const ZERO_HEADER = { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
