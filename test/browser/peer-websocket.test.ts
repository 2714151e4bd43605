// Browser ↔ Node over WebSocket, in real headless Chromium: BrowserWebSocketTransport (the page) dials the peer
// port of a TcpTransport (this test process) at /edgecd/peer, announcing `listens: false`, and the Node member
// answers on that same connection (a reverse link). Messages travel as msgpack frames both ways; between this
// process and the page they are passed as base64 frames (the page's transport does the real encoding).
//
// The conformance harness mixes one browser member (A) with two Node members (B, C): two browser members cannot
// reach each other (neither can listen), so a harness of one Node member and browser members could not pass the
// every-pair test.

import { resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeFrame, FRAME_HEADER_BYTES } from '../../adapters/transport/peer/wire.ts';
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
import { type BrowserPage, chromiumPresent, openPage } from './chromium.ts';

const CLUSTER = 0x5eb5_0c4e_7000_0b01n;
const HOST = '127.0.0.1';
const BACKOFF = { initialMs: 20, maxMs: 200 };
const ROOT = resolve(import.meta.dirname, '../..');

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  ms = 15_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const hex = (id: bigint) => id.toString(16);

/** The page: the browser transport plus glue that passes frames to and from this process as base64. */
const PAGE = `
import { BrowserWebSocketTransport } from './adapters/transport/websocket/browser.ts';
import { decodeMessage, encodeFrame } from './adapters/transport/peer/wire.ts';
const b64 = (bytes) => { let s = ''; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); };
const unb64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
const members = new Map();
globalThis.edgecdPeer = {
  async create(idHex, clusterHex, backoff) {
    const t = new BrowserWebSocketTransport({ clusterId: BigInt('0x' + clusterHex), memberId: BigInt('0x' + idHex), backoff });
    const m = { t, frames: [], unreachable: [], scheduled: false, bindings: 0 };
    const schedule = () => {
      if (m.scheduled) return;
      m.scheduled = true;
      setTimeout(() => {
        m.scheduled = false;
        const frames = m.frames.splice(0);
        const unreachable = m.unreachable.splice(0);
        m.bindings++;
        globalThis.edgecdPeerInbox(idHex, frames, unreachable).finally(() => m.bindings--);
      }, 0);
    };
    await t.start({
      onMessage(message) { m.frames.push(b64(encodeFrame(message))); schedule(); },
      onUnreachable(peer) { m.unreachable.push(peer.toString(16)); schedule(); },
    });
    members.set(idHex, m);
  },
  send(idHex, frames) {
    members.get(idHex).t.send(frames.map((f) => decodeMessage(unb64(f).subarray(4))));
  },
  addPeer(idHex, peerHex, address) { members.get(idHex).t.addPeer(BigInt('0x' + peerHex), address); },
  removePeer(idHex, peerHex) { members.get(idHex).t.removePeer(BigInt('0x' + peerHex)); },
  async close(idHex) { const m = members.get(idHex); if (m) await m.t.close(); },
  status(idHex, peersHex) {
    const m = members.get(idHex);
    const peers = {};
    for (const p of peersHex) {
      const s = m.t.stats(BigInt('0x' + p));
      peers[p] = { sent: s.sent, received: s.received, connected: s.connected };
    }
    return { pending: m.t.pending, busy: m.frames.length + m.unreachable.length + m.bindings + (m.scheduled ? 1 : 0), peers };
  },
};
globalThis.edgecdPeerReady = true;
`;

type PageStatus = {
  pending: number;
  busy: number;
  peers: Record<string, { sent: number; received: number; connected: boolean }>;
};

let page: BrowserPage | undefined;
/** Proxies by member ID (hex), for the page's deliveries. */
const proxies = new Map<string, BrowserProxy>();

beforeAll(async () => {
  if (!chromiumPresent()) return;
  const result = await build({
    stdin: { contents: PAGE, resolveDir: ROOT, sourcefile: 'peer-page.ts', loader: 'ts' },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
  });
  page = await openPage(result.outputFiles[0].text, 'edgecdPeerReady');
  await page.page.exposeFunction(
    'edgecdPeerInbox',
    (idHex: string, frames: string[], unreachable: string[]) => {
      proxies.get(idHex)?.inbox(frames, unreachable);
    },
  );
});

afterAll(async () => {
  await page?.close();
});

/** A Transport in this process standing for a BrowserWebSocketTransport in the page. */
class BrowserProxy implements Transport {
  readonly memberId: NodeId;
  /** Messages handed to the handler, by sender. */
  readonly delivered = new Map<NodeId, number>();
  private handler: TransportHandler | undefined;
  private closed = false;
  private chain: Promise<unknown> = Promise.resolve();
  private outstanding = 0;
  private batch: string[] = [];

  constructor(memberId: NodeId) {
    this.memberId = memberId;
  }

  private get p() {
    if (!page) throw new Error('no page');
    return page.page;
  }

  private call<A>(fn: (arg: A) => unknown, arg: A): Promise<unknown> {
    this.outstanding++;
    this.chain = this.chain
      .then(() => this.p.evaluate(fn as never, arg as never))
      .finally(() => this.outstanding--);
    return this.chain;
  }

  async start(handler: TransportHandler): Promise<void> {
    this.handler = handler;
    proxies.set(hex(this.memberId), this);
    await this.call(
      ([id, cluster, backoff]) =>
        (globalThis as never as { edgecdPeer: { create(...a: unknown[]): Promise<void> } }).edgecdPeer.create(
          id,
          cluster,
          backoff,
        ),
      [hex(this.memberId), hex(CLUSTER), BACKOFF] as const,
    );
  }

  send(messages: readonly Message[]): void {
    if (this.closed) return;
    // Encoding here copies: the caller may reuse its arrays once send returns.
    for (const m of messages) this.batch.push(Buffer.from(encodeFrame(m)).toString('base64'));
    if (this.batch.length !== messages.length) return;
    queueMicrotask(() => {
      const frames = this.batch.splice(0);
      if (this.closed || frames.length === 0) return;
      void this.call(
        ([id, f]) =>
          (globalThis as never as { edgecdPeer: { send(...a: unknown[]): void } }).edgecdPeer.send(id, f),
        [hex(this.memberId), frames] as const,
      );
    });
  }

  addPeer(peer: NodeId, address: string): void {
    void this.call(
      ([id, p, a]) =>
        (globalThis as never as { edgecdPeer: { addPeer(...a: unknown[]): void } }).edgecdPeer.addPeer(
          id,
          p,
          a,
        ),
      [hex(this.memberId), hex(peer), address] as const,
    );
  }

  removePeer(peer: NodeId): void {
    void this.call(
      ([id, p]) =>
        (globalThis as never as { edgecdPeer: { removePeer(...a: unknown[]): void } }).edgecdPeer.removePeer(
          id,
          p,
        ),
      [hex(this.memberId), hex(peer)] as const,
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.batch = [];
    await this.call(
      (id) =>
        (globalThis as never as { edgecdPeer: { close(id: string): Promise<void> } }).edgecdPeer.close(id),
      hex(this.memberId),
    );
  }

  async status(peers: readonly NodeId[]): Promise<PageStatus> {
    return (await this.p.evaluate(
      ([id, ps]) =>
        (globalThis as never as { edgecdPeer: { status(...a: unknown[]): unknown } }).edgecdPeer.status(
          id,
          ps,
        ),
      [hex(this.memberId), peers.map(hex)] as const,
    )) as PageStatus;
  }

  get idle(): boolean {
    return this.outstanding === 0 && this.batch.length === 0;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  inbox(frames: string[], unreachable: string[]): void {
    const handler = this.handler;
    if (this.closed || !handler) return;
    for (const f of frames) {
      const m = decodeMessage(Buffer.from(f, 'base64').subarray(FRAME_HEADER_BYTES));
      this.delivered.set(m.from, (this.delivered.get(m.from) ?? 0) + 1);
      handler.onMessage(m);
    }
    for (const u of unreachable) handler.onUnreachable?.(BigInt(`0x${u}`));
  }
}

const peerUrl = (t: TcpTransport) => `ws://${HOST}:${t.address().port}`;

async function nodeTransport(id: NodeId, handler: TransportHandler, port = 0): Promise<TcpTransport> {
  const t = new TcpTransport({
    clusterId: CLUSTER,
    memberId: id,
    listen: { host: HOST, port },
    backoff: BACKOFF,
  });
  await t.start(handler);
  return t;
}

/** A = the browser member, B and C Node members. */
function mixedHarness(): TransportHarness {
  let browser: BrowserProxy | undefined;
  const nodes: TcpTransport[] = [];
  return {
    async transports(ids, handlers) {
      const [a, ...others] = ids;
      browser = new BrowserProxy(a);
      await browser.start(handlers[0]);
      for (const [i, id] of others.entries()) nodes.push(await nodeTransport(id, handlers[i + 1]));
      for (const n of nodes) {
        n.addPeer(a, `browser:${hex(a)}`);
        for (const m of nodes) if (m !== n) n.addPeer(m.memberId, `http://${HOST}:${m.address().port}`);
        browser.addPeer(n.memberId, peerUrl(n));
      }
      const b = browser;
      await waitFor(
        () => nodes.every((n) => n.reverseConnected(a)),
        'the browser to connect to every Node member',
      );
      await waitFor(
        async () => Object.values((await b.status(others)).peers).every((p) => p.connected),
        'the browser to see every connection up',
      );
      return [browser, ...nodes];
    },
    async settle() {
      const b = browser;
      if (!b) return;
      const quiet = async () => {
        if (!b.idle) return false;
        if (!nodes.every((n) => n.closed || n.pending === 0)) return false;
        const nodeQuiet = nodes.every(
          (s) =>
            s.closed ||
            nodes.every(
              (r) => r === s || r.closed || r.stats(s.memberId).received >= s.stats(r.memberId).sent,
            ),
        );
        if (!nodeQuiet) return false;
        if (b.isClosed) return true;
        const st = await b.status(nodes.map((n) => n.memberId));
        if (st.pending !== 0 || st.busy !== 0) return false;
        return nodes.every((n) => {
          const p = st.peers[hex(n.memberId)];
          if (n.closed) return true;
          return (
            n.stats(b.memberId).received >= p.sent &&
            p.received >= n.stats(b.memberId).sent &&
            (b.delivered.get(n.memberId) ?? 0) >= p.received
          );
        });
      };
      for (let i = 0; i < 3; i++) {
        await waitFor(quiet, 'the network to settle');
        await sleep(10);
      }
    },
    async cleanup() {
      await browser?.close();
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}

describe.skipIf(!chromiumPresent())('browser member ↔ Node member over WebSocket (Chromium)', () => {
  const A = 0xffff_ffff_ffff_fba1n; // browser
  const N = 0x8000_0000_0000_0e02n; // Node

  function plain(value: unknown): unknown {
    if (value instanceof Uint8Array) return new Uint8Array(value);
    if (Array.isArray(value)) return value.map(plain);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
    }
    return value;
  }

  it('exchanges messages both ways on one connection, and reconnects after the Node member restarts', async () => {
    const inboxA = new Inbox();
    const inboxN = new Inbox();
    const browser = new BrowserProxy(A);
    await browser.start(inboxA);
    let node = await nodeTransport(N, inboxN);
    const port = node.address().port;
    try {
      node.addPeer(A, 'browser:');
      browser.addPeer(N, peerUrl(node));
      await waitFor(() => node.reverseConnected(A), 'the browser to connect');

      browser.send([fullMessage(A, N), snapMessage(A, N)]);
      node.send([fullMessage(N, A), snapMessage(N, A)]);
      await waitFor(() => inboxN.messages.length === 2 && inboxA.messages.length === 2, 'messages both ways');
      expect(plain(inboxN.messages[0])).toEqual(fullMessage(A, N));
      expect(plain(inboxN.messages[1])).toEqual(snapMessage(A, N));
      expect(plain(inboxA.messages[0])).toEqual(fullMessage(N, A));
      expect(plain(inboxA.messages[1])).toEqual(snapMessage(N, A));
      expect(typeof inboxA.messages[0].from).toBe('bigint');
      expect(inboxA.messages[0].from).toBe(N);
      expect(inboxN.messages[0].from).toBe(A);

      // The Node member goes away: the browser reports it unreachable and keeps redialing.
      await node.close();
      await waitFor(
        () => inboxA.unreachable.includes(N),
        'the browser to report the Node member unreachable',
      );
      expect(() => browser.send([{ type: 'MsgHeartbeat', from: A, to: N, term: 1, index: 1 }])).not.toThrow();

      // A new Node member on the same port: before the browser is back, sends to it drop and are reported.
      const inboxN2 = new Inbox();
      node = await nodeTransport(N, inboxN2, port);
      node.addPeer(A, 'browser:');
      if (!node.reverseConnected(A)) {
        node.send([{ type: 'MsgHeartbeat', from: N, to: A, term: 2, index: 0 }]);
        await waitFor(() => inboxN2.unreachable.includes(A), 'an unreachable report while disconnected');
      }
      await waitFor(() => node.reverseConnected(A), 'the browser to reconnect');
      node.send([{ type: 'MsgHeartbeat', from: N, to: A, term: 2, index: 7 }]);
      browser.send([{ type: 'MsgHeartbeat', from: A, to: N, term: 2, index: 8 }]);
      await waitFor(
        () => inboxN2.messages.some((m) => m.index === 8) && inboxA.messages.some((m) => m.index === 7),
        'messages both ways after the restart',
      );
    } finally {
      await browser.close();
      await node.close();
    }
  });

  it('is refused by a Node member of another cluster', async () => {
    const inboxA = new Inbox();
    const inboxN = new Inbox();
    const browser = new BrowserProxy(A + 1n);
    await browser.start(inboxA);
    const node = new TcpTransport({
      clusterId: CLUSTER + 1n,
      memberId: N,
      listen: { host: HOST, port: 0 },
      backoff: BACKOFF,
    });
    await node.start(inboxN);
    try {
      node.addPeer(A + 1n, 'browser:');
      browser.addPeer(N, peerUrl(node));
      await waitFor(() => inboxA.unreachable.includes(N), 'the refusal to be reported');
      expect(node.reverseConnected(A + 1n)).toBe(false);
      expect(inboxN.messages).toEqual([]);
    } finally {
      await browser.close();
      await node.close();
    }
  });
});

if (chromiumPresent()) {
  runTransportConformance(
    'browser WebSocket (Chromium) + Node TCP, reverse links',
    async () => mixedHarness(),
    {
      fifo: true,
    },
  );
}
