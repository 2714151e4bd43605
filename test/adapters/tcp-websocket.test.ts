// The WebSocket peer path: the peer port of a TcpTransport takes WebSocket upgrades at PEER_WEBSOCKET_PATH, and
// WebSocketTransport dials them with the same frames.

import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  decodeHandshakeReply,
  encodeFrame,
  encodeHello,
  FRAME_HEADER_BYTES,
} from '../../adapters/transport/peer/wire.ts';
import { TcpTransport, type TcpTransportOptions } from '../../adapters/transport/tcp/index.ts';
import { PEER_WEBSOCKET_PATH, WebSocketTransport } from '../../adapters/transport/websocket/index.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { Inbox, runTransportConformance } from '../conformance/transport.ts';
import { tcpHarness } from '../support/tcp-harness.ts';

const CLUSTER = 0x5eb5_0c4e_7000_0001n;
const HOST = '127.0.0.1';
const BACKOFF = { initialMs: 10, maxMs: 50 };
const WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const opened: TcpTransport[] = [];
const clients: WebSocket[] = [];

afterEach(async () => {
  for (const ws of clients.splice(0)) ws.terminate();
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

type Kind = 'tcp' | 'websocket';

async function startTransport(
  kind: Kind,
  memberId: NodeId,
  handler: Inbox,
  options: Partial<TcpTransportOptions> = {},
): Promise<TcpTransport> {
  const config = {
    clusterId: CLUSTER,
    memberId,
    listen: { host: HOST, port: 0 },
    backoff: BACKOFF,
    ...options,
  };
  const transport = kind === 'tcp' ? new TcpTransport(config) : new WebSocketTransport(config);
  opened.push(transport);
  await transport.start(handler);
  return transport;
}

const url = (t: TcpTransport) => `http://${HOST}:${t.address().port}`;

function heartbeat(from: NodeId, to: NodeId, index: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, index };
}

runTransportConformance(
  'websocket',
  async () =>
    tcpHarness(
      (id) =>
        new WebSocketTransport({
          clusterId: CLUSTER,
          memberId: id,
          listen: { host: HOST, port: 0 },
          backoff: BACKOFF,
        }),
      url,
    ),
  { fifo: true },
);

const A = 0xa000_0000_0000_000an;
const B = 0xb000_0000_0000_000bn;

describe('WebSocket peers on the peer port', () => {
  it('lets a WebSocket member and a TCP member talk both ways, 1 MiB chunks included', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const a = await startTransport('websocket', A, inboxA);
    const b = await startTransport('tcp', B, inboxB);
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    const big: Message = { ...heartbeat(A, B, 2), context: new Uint8Array(1024 * 1024).fill(9) };
    a.send([heartbeat(A, B, 1), big]);
    b.send([heartbeat(B, A, 3)]);
    await waitFor(() => inboxB.messages.length === 2 && inboxA.messages.length === 1, 'messages both ways');
    expect(inboxB.messages.map((m) => m.index)).toEqual([1, 2]);
    expect(inboxB.messages[1].context?.every((x) => x === 9)).toBe(true);
    expect(inboxA.messages[0].index).toBe(3);
  });

  it('refuses a WebSocket member of another cluster', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const a = await startTransport('websocket', A, inboxA, { clusterId: CLUSTER + 1n });
    const b = await startTransport('tcp', B, inboxB);
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');
    expect(inboxB.messages).toEqual([]);
  });

  it('refuses a reverse link (listens: false) in the name of a member it dials: only browser members', async () => {
    const inboxB = new Inbox();
    const b = await startTransport('tcp', B, inboxB);
    b.addPeer(A, `http://${HOST}:1`); // A is a dialed member: someone claiming to be A cannot take its traffic
    const ws = new WebSocket(`ws://${HOST}:${b.address().port}${PEER_WEBSOCKET_PATH}`);
    clients.push(ws);
    const frames: Buffer[] = [];
    ws.on('message', (d: Buffer) => frames.push(d));
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    ws.send(encodeHello({ cluster: CLUSTER, from: A, to: B, listens: false }));
    await closed;
    const reply = Buffer.concat(frames);
    expect(decodeHandshakeReply(reply.subarray(FRAME_HEADER_BYTES))).toMatchObject({
      ok: false,
      code: 'member',
    });
    expect(b.reverseConnected(A)).toBe(false);
  });

  it('closes a peer WebSocket that sends text, and answers other paths with 404', async () => {
    const inboxB = new Inbox();
    const b = await startTransport('tcp', B, inboxB);
    b.addPeer(A, 'unused.invalid:1');
    const ws = new WebSocket(`ws://${HOST}:${b.address().port}${PEER_WEBSOCKET_PATH}`);
    clients.push(ws);
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    ws.send(encodeHello({ cluster: CLUSTER, from: A, to: B }));
    ws.send(encodeFrame(heartbeat(A, B, 1)));
    await waitFor(() => inboxB.messages.length === 1, 'the binary message');
    ws.send('not a frame');
    await closed;

    const other = new WebSocket(`ws://${HOST}:${b.address().port}/elsewhere`);
    clients.push(other);
    const status = await new Promise<number>((resolve) => {
      other.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      other.once('error', () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});
