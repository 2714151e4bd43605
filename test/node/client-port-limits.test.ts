// The client port's limits on what one connection may hold (startClientServer over a real socket, an in-process
// member): etcd's --max-concurrent-streams, the handshake deadline and the HTTP/1.1 header timeout.
// - Streams past the limit that a client opened before it knew it are refused with REFUSED_STREAM (a real etcd
//   3.4.23 with --max-concurrent-streams=4 answers the same), later ones wait in the client, and other clients are
//   served meanwhile. A client that ignores a limit it has acknowledged has each stream past it refused with
//   REFUSED_STREAM and keeps its connection, as with grpc-go.
// - A connection that shows no HTTP/2 SETTINGS and no HTTP/1.1 request by the handshake deadline is closed;
//   half-sent headers get 408 and are closed; a gateway watch whose request body stays open is not.

import { type ClientHttp2Session, connect as connect2 } from 'node:http2';
import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import type { EdgeNode } from '../../src/index.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';
import {
  DATA,
  frame,
  GOAWAY,
  grpcMessage,
  HEADERS,
  PREFACE,
  REFUSED_STREAM,
  RST_STREAM,
  readFrames,
  requestHeaders,
  SETTINGS,
  watchCreate,
} from '../support/raw-h2.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const WATCH = '/etcdserverpb.Watch/Watch';
const watchBody = grpcMessage(watchCreate('a', 'b'));

let cluster: MemoryCluster;
let node: EdgeNode;
const servers: ClientServer[] = [];
const sessions: ClientHttp2Session[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1 });
  node = cluster.nodes[0];
}, 30_000);
afterEach(() => {
  for (const s of sessions.splice(0)) s.destroy();
  for (const s of sockets.splice(0)) s.destroy();
});
afterAll(async () => {
  for (const s of servers) await s.close();
  await cluster?.close();
});

async function serve(options: {
  maxConcurrentStreams?: number;
  handshakeTimeoutMs?: number;
  headersTimeoutMs?: number;
}): Promise<ClientServer> {
  const server = await startClientServer({ node, gateway: createGateway(node), ...options });
  servers.push(server);
  return server;
}

function session(port: number): ClientHttp2Session {
  const s = connect2(`http://127.0.0.1:${port}`);
  s.on('error', () => {});
  sessions.push(s);
  return s;
}

function socket(port: number): Socket {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => {});
  s.resume(); // flowing, so that the server's FIN is seen
  sockets.push(s);
  return s;
}

/** A gRPC watch stream on `s`: `created` once its first response arrives, `rstCode` once it closes. */
function watch(s: ClientHttp2Session) {
  const state = { created: false, closed: false, rstCode: -1 };
  const stream = s.request({
    ':method': 'POST',
    ':path': WATCH,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.write(grpcMessage(watchCreate('a', 'b')));
  stream.on('data', () => {
    state.created = true;
  });
  stream.on('error', () => {});
  stream.on('close', () => {
    state.closed = true;
    state.rstCode = stream.rstCode ?? -1;
  });
  return { state, stream };
}

/** The gateway and a second gRPC connection both answer. */
async function othersServed(port: number, tag: string): Promise<void> {
  const base = `http://127.0.0.1:${port}`;
  const put = await fetch(`${base}/v3/kv/put`, {
    method: 'POST',
    body: JSON.stringify({ key: b64(tag), value: b64('v') }),
  });
  expect(put.status).toBe(200);
  const other = watch(session(port));
  await waitFor('another client served', () => other.state.created);
  other.stream.close();
}

describe('--max-concurrent-streams', () => {
  it('refuses streams opened past the limit before it was known, queues later ones; others are served', async () => {
    const server = await serve({ maxConcurrentStreams: 4 });
    const s = session(server.port);
    const first = Array.from({ length: 8 }, () => watch(s));
    const settled = () => first.filter((w) => w.state.created || w.state.closed).length === 8;
    await waitFor('8 streams answered or refused', settled);
    expect(first.filter((w) => w.state.created && !w.state.closed)).toHaveLength(4);
    expect(first.filter((w) => w.state.closed).map((w) => w.state.rstCode)).toEqual([7, 7, 7, 7]); // REFUSED_STREAM
    expect(s.remoteSettings.maxConcurrentStreams).toBe(4);
    expect(node.nodeStatus().watchers).toBe(4);

    // Now that the client knows the limit it holds new streams back until open ones end.
    const later = Array.from({ length: 3 }, () => watch(s));
    await othersServed(server.port, 'limit/1');
    expect(later.some((w) => w.state.created || w.state.closed)).toBe(false);
    const open = first.filter((w) => w.state.created && !w.state.closed);
    for (const w of open.slice(0, 2)) w.stream.close();
    await waitFor('two queued streams served', () => later.filter((w) => w.state.created).length === 2);
    expect(node.nodeStatus().watchers).toBeLessThanOrEqual(4);
    expect(later.some((w) => w.state.closed)).toBe(false);
  });

  it('a client that ignores a limit it acknowledged has each stream past it refused, as grpc-go does; others are served', async () => {
    const server = await serve({ maxConcurrentStreams: 4 });
    const raw = socket(server.port);
    let settings = 0;
    let goaway = -1;
    const refused: number[] = [];
    const created = new Set<number>();
    readFrames(raw, (f) => {
      if (f.type === SETTINGS && !(f.flags & 1) && ++settings === 1) {
        // The server's SETTINGS, acknowledged (readFrames did): six more streams, seven in all.
        const more = [3, 5, 7, 9, 11, 13].map((id) => frame(HEADERS, 0x4, id, requestHeaders(WATCH)));
        raw.write(
          Buffer.concat([...more, ...[1, 3, 5, 7, 9, 11, 13].map((id) => frame(DATA, 0, id, watchBody))]),
        );
      }
      if (f.type === RST_STREAM && f.payload.readUInt32BE(0) === REFUSED_STREAM) refused.push(f.streamId);
      if (f.type === DATA) created.add(f.streamId);
      if (f.type === GOAWAY) goaway = f.payload.readUInt32BE(4);
    });
    raw.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), frame(HEADERS, 0x4, 1, requestHeaders(WATCH))]));
    await waitFor('streams past the limit refused', () => refused.length === 3);
    await waitFor('the four others served', () => created.size === 4);
    expect(refused).toEqual([9, 11, 13]);
    expect([...created].sort((a, b) => a - b)).toEqual([1, 3, 5, 7]);
    expect(goaway).toBe(-1);
    expect(raw.destroyed || raw.readableEnded).toBe(false);
    await othersServed(server.port, 'limit/2');
  });

  it('advertises 2^32 - 1 by default, as etcd 3.4 (math.MaxUint32)', async () => {
    const server = await serve({});
    const s = session(server.port);
    await new Promise<void>((resolve) => s.once('remoteSettings', () => resolve()));
    expect(s.remoteSettings.maxConcurrentStreams).toBe(2 ** 32 - 1);
  });
});

describe('handshake deadline and header timeout', () => {
  it('closes connections that show nothing by the deadline and half-sent headers; open streams live on', async () => {
    const server = await serve({ handshakeTimeoutMs: 300, headersTimeoutMs: 300 });
    const silent = socket(server.port);
    const partial = socket(server.port);
    partial.write(PREFACE.subarray(0, 16));
    const prefaceOnly = socket(server.port);
    prefaceOnly.write(PREFACE);
    // The preface and SETTINGS: grpc-go's handshake is done, and it holds such a connection for as long as it lives.
    const handshaken = socket(server.port);
    handshaken.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0)]));
    const slowloris = socket(server.port);
    let answer = '';
    slowloris.on('data', (d) => {
      answer += String(d);
    });
    slowloris.write('POST /v3/kv/range HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => slowloris.write('X'), 50);
    // A gateway watch whose request body (a stream of JSON requests) never ends.
    const watcher = socket(server.port);
    let events = '';
    watcher.on('data', (d) => {
      events += String(d);
    });
    const create = JSON.stringify({ create_request: { key: b64('hs/'), range_end: b64('hs0') } });
    watcher.write('POST /v3/watch HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    watcher.write(`${create.length.toString(16)}\r\n${create}\r\n`);
    try {
      const closed = (s: Socket) => s.destroyed || s.readableEnded;
      await waitFor('idle connections closed', () => [silent, partial, prefaceOnly].every(closed));
      await waitFor('half-sent headers closed', () => closed(slowloris));
    } finally {
      clearInterval(drip);
    }
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(handshaken.destroyed || handshaken.readableEnded).toBe(false);
    await fetch(`http://127.0.0.1:${server.port}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({ key: b64('hs/1'), value: b64('after') }),
    });
    await waitFor('the open watch gets the event', () => events.includes(b64('after')));
    expect(watcher.destroyed).toBe(false);
  });
});
