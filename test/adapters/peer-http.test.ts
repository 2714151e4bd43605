// Durable Object ↔ Node over HTTP: a Node member's peer port takes the fetch transport's batches at
// POST /edgecd/peer/batch, and a TcpTransport sends HTTP batches to peers whose address is an http(s) URL under
// /edgecd/peer/ (a Worker routing to a Durable Object member). The Durable Object side here is a FetchTransport
// running in Node with httpDeliver, behind a node:http server, over real HTTP on 127.0.0.1.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeReply,
  encodeBatch,
  encodeMessage,
  encodeReply,
  FetchTransport,
  httpDeliver,
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
} from '../../adapters/transport/fetch/index.ts';
import { FETCH_PROTOCOL_VERSION } from '../../adapters/transport/peer/batch.ts';
import { TcpTransport } from '../../adapters/transport/tcp/index.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import type { Transport, TransportHandler } from '../../src/transport.ts';
import {
  fullMessage,
  Inbox,
  runTransportConformance,
  snapMessage,
  type TransportHarness,
} from '../conformance/transport.ts';

const CLUSTER = 0x5eb5_0c4e_7000_00a1n;
const HOST = '127.0.0.1';
const BACKOFF = { initialMs: 10, maxMs: 50 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** A FetchTransport served over node:http at any /edgecd/peer/* path (as a Worker routes to a member). */
class FetchMember {
  readonly transport: FetchTransport;
  readonly server: Server;
  /** Requests being answered. */
  active = 0;
  readonly paths: string[] = [];

  constructor(id: NodeId, clusterId = CLUSTER) {
    this.transport = new FetchTransport({ id, clusterId, deliver: httpDeliver(fetch, 5_000) });
    this.server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method !== 'POST' || !path.startsWith('/edgecd/peer/')) {
        res.writeHead(404).end();
        req.resume();
        return;
      }
      this.active++;
      this.paths.push(path);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const reply = this.transport.receive(Buffer.concat(chunks));
        res.writeHead(200, { 'content-type': PEER_CONTENT_TYPE }).end(encodeReply(reply));
        this.active--;
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, HOST, () => resolve()));
  }

  get base(): string {
    return `http://${HOST}:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await this.transport.close();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

const tcps: TcpTransport[] = [];
const members: FetchMember[] = [];

afterEach(async () => {
  await Promise.all(tcps.splice(0).map((t) => t.close()));
  await Promise.all(members.splice(0).map((m) => m.close()));
});

async function tcp(id: NodeId, handler: TransportHandler): Promise<TcpTransport> {
  const t = new TcpTransport({
    clusterId: CLUSTER,
    memberId: id,
    listen: { host: HOST, port: 0 },
    backoff: BACKOFF,
  });
  tcps.push(t);
  await t.start(handler);
  return t;
}

async function fetchMember(id: NodeId, handler: TransportHandler, clusterId = CLUSTER): Promise<FetchMember> {
  const m = new FetchMember(id, clusterId);
  members.push(m);
  await m.listen();
  await m.transport.start(handler);
  return m;
}

const peerUrl = (t: TcpTransport) => `http://${HOST}:${t.address().port}`;
const heartbeat = (from: NodeId, to: NodeId, index: number): Message => ({
  type: 'MsgHeartbeat',
  from,
  to,
  term: 1,
  index,
});

/** Message with byte arrays as plain Uint8Array (Buffer subclasses compare unequal). */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const N = 0xffff_ffff_ffff_ff01n; // the Node member
const D = 0x8000_0000_0000_0d02n; // the "Durable Object" member

describe('Node peer port ↔ fetch transport over HTTP', () => {
  it('exchanges messages both ways with every field intact (Worker-style URL for Node → DO)', async () => {
    const inboxN = new Inbox();
    const inboxD = new Inbox();
    const n = await tcp(N, inboxN);
    const d = await fetchMember(D, inboxD);
    n.addPeer(D, `${d.base}/edgecd/peer/member-2`);
    d.transport.addPeer(N, peerUrl(n));

    n.send([fullMessage(N, D), snapMessage(N, D)]);
    d.transport.send([fullMessage(D, N), heartbeat(D, N, 5)]);
    await waitFor(() => inboxD.messages.length === 2 && inboxN.messages.length === 2, 'messages both ways');
    expect(plain(inboxD.messages[0])).toEqual(fullMessage(N, D));
    expect(plain(inboxD.messages[1])).toEqual(snapMessage(N, D));
    expect(plain(inboxN.messages[0])).toEqual(fullMessage(D, N));
    expect(inboxN.messages[1].index).toBe(5);
    expect(typeof inboxN.messages[0].from).toBe('bigint');
    expect(d.paths).toContain('/edgecd/peer/member-2');
    expect(n.stats(D).sent).toBe(2);
    expect(n.stats(N).received).toBe(0);
    expect(n.stats(D).received).toBe(2);
    await d.transport.idle();
    expect(inboxD.unreachable).toEqual([]);
    expect(inboxN.unreachable).toEqual([]);
  });

  it('answers 204 to a good batch, and an error status with a reason to a bad one', async () => {
    const inboxN = new Inbox();
    const n = await tcp(N, inboxN);
    n.addPeer(D, 'http://127.0.0.1:1/edgecd/peer/member-2');
    const post = async (body: Uint8Array, method = 'POST') => {
      const res = await fetch(`${peerUrl(n)}${PEER_FETCH_PATH}`, {
        method,
        headers: { 'content-type': PEER_CONTENT_TYPE },
        body: method === 'POST' ? (body as Uint8Array<ArrayBuffer>) : undefined,
      });
      const bytes = new Uint8Array(await res.arrayBuffer());
      return { status: res.status, reply: bytes.length ? decodeReply(bytes) : undefined };
    };
    const batch = (fields: Partial<{ cluster: bigint; from: bigint; to: bigint }>, msgs?: Message[]) =>
      encodeBatch({
        cluster: fields.cluster ?? CLUSTER,
        from: fields.from ?? D,
        to: fields.to ?? N,
        messages: (msgs ?? [heartbeat(fields.from ?? D, fields.to ?? N, 1)]).map(encodeMessage),
      });

    expect(await post(batch({}))).toEqual({ status: 204, reply: undefined });
    expect(inboxN.messages.map((m) => m.index)).toEqual([1]);

    const wrongCluster = await post(batch({ cluster: CLUSTER + 1n }));
    expect(wrongCluster.status).toBe(403);
    expect(wrongCluster.reply).toMatchObject({ ok: false, code: 'cluster' });
    const stranger = await post(batch({ from: 77n }));
    expect(stranger.status).toBe(403);
    expect(stranger.reply).toMatchObject({ ok: false, code: 'member' });
    const elsewhere = await post(batch({ to: 78n }));
    expect(elsewhere.status).toBe(421);
    expect(elsewhere.reply).toMatchObject({ ok: false, code: 'target' });
    const spoofed = await post(batch({}, [heartbeat(99n, N, 2)]));
    expect(spoofed.status).toBe(400);
    expect(spoofed.reply).toMatchObject({ ok: false, code: 'malformed' });
    const garbage = await post(Uint8Array.of(0xc1));
    expect(garbage.status).toBe(400);
    const { encode } = await import('@msgpack/msgpack');
    const future = await post(
      encode(
        { v: FETCH_PROTOCOL_VERSION + 1, cluster: CLUSTER, from: D, to: N, msgs: [] },
        { useBigInt64: true },
      ),
    );
    expect(future.status).toBe(400);
    expect(future.reply).toMatchObject({ ok: false, code: 'version' });
    expect((await post(new Uint8Array(0), 'GET')).status).toBe(405);
    expect(inboxN.messages.map((m) => m.index)).toEqual([1]);
  });

  it('reports an HTTP peer unreachable when it refuses or is down, and recovers', async () => {
    const inboxN = new Inbox();
    const inboxD = new Inbox();
    const n = await tcp(N, inboxN);
    const wrong = await fetchMember(D, inboxD, CLUSTER + 1n);
    wrong.transport.addPeer(N, peerUrl(n));
    n.addPeer(D, `${wrong.base}/edgecd/peer/member-2`);
    n.send([heartbeat(N, D, 1)]);
    await waitFor(() => inboxN.unreachable.includes(D), 'a refusal to be reported');
    expect(inboxD.messages).toEqual([]);

    const down = 'http://127.0.0.1:1/edgecd/peer/member-2';
    n.addPeer(D, down);
    expect(() => n.send([heartbeat(N, D, 2)])).not.toThrow();
    inboxN.unreachable.length = 0;
    await waitFor(() => inboxN.unreachable.includes(D), 'a failed call to be reported');

    const good = await fetchMember(D, inboxD);
    good.transport.addPeer(N, peerUrl(n)); // a receiver takes batches from its peers only
    n.addPeer(D, `${good.base}/edgecd/peer/member-2`);
    n.send([heartbeat(N, D, 3)]);
    await waitFor(() => inboxD.messages.length === 1, 'delivery after recovery');
    expect(inboxD.messages[0].index).toBe(3);
  });
});

/** Conformance: A and C are TcpTransports (TCP between them), B a FetchTransport reached over HTTP. */
function mixedHarness(): TransportHarness {
  const madeTcp: TcpTransport[] = [];
  const madeFetch: FetchMember[] = [];
  return {
    async transports(ids, handlers) {
      const out: Transport[] = [];
      const addresses: string[] = [];
      for (const [i, id] of ids.entries()) {
        if (i === 1) {
          const m = new FetchMember(id);
          await m.listen();
          await m.transport.start(handlers[i]);
          madeFetch.push(m);
          out.push(m.transport);
          addresses.push(`${m.base}/edgecd/peer/member-${i}`);
        } else {
          const t = new TcpTransport({
            clusterId: CLUSTER,
            memberId: id,
            listen: { host: HOST, port: 0 },
            backoff: BACKOFF,
          });
          await t.start(handlers[i]);
          madeTcp.push(t);
          out.push(t);
          addresses.push(peerUrl(t));
        }
      }
      for (const [i, t] of out.entries()) {
        for (const [j, id] of ids.entries()) {
          if (i === j) continue;
          // The fetch transport POSTs to `${base}/edgecd/peer/batch`; give it the bases of Node members.
          t.addPeer(id, addresses[j]);
        }
      }
      return out;
    },
    async settle() {
      const quiet = () =>
        madeFetch.every((m) => m.active === 0) &&
        madeTcp.every(
          (s) =>
            s.closed ||
            (s.pending === 0 &&
              madeTcp.every(
                (r) => r === s || r.closed || r.stats(s.memberId).received >= s.stats(r.memberId).sent,
              )),
        );
      for (let i = 0; i < 3; i++) {
        await waitFor(quiet, 'the network to settle');
        await Promise.all(madeFetch.map((m) => m.transport.idle()));
        await sleep(5);
      }
    },
    async cleanup() {
      await Promise.all(madeTcp.map((t) => t.close()));
      await Promise.all(madeFetch.map((m) => m.close()));
    },
  };
}

runTransportConformance('tcp + fetch over HTTP (Node peer port ↔ HTTP batches)', async () => mixedHarness(), {
  fifo: true,
});
