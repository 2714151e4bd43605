// The fetch transport (adapters/transport/fetch) inside workerd: the shared transport conformance suite between
// three Durable Objects (TransportTestObject in ./worker.ts), every batch a real DO → DO RPC call carrying msgpack.
// Each transport is created inside its object (runInDurableObject) with the test's handler; what a transport
// receives arrives through its object's `deliver` RPC method.

import { runInDurableObject } from 'cloudflare:test';
import { type DurableObjectNamespace, env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  decodeReply,
  encodeBatch,
  encodeMessage,
  FetchTransport,
} from '../../../adapters/transport/fetch/index.ts';
import type { Message } from '../../../src/raft/types.ts';
import {
  fullMessage,
  Inbox,
  runTransportConformance,
  type TransportHarness,
} from '../../conformance/transport.ts';
import type { TransportTestObject } from './worker.ts';

const namespace = env.TRANSPORT_TEST as DurableObjectNamespace<TransportTestObject>;
const CLUSTER = 0x1234_5678_9abc_def0n;

function harness(): TransportHarness {
  const opened: FetchTransport[] = [];
  return {
    async transports(ids, handlers) {
      const run = crypto.randomUUID();
      const names = ids.map((_, i) => `${run}-${i}`);
      const transports: FetchTransport[] = [];
      for (let i = 0; i < ids.length; i++) {
        const stub = namespace.get(namespace.idFromName(names[i]));
        const t = await runInDurableObject(stub, (instance: TransportTestObject) =>
          instance.open(ids[i], CLUSTER, handlers[i]),
        );
        transports.push(t);
      }
      transports.forEach((t, i) => {
        ids.forEach((peer, j) => {
          if (j !== i) t.addPeer(peer, names[j]);
        });
      });
      opened.push(...transports);
      return transports;
    },
    async settle() {
      for (let round = 0; round < 3; round++) {
        await Promise.all(opened.map((t) => t.idle()));
        await new Promise((r) => setTimeout(r, 0));
      }
    },
    async cleanup() {
      opened.length = 0;
    },
  };
}

runTransportConformance('fetch (workerd, Durable Object RPC)', async () => harness(), { fifo: true });

describe('fetch transport: batches and refusals', () => {
  const A = 11n;
  const B = 22n;

  it('sends one call per peer per turn, and refuses another cluster or target', async () => {
    const calls: Uint8Array[] = [];
    const inbox = new Inbox();
    const b = new FetchTransport({ id: B, clusterId: CLUSTER, deliver: async () => ({ ok: true }) });
    await b.start(inbox);
    b.addPeer(A, 'a');
    const a = new FetchTransport({
      id: A,
      clusterId: CLUSTER,
      deliver: async (_address, body) => {
        calls.push(body);
        return b.receive(body);
      },
    });
    await a.start(new Inbox());
    a.addPeer(B, 'b');
    const msgs: Message[] = Array.from({ length: 20 }, (_, i) => ({
      type: 'MsgHeartbeat',
      from: A,
      to: B,
      term: 1,
      index: i,
    }));
    for (const m of msgs) a.send([m]);
    await a.idle();
    expect(calls).toHaveLength(1);
    expect(inbox.messages.map((m) => m.index)).toEqual(msgs.map((m) => m.index));

    const other = encodeBatch({ cluster: 1n, from: A, to: B, messages: [encodeMessage(fullMessage(A, B))] });
    expect(b.receive(other)).toMatchObject({ ok: false, code: 'cluster' });
    const wrongTarget = encodeBatch({ cluster: CLUSTER, from: A, to: 99n, messages: [] });
    expect(b.receive(wrongTarget)).toMatchObject({ ok: false, code: 'target' });
    expect(b.receive(Uint8Array.of(0xc1))).toMatchObject({ ok: false, code: 'malformed' });
    // A sender that is not (or no longer) a peer: refused, as the Node peer port refuses it.
    const stranger = encodeBatch({
      cluster: CLUSTER,
      from: 77n,
      to: B,
      messages: [encodeMessage(fullMessage(77n, B))],
    });
    expect(b.receive(stranger)).toMatchObject({ ok: false, code: 'member' });
    b.removePeer(A);
    expect(b.receive(encodeBatch({ cluster: CLUSTER, from: A, to: B, messages: [] }))).toMatchObject({
      ok: false,
      code: 'member',
    });
    expect(decodeReply(Uint8Array.of(0xc1))).toMatchObject({ ok: false, code: 'malformed' });
    expect(inbox.messages).toHaveLength(20);
  });

  it('drops beyond its bound without throwing, and reports the peer unreachable', async () => {
    const inbox = new Inbox();
    let release: () => void = () => {};
    const a = new FetchTransport({
      id: A,
      clusterId: CLUSTER,
      maxQueuedMessages: 10,
      deliver: () => new Promise((resolve) => (release = () => resolve({ ok: true }))),
    });
    await a.start(inbox);
    a.addPeer(B, 'b');
    a.send([{ type: 'MsgHeartbeat', from: A, to: B, term: 1 }]);
    await new Promise((r) => setTimeout(r, 0)); // the first call is now in flight
    const many: Message[] = Array.from({ length: 50 }, () => ({
      type: 'MsgHeartbeat',
      from: A,
      to: B,
      term: 1,
    }));
    expect(() => a.send(many)).not.toThrow();
    await new Promise((r) => setTimeout(r, 0));
    expect(inbox.unreachable).toContain(B);
    release();
    await new Promise((r) => setTimeout(r, 0));
    release();
    await a.idle();
  });

  it('a failing deliver reports the peer unreachable, never throws', async () => {
    const inbox = new Inbox();
    const a = new FetchTransport({
      id: A,
      clusterId: CLUSTER,
      deliver: () => {
        throw new Error('boom');
      },
    });
    await a.start(inbox);
    a.addPeer(B, 'b');
    expect(() => a.send([{ type: 'MsgHeartbeat', from: A, to: B, term: 1 }])).not.toThrow();
    await a.idle();
    expect(inbox.unreachable).toEqual([B]);
  });
});
