import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeHandshakeReply,
  encodeFrame,
  encodeHello,
  encodePreamble,
  FrameReader,
  MAGIC,
  PROTOCOL_VERSION,
} from '../../adapters/transport/peer/wire.ts';
import {
  parsePeerAddress,
  TcpTransport,
  type TcpTransportOptions,
} from '../../adapters/transport/tcp/index.ts';
import type { LogFields, Logger } from '../../src/env.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { Inbox, runTransportConformance, snapMessage } from '../conformance/transport.ts';
import { tcpHarness } from '../support/tcp-harness.ts';

const CLUSTER = 0xc1a5_7e00_0000_0001n;
const HOST = '127.0.0.1';
const FAST_BACKOFF = { initialMs: 10, maxMs: 50 };
const WAIT_MS = 10_000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` until it holds; fails (never hangs) after WAIT_MS. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

interface LogEvent {
  readonly level: string;
  readonly message: string;
  readonly fields?: LogFields;
}

class RecordingLogger implements Logger {
  readonly events: LogEvent[] = [];
  debug(message: string, fields?: LogFields): void {
    this.events.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.events.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.events.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.events.push({ level: 'error', message, fields });
  }
  has(level: string, pattern: RegExp, fields: LogFields = {}): boolean {
    return this.events.some(
      (e) =>
        e.level === level &&
        pattern.test(e.message) &&
        Object.entries(fields).every(([k, v]) => e.fields?.[k] === v),
    );
  }
}

/** Every transport made by a test, closed in afterEach. */
const opened: TcpTransport[] = [];
const rawSockets: Socket[] = [];

afterEach(async () => {
  for (const socket of rawSockets.splice(0)) socket.destroy();
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

async function startTransport(
  memberId: NodeId,
  handler: Inbox,
  options: Partial<TcpTransportOptions> = {},
): Promise<TcpTransport> {
  const transport = new TcpTransport({
    clusterId: CLUSTER,
    memberId,
    listen: { host: HOST, port: 0 },
    backoff: FAST_BACKOFF,
    ...options,
  });
  opened.push(transport);
  await transport.start(handler);
  return transport;
}

function url(transport: TcpTransport): string {
  return `http://${HOST}:${transport.address().port}`;
}

function heartbeat(from: NodeId, to: NodeId, index: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, index };
}

runTransportConformance(
  'tcp',
  async () =>
    tcpHarness(
      (id) =>
        new TcpTransport({
          clusterId: CLUSTER,
          memberId: id,
          listen: { host: HOST, port: 0 },
          backoff: FAST_BACKOFF,
        }),
      url,
    ),
  { fifo: true },
);

/** A raw client socket on `port`, collecting what it receives. */
function raw(port: number): { socket: Socket; received: Buffer[]; closed: Promise<void> } {
  const socket = connect({ host: HOST, port });
  rawSockets.push(socket);
  const received: Buffer[] = [];
  socket.on('data', (chunk) => received.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received, closed };
}

const A = 0xa000_0000_0000_000an;
const B = 0xb000_0000_0000_000bn;

describe('TcpTransport handshake', () => {
  it('refuses a dialer from another cluster, logs it, and the dialer reports the peer unreachable', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const logA = new RecordingLogger();
    const logB = new RecordingLogger();
    const a = await startTransport(A, inboxA, { clusterId: CLUSTER + 1n, logger: logA });
    const b = await startTransport(B, inboxB, { logger: logB });
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');
    expect(logB.has('warn', /refusing/, { code: 'cluster' })).toBe(true);
    expect(logA.has('warn', /refused/, { code: 'cluster' })).toBe(true);
    expect(inboxB.messages).toEqual([]);
  });

  it('refuses an unknown member', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const logB = new RecordingLogger();
    const a = await startTransport(A, inboxA);
    const b = await startTransport(B, inboxB, { logger: logB });
    a.addPeer(B, url(b));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');
    expect(logB.has('warn', /refusing/, { code: 'member' })).toBe(true);
    expect(inboxB.messages).toEqual([]);
  });

  it('refuses a dialer that expects another member at this address', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const logB = new RecordingLogger();
    const a = await startTransport(A, inboxA);
    const b = await startTransport(B, inboxB, { logger: logB });
    b.addPeer(A, url(a));
    a.addPeer(7n, url(b));
    a.send([heartbeat(A, 7n, 1)]);
    await waitFor(() => inboxA.unreachable.includes(7n), 'A to report 7 unreachable');
    expect(logB.has('warn', /refusing/, { code: 'target' })).toBe(true);
    expect(inboxB.messages).toEqual([]);
  });

  it('cuts off and then refuses a removed member', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const logB = new RecordingLogger();
    const a = await startTransport(A, inboxA);
    const b = await startTransport(B, inboxB, { logger: logB });
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => inboxB.messages.length === 1, 'the first message');
    b.removePeer(A);
    // The open connection is closed; sends until A notices are lost, then A redials and is refused.
    for (let i = 2; !logB.has('warn', /refusing/, { code: 'member' }); i++) {
      a.send([heartbeat(A, B, i)]);
      await sleep(10);
      if (i > WAIT_MS / 10) throw new Error('B never refused A');
    }
    expect(inboxA.unreachable).toContain(B);
    expect(inboxB.messages.map((m) => m.index)).toEqual([1]);
  });

  it('refuses a wrong protocol version from a transport and from a raw socket, delivering nothing', async () => {
    const inboxA = new Inbox();
    const inboxB = new Inbox();
    const logB = new RecordingLogger();
    const a = await startTransport(A, inboxA, { protocolVersion: PROTOCOL_VERSION + 1 });
    const b = await startTransport(B, inboxB, { logger: logB });
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');

    // A raw dialer that sends a valid-looking handshake and a message right behind it.
    const client = raw(b.address().port);
    client.socket.write(encodeHello({ cluster: CLUSTER, from: A, to: B }, 99));
    client.socket.write(encodeFrame(heartbeat(A, B, 2)));
    await client.closed;
    const reader = new FrameReader(4096);
    const [reply] = reader.push(Buffer.concat(client.received));
    expect(decodeHandshakeReply(reply)).toMatchObject({ ok: false, code: 'version' });
    expect(logB.events.filter((e) => e.fields?.code === 'version').length).toBeGreaterThanOrEqual(2);
    expect(inboxB.messages).toEqual([]);
  });

  it('accepts a raw dialer with a correct handshake (the format is as documented)', async () => {
    const inboxB = new Inbox();
    const b = await startTransport(B, inboxB);
    b.addPeer(A, 'unused.invalid:1');
    const client = raw(b.address().port);
    client.socket.write(encodeHello({ cluster: CLUSTER, from: A, to: B }));
    client.socket.write(encodeFrame(heartbeat(A, B, 5)));
    // Misaddressed and forged messages are dropped, not delivered.
    client.socket.write(encodeFrame(heartbeat(A, 9n, 6)));
    client.socket.write(encodeFrame(heartbeat(9n, B, 7)));
    client.socket.write(encodeFrame(heartbeat(A, B, 8)));
    await waitFor(() => inboxB.messages.length === 2, 'two messages');
    expect(inboxB.messages.map((m) => m.index)).toEqual([5, 8]);
    // The reply went out before the messages were delivered, but may not have reached this socket yet.
    const replies = () => new FrameReader(4096).push(Buffer.concat(client.received));
    await waitFor(() => replies().length > 0, 'the handshake reply');
    // `leases`: this member takes lease messages (peer/lease-codec.ts), `leaseTtl` their TimeToLive types too; a
    // dialer from before them ignores them.
    expect(decodeHandshakeReply(replies()[0])).toEqual({ ok: true, leases: true, leaseTtl: true });
  });
});

describe('TcpTransport connections', () => {
  it('reconnects after the peer restarts on the same port', async () => {
    const inboxA = new Inbox();
    const a = await startTransport(A, inboxA);
    const b1 = await startTransport(B, new Inbox());
    const port = b1.address().port;
    a.addPeer(B, url(b1));
    b1.addPeer(A, url(a));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => b1.stats(A).received === 1, 'the first message');
    await b1.close();

    // While B is down, sends are dropped and reported.
    a.send([heartbeat(A, B, 2)]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');

    const inboxB = new Inbox();
    const b2 = await startTransport(B, inboxB, { listen: { host: HOST, port } });
    b2.addPeer(A, url(a));
    for (let i = 3; inboxB.messages.length === 0; i++) {
      a.send([heartbeat(A, B, i)]);
      await sleep(10);
      if (i > WAIT_MS / 10) throw new Error('no message after the restart');
    }
    expect(inboxB.messages[0].from).toBe(A);
  });

  it('bounds the queue of an unreachable peer under a flood of 1,000,000 sends', async () => {
    // A port with nothing listening.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
    const address = probe.address();
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const port = typeof address === 'object' && address ? address.port : 1;

    const inboxA = new Inbox();
    const cap = 1_000;
    const a = await startTransport(A, inboxA, { maxQueuedMessages: cap, maxQueuedBytes: 64 * 1024 });
    a.addPeer(B, `${HOST}:${port}`);
    let maxQueued = 0;
    let maxQueuedBytes = 0;
    expect(() => {
      for (let i = 0; i < 1_000; i++) {
        const batch: Message[] = [];
        for (let j = 0; j < 1_000; j++) batch.push(heartbeat(A, B, i * 1_000 + j));
        a.send(batch);
        maxQueued = Math.max(maxQueued, a.stats(B).queued);
        maxQueuedBytes = Math.max(maxQueuedBytes, a.stats(B).queuedBytes);
      }
    }).not.toThrow();
    expect(maxQueued).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(cap);
    expect(maxQueuedBytes).toBeLessThanOrEqual(64 * 1024);
    // Reported later, never from inside send.
    expect(inboxA.unreachable).toEqual([]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');
    await waitFor(() => a.pending === 0, 'the queue to empty');
    expect(a.stats(B).dropped).toBe(1_000_000);
    // Reports are coalesced: not one per dropped message.
    expect(inboxA.unreachable.length).toBeLessThan(100);
  });

  it('bounds the queue by bytes as well', async () => {
    const inboxA = new Inbox();
    const a = await startTransport(A, inboxA, { maxQueuedBytes: 10_000 });
    a.addPeer(B, `${HOST}:1`);
    const big: Message = { ...heartbeat(A, B, 1), context: new Uint8Array(3_000) };
    a.send([big, big, big, big, big]);
    expect(a.stats(B).queued).toBe(3);
    expect(a.stats(B).queuedBytes).toBeLessThanOrEqual(10_000);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');
  });

  it('carries 1 MiB snapshot chunks intact, and a burst larger than the socket buffer', async () => {
    const inboxB = new Inbox();
    const a = await startTransport(A, new Inbox());
    const b = await startTransport(B, inboxB);
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    const chunk = (i: number): Message => {
      const m = snapMessage(A, B);
      const data = new Uint8Array(1024 * 1024).map((_, j) => (i + j * 31) & 0xff);
      return { ...m, snapshot: { ...m.snapshot!, offset: i * data.length, data, total: 32 * data.length } };
    };
    for (let i = 0; i < 32; i++) a.send([chunk(i)]);
    await waitFor(() => inboxB.messages.length === 32, '32 chunks');
    inboxB.messages.forEach((m, i) => {
      expect(m.snapshot?.offset).toBe(i * 1024 * 1024);
      expect(Buffer.from(m.snapshot!.data).equals(Buffer.from(chunk(i).snapshot!.data))).toBe(true);
    });
  });

  it('drops (and logs) a message larger than the frame limit', async () => {
    const inboxA = new Inbox();
    const log = new RecordingLogger();
    const a = await startTransport(A, inboxA, { maxFrameBytes: 1024, logger: log });
    const b = await startTransport(B, new Inbox(), { maxFrameBytes: 1024 });
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    a.send([{ ...heartbeat(A, B, 1), context: new Uint8Array(2048) }]);
    await waitFor(() => inboxA.unreachable.includes(B), 'A to report B unreachable');
    expect(log.has('error', /frame limit/)).toBe(true);
  });

  it('keeps the numbers of a message numbers, even above 2^32', async () => {
    const inboxB = new Inbox();
    const a = await startTransport(A, new Inbox());
    const b = await startTransport(B, inboxB);
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    const big = 2 ** 40 + 3;
    a.send([
      {
        type: 'MsgApp',
        from: A,
        to: B,
        term: big,
        index: big,
        logTerm: big,
        commit: big,
        entries: [{ term: big, index: big + 1, type: 'normal', data: new Uint8Array(1) }],
      },
    ]);
    await waitFor(() => inboxB.messages.length === 1, 'the message');
    const [m] = inboxB.messages;
    expect([m.term, m.index, m.logTerm, m.commit, m.entries?.[0].term, m.entries?.[0].index]).toEqual([
      big,
      big,
      big,
      big,
      big,
      big + 1,
    ]);
  });
});

describe('TcpTransport hostile input', () => {
  async function victim(log: RecordingLogger): Promise<{ b: TcpTransport; inboxB: Inbox; a: TcpTransport }> {
    const inboxB = new Inbox();
    const b = await startTransport(B, inboxB, { logger: log });
    const a = await startTransport(A, new Inbox());
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    return { b, inboxB, a };
  }

  /** The victim still serves a well-behaved peer. */
  async function stillWorks(a: TcpTransport, inboxB: Inbox): Promise<void> {
    a.send([heartbeat(A, B, 42)]);
    await waitFor(() => inboxB.messages.some((m) => m.index === 42), 'a message from a good peer');
  }

  it('closes a connection announcing an oversized frame after the handshake, allocating nothing', async () => {
    const log = new RecordingLogger();
    const { b, inboxB, a } = await victim(log);
    const client = raw(b.address().port);
    client.socket.write(encodeHello({ cluster: CLUSTER, from: A, to: B }));
    client.socket.write(Uint8Array.of(0xff, 0xff, 0xff, 0xf0, 1, 2, 3));
    await client.closed;
    expect(log.has('error', /oversized/, { length: 0xfffffff0 })).toBe(true);
    await stillWorks(a, inboxB);
  });

  it('closes a connection whose handshake frame is oversized', async () => {
    const log = new RecordingLogger();
    const { b, inboxB, a } = await victim(log);
    const client = raw(b.address().port);
    client.socket.write(encodePreamble());
    client.socket.write(Uint8Array.of(0x01, 0x00, 0x00, 0x00));
    await client.closed;
    expect(log.has('error', /oversized/, { length: 0x01000000 })).toBe(true);
    await stillWorks(a, inboxB);
  });

  it('closes a connection that sends garbage instead of a preamble', async () => {
    const log = new RecordingLogger();
    const { b, inboxB, a } = await victim(log);
    const client = raw(b.address().port);
    client.socket.write(Buffer.from('\x00\x01garbage garbage garbage'));
    await client.closed;
    expect(log.has('warn', /unknown protocol/)).toBe(true);
    await stillWorks(a, inboxB);
  });

  it('closes a connection with the magic and a garbage handshake', async () => {
    const log = new RecordingLogger();
    const { b, inboxB, a } = await victim(log);
    const client = raw(b.address().port);
    client.socket.write(encodePreamble());
    client.socket.write(Uint8Array.of(0, 0, 0, 5, 0xc1, 0xc1, 0xc1, 0xc1, 0xc1));
    await client.closed;
    expect(log.has('warn', /refusing/, { code: 'malformed' })).toBe(true);
    await stillWorks(a, inboxB);
  });

  it('closes an authenticated connection that sends an undecodable frame', async () => {
    const log = new RecordingLogger();
    const { b, inboxB, a } = await victim(log);
    const client = raw(b.address().port);
    client.socket.write(encodeHello({ cluster: CLUSTER, from: A, to: B }));
    client.socket.write(Uint8Array.of(0, 0, 0, 3, 0xc1, 0xff, 0x00));
    client.socket.write(encodeFrame({ not: 'a message' }));
    await client.closed;
    expect(log.has('error', /closing a peer connection/)).toBe(true);
    expect(inboxB.messages).toEqual([]);
    await stillWorks(a, inboxB);
  });

  it('closes a connection that says nothing, after the handshake timeout', async () => {
    const log = new RecordingLogger();
    const b = await startTransport(B, new Inbox(), { logger: log, handshakeTimeoutMs: 50 });
    const silent = raw(b.address().port);
    const magicOnly = raw(b.address().port);
    magicOnly.socket.write(MAGIC);
    await Promise.all([silent.closed, magicOnly.closed]);
    expect(log.has('warn', /no protocol preamble/)).toBe(true);
    expect(log.has('error', /closing a peer connection/, { reason: 'no handshake in time' })).toBe(true);
  });
});

describe('TcpTransport peer port', () => {
  it('answers HTTP with 404 by default, and hands it to onHttpConnection when given', async () => {
    const plain = await startTransport(A, new Inbox());
    const client = raw(plain.address().port);
    client.socket.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    await client.closed;
    expect(Buffer.concat(client.received).toString()).toMatch(/^HTTP\/1\.1 404/);

    const http = createHttpServer((_req, res) => res.end('peer port http'));
    const routed = await startTransport(B, new Inbox(), {
      onHttpConnection: (socket) => http.emit('connection', socket),
    });
    const response = await fetch(`${url(routed)}/`);
    expect(await response.text()).toBe('peer port http');
    http.close();
  });

  it('takes connections from a caller-owned server and leaves it open on close', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const inboxB = new Inbox();
    const b = await startTransport(B, inboxB, { listen: server });
    const a = await startTransport(A, new Inbox());
    a.addPeer(B, url(b));
    b.addPeer(A, url(a));
    a.send([heartbeat(A, B, 1)]);
    await waitFor(() => inboxB.messages.length === 1, 'the message');
    await b.close();
    expect(server.listening).toBe(true);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('parses etcd peer URLs and host:port', () => {
    expect(parsePeerAddress('http://127.0.0.1:2380')).toEqual({ host: '127.0.0.1', port: 2380 });
    expect(parsePeerAddress('10.0.0.1:12380')).toEqual({ host: '10.0.0.1', port: 12380 });
    expect(parsePeerAddress('http://[::1]:2380')).toEqual({ host: '::1', port: 2380 });
    expect(parsePeerAddress('[::1]:2380')).toEqual({ host: '::1', port: 2380 });
    expect(parsePeerAddress('http://node-1.example')).toEqual({ host: 'node-1.example', port: 80 });
    expect(parsePeerAddress('https://x:1')).toEqual({ host: 'x', port: 1, tls: true });
    expect(() => parsePeerAddress('ftp://x:1')).toThrow(/scheme/);
    expect(() => parsePeerAddress('node-1')).toThrow(/port/);
  });
});
