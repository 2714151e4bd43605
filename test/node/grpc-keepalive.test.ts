// etcd's gRPC keepalive flags on edgecd's own HTTP/2 server (adapters/runtime/node/grpc/http2/keepalive.ts), over a
// real socket with a raw HTTP/2 client:
// - --grpc-keepalive-interval/-timeout: a client silent for the interval is pinged; one that does not answer is
//   disconnected after the timeout; one that answers keeps its connection;
// - --grpc-keepalive-min-time: a client that pings again and again sooner than that gets GOAWAY ENHANCE_YOUR_CALM
//   "too_many_pings" on its third strike (grpc-go's maxPingStrikes 2); pings spaced past it are fine.

import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';
import {
  ACK,
  DATA,
  type Frame,
  frame,
  GOAWAY,
  grpcMessage,
  HEADERS,
  PREFACE,
  readFrames,
  requestHeaders,
  SETTINGS,
  watchCreate,
} from '../support/raw-h2.ts';

const PING = 0x6;
const ENHANCE_YOUR_CALM = 0xb;
const WATCH = '/etcdserverpb.Watch/Watch';

let cluster: MemoryCluster;
const servers: ClientServer[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1 });
}, 30_000);
afterAll(async () => {
  for (const s of sockets) s.destroy();
  for (const s of servers) await s.close();
  await cluster?.close();
});

async function serve(keepalive: { minTimeMs: number; intervalMs: number; timeoutMs: number }) {
  const server = await startClientServer({ node: cluster.nodes[0], keepalive });
  servers.push(server);
  return server;
}

/** A raw client: its preface and SETTINGS sent, the server's frames collected (SETTINGS acknowledged). */
function client(port: number, answerPings: boolean) {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  sockets.push(socket);
  const frames: Frame[] = [];
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  readFrames(socket, (f) => {
    frames.push(f);
    if (answerPings && f.type === PING && !(f.flags & ACK)) socket.write(frame(PING, ACK, 0, f.payload));
  });
  socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
  return { socket, frames, closed: () => closed };
}

const pings = (frames: Frame[]) => frames.filter((f) => f.type === PING && !(f.flags & ACK)).length;

describe('--grpc-keepalive-interval and --grpc-keepalive-timeout', () => {
  it('a silent client is pinged, and disconnected when it does not answer; one that answers stays', async () => {
    const server = await serve({ minTimeMs: 5000, intervalMs: 200, timeoutMs: 200 });
    const silent = client(server.port, false);
    const answering = client(server.port, true);
    await waitFor(
      'the silent client pinged and closed',
      () => pings(silent.frames) === 1 && silent.closed(),
      5000,
    );
    // The server closes without GOAWAY, as grpc-go does.
    expect(silent.frames.some((f) => f.type === GOAWAY)).toBe(false);
    await waitFor('the answering client pinged twice', () => pings(answering.frames) >= 2, 5000);
    expect(answering.closed()).toBe(false);
  });
});

describe('--grpc-keepalive-min-time', () => {
  const openWatch = async (c: ReturnType<typeof client>) => {
    c.socket.write(
      Buffer.concat([
        frame(HEADERS, 0x4, 1, requestHeaders(WATCH)),
        frame(DATA, 0, 1, grpcMessage(watchCreate('a', 'b'))),
      ]),
    );
    await waitFor('the watch created', () => c.frames.some((f) => f.type === DATA && f.streamId === 1));
  };
  const ping = (c: ReturnType<typeof client>) => c.socket.write(frame(PING, 0, 0, Buffer.alloc(8)));

  it('the third ping too soon ends the connection: GOAWAY ENHANCE_YOUR_CALM too_many_pings', async () => {
    const server = await serve({ minTimeMs: 5000, intervalMs: 3_600_000, timeoutMs: 20_000 });
    const c = client(server.port, false);
    await openWatch(c);
    for (let i = 0; i < 4; i++) ping(c);
    await waitFor('GOAWAY', () => c.frames.some((f) => f.type === GOAWAY));
    const goaway = c.frames.find((f) => f.type === GOAWAY) as Frame;
    expect(goaway.payload.readUInt32BE(4)).toBe(ENHANCE_YOUR_CALM);
    expect(goaway.payload.subarray(8).toString()).toBe('too_many_pings');
    await waitFor('closed', () => c.closed());
  });

  it('pings spaced past the minimum are fine', async () => {
    const server = await serve({ minTimeMs: 50, intervalMs: 3_600_000, timeoutMs: 20_000 });
    const c = client(server.port, false);
    await openWatch(c);
    for (let i = 0; i < 5; i++) {
      ping(c);
      await new Promise((r) => setTimeout(r, 80));
    }
    await waitFor('five acks', () => c.frames.filter((f) => f.type === PING && f.flags & ACK).length === 5);
    expect(c.frames.some((f) => f.type === GOAWAY)).toBe(false);
    expect(c.closed()).toBe(false);
  });
});
