// Hostile peers through real sockets, beyond what tcp-transport.test.ts and peer-http.test.ts already cover (a
// dialer of another cluster, an unknown member, the wrong target, a removed member redialing, a bad version,
// garbage, oversized frames, forged from/to on a raw link, bad HTTP batches):
// - a live 3-member cluster (createNode over TcpTransport on 127.0.0.1): a connection that authenticates as
//   member 2 and then speaks for member 3 — a MsgApp from a "leader" at a far higher term, carrying a put — has
//   every such frame dropped and logged; the cluster's term and revision do not move; the same frames from a
//   dialer of another cluster are refused at the handshake;
// - a handshake replayed on its own established connection is a malformed message: the connection is closed;
// - a removed member replaying the exact handshake bytes it used before is refused ('member'), as is a removed
//   member's HTTP batch.
// Note: the handshake carries no secret (as etcd's peer protocol without TLS): a dialer that claims a member's
// ID on an open peer port speaks in that member's name. Peer TLS with client certificates is what
// authenticates members (tls-peer.test.ts); these tests show that no one speaks for a member other than the
// one its connection was accepted as, nor from outside the cluster or after removal.

import { connect, createServer, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import {
  decodeReply,
  encodeBatch,
  encodeMessage,
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
} from '../../adapters/transport/fetch/index.ts';
import {
  decodeHandshakeReply,
  encodeFrame,
  encodeHello,
  FrameReader,
} from '../../adapters/transport/peer/wire.ts';
import { TcpTransport } from '../../adapters/transport/tcp/index.ts';
import type { LogFields, Logger } from '../../src/env.ts';
import { cryptoRandom } from '../../src/env.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { Inbox } from '../conformance/transport.ts';
import { waitFor } from '../support/memory-cluster.ts';

const HOST = '127.0.0.1';
const CLUSTER = 0x5eed_c1a5_7e00_0042n;

class RecordingLogger implements Logger {
  readonly events: { level: string; message: string; fields: LogFields }[] = [];
  debug(): void {}
  info(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'error', message, fields });
  }
  count(level: string, pattern: RegExp, fields: LogFields = {}): number {
    return this.events.filter(
      (e) =>
        e.level === level &&
        pattern.test(e.message) &&
        Object.entries(fields).every(([k, v]) => e.fields[k] === v),
    ).length;
  }
}

const sockets: Socket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
});

/** A raw client socket, collecting what it receives. */
function raw(port: number): { socket: Socket; received: Buffer[]; closed: Promise<void> } {
  const socket = connect({ host: HOST, port });
  sockets.push(socket);
  const received: Buffer[] = [];
  socket.on('data', (chunk) => received.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received, closed };
}

/** Free ports, probed by binding port 0 (the members' peer URLs must be known before they start). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve) => {
          const s = createServer();
          s.listen(0, HOST, () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

describe('a live cluster over TCP against an impersonating peer', () => {
  const logs = new Map<bigint, RecordingLogger>();
  let nodes: EdgeNode[] = [];
  let ports: number[] = [];

  beforeAll(async () => {
    for (let attempt = 0; ; attempt++) {
      ports = await freePorts(3);
      const members = ports.map((port, i) => ({
        id: BigInt(i + 1),
        name: `m${i + 1}`,
        peerURLs: [`http://${HOST}:${port}`],
      }));
      try {
        const clock = new RealClock();
        nodes = await Promise.all(
          members.map(async (m, i) => {
            const logger = new RecordingLogger();
            logs.set(m.id, logger);
            return createNode({
              id: m.id,
              name: m.name,
              clusterId: CLUSTER,
              members,
              storage: new MemoryStorage(),
              transport: new TcpTransport({
                clusterId: CLUSTER,
                memberId: m.id,
                listen: { host: HOST, port: ports[i] },
                logger,
                backoff: { initialMs: 10, maxMs: 50 },
              }),
              clock,
              random: cryptoRandom,
              logger,
              tickMs: 20,
              electionTimeoutMs: 500,
            });
          }),
        );
        break;
      } catch (err) {
        await Promise.all(nodes.map((n) => n.close()));
        if (attempt >= 3 || !/EADDRINUSE/.test(String(err))) throw err;
      }
    }
    await waitFor('a leader', () => nodes.every((n) => n.nodeStatus().leader !== 0n), 15_000);
    // The first write after the election, retried if a leader change on this busy machine times it out.
    for (let i = 0; ; i++) {
      try {
        await nodes[0].put({ key: new TextEncoder().encode('before'), value: new TextEncoder().encode('1') });
        break;
      } catch (err) {
        if (i >= 4) throw err;
      }
    }
    await waitFor('every member applied the put', () =>
      nodes.every((n) => n.nodeStatus().revision === nodes[0].nodeStatus().revision),
    );
  }, 60_000);
  afterAll(() => Promise.all(nodes.map((n) => n.close())));

  it('frames speaking for another member are dropped and logged; term and revision stay', async () => {
    // The victim: a follower (a MsgApp at a higher term would make it step down and take the forger's log).
    const victim = nodes.find((n) => n.nodeStatus().role !== 'leader')!;
    const claimed = nodes.find((n) => n !== victim)!.nodeStatus().id; // the ID the attacker authenticates as
    const spoken = nodes.find((n) => n !== victim && n.nodeStatus().id !== claimed)!.nodeStatus().id;
    const before = victim.nodeStatus();
    const log = logs.get(before.id)!;
    const dropped = log.count('warn', /misaddressed/);
    const forged = (from: NodeId, to: NodeId): Message => ({
      type: 'MsgApp',
      from,
      to,
      term: before.term + 10,
      index: before.lastIndex,
      logTerm: before.term,
      commit: before.lastIndex + 1,
      entries: [
        { term: before.term + 10, index: before.lastIndex + 1, type: 'normal', data: Uint8Array.of(1, 2) },
      ],
    });
    const client = raw(ports[Number(before.id) - 1]);
    client.socket.write(encodeHello({ cluster: CLUSTER, from: claimed, to: before.id }));
    client.socket.write(encodeFrame(forged(spoken, before.id))); // another member's name
    client.socket.write(encodeFrame(forged(claimed, spoken))); // addressed to another member
    client.socket.write(encodeFrame({ ...forged(0n, before.id), type: 'MsgTimeoutNow' })); // no one's name
    await waitFor('the drops logged', () => log.count('warn', /misaddressed/) >= dropped + 3);
    await waitFor(
      'the handshake reply',
      () => new FrameReader(4096).push(Buffer.concat(client.received)).length > 0,
    );
    expect(decodeHandshakeReply(new FrameReader(4096).push(Buffer.concat(client.received))[0])).toEqual({
      ok: true,
      leases: true,
      leaseTtl: true,
    });
    expect(
      log.count('warn', /dropping a misaddressed peer message/, {
        peer: claimed.toString(16),
        from: spoken.toString(16),
      }),
    ).toBeGreaterThanOrEqual(1);

    // Another cluster's dialer with the same frames: refused at the handshake.
    const outsider = raw(ports[Number(before.id) - 1]);
    outsider.socket.write(encodeHello({ cluster: CLUSTER + 1n, from: claimed, to: before.id }));
    outsider.socket.write(encodeFrame(forged(claimed, before.id)));
    await outsider.closed;
    expect(log.count('warn', /refusing a peer connection/, { code: 'cluster' })).toBeGreaterThanOrEqual(1);

    // Nothing moved: a write still goes through and lands at the next revision, at the same term.
    const after = victim.nodeStatus();
    expect([after.term, after.revision]).toEqual([before.term, before.revision]);
    const put = await victim.put({
      key: new TextEncoder().encode('after'),
      value: new TextEncoder().encode('2'),
    });
    expect(put.header.revision).toBe(before.revision + 1);
    expect(victim.nodeStatus().term).toBe(before.term);
  });
});

describe('replayed handshakes', () => {
  const A = 0xa1n;
  const B = 0xb2n;
  const transports: TcpTransport[] = [];
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
  });
  async function start(id: NodeId, inbox: Inbox, logger: Logger): Promise<TcpTransport> {
    const t = new TcpTransport({ clusterId: CLUSTER, memberId: id, listen: { host: HOST, port: 0 }, logger });
    transports.push(t);
    await t.start(inbox);
    return t;
  }
  const hello = encodeHello({ cluster: CLUSTER, from: A, to: B });
  const heartbeat = (index: number): Message => ({ type: 'MsgHeartbeat', from: A, to: B, term: 1, index });

  it('a handshake sent again on its own established connection closes it; nothing is delivered', async () => {
    const inbox = new Inbox();
    const log = new RecordingLogger();
    const b = await start(B, inbox, log);
    b.addPeer(A, 'unused.invalid:1');
    const client = raw(b.address().port);
    client.socket.write(hello);
    client.socket.write(encodeFrame(heartbeat(1)));
    client.socket.write(hello.subarray(8)); // the handshake frame again, where messages belong
    client.socket.write(encodeFrame(heartbeat(2)));
    await client.closed;
    expect(inbox.messages.map((m) => m.index)).toEqual([1]);
    expect(log.count('error', /closing a peer connection/)).toBe(1);
  });

  it("a removed member's handshake replayed byte for byte is refused, on TCP and as an HTTP batch", async () => {
    const inbox = new Inbox();
    const log = new RecordingLogger();
    const b = await start(B, inbox, log);
    b.addPeer(A, 'unused.invalid:1');
    const first = raw(b.address().port);
    first.socket.write(hello);
    first.socket.write(encodeFrame(heartbeat(1)));
    await waitFor('the first message', () => inbox.messages.length === 1);
    b.removePeer(A);
    await first.closed; // cut off on removal

    const replay = raw(b.address().port);
    replay.socket.write(hello);
    replay.socket.write(encodeFrame(heartbeat(2)));
    await replay.closed;
    expect(decodeHandshakeReply(new FrameReader(4096).push(Buffer.concat(replay.received))[0])).toMatchObject(
      {
        ok: false,
        code: 'member',
      },
    );

    const res = await fetch(`http://${HOST}:${b.address().port}${PEER_FETCH_PATH}`, {
      method: 'POST',
      headers: { 'content-type': PEER_CONTENT_TYPE },
      body: encodeBatch({
        cluster: CLUSTER,
        from: A,
        to: B,
        messages: [encodeMessage(heartbeat(3))],
      }) as Uint8Array<ArrayBuffer>,
    });
    expect(res.status).toBe(403);
    expect(decodeReply(new Uint8Array(await res.arrayBuffer()))).toMatchObject({ ok: false, code: 'member' });
    expect(log.count('warn', /refusing a peer/, { code: 'member' })).toBe(2);
    expect(inbox.messages.map((m) => m.index)).toEqual([1]);
  });
});
