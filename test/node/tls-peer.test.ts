// Peer TLS: the TCP transport with https:// peer URLs (etcd's --peer-cert-file, --peer-key-file,
// --peer-trusted-ca-file, --peer-client-cert-auth). The conformance suite runs over mutual TLS; then a member
// whose certificate the others do not trust cannot talk to them (either direction), a member without a client
// certificate is refused when client certificates are required, and the peer HTTP endpoints (GET /members,
// HTTP batches) are served inside TLS on the same port.

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { peerFetch } from '../../adapters/runtime/node/join.ts';
import { serverTlsOptions } from '../../adapters/runtime/node/tls.ts';
import {
  parsePeerAddress,
  TcpTransport,
  type TcpTransportOptions,
} from '../../adapters/transport/tcp/index.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { Inbox, runTransportConformance } from '../conformance/transport.ts';
import { type CertAuthority, createCA, type Pem, writePem } from '../support/certs.ts';
import { tcpHarness } from '../support/tcp-harness.ts';

const CLUSTER = 0x7150_0000_0000_0001n;
const HOST = '127.0.0.1';
const FAST_BACKOFF = { initialMs: 10, maxMs: 50 };

let dir: string;
let ca: CertAuthority;
let otherCa: CertAuthority;
let good: Pem;
let bad: Pem;
let goodFiles: { ca: string; cert: string; key: string };
let badFiles: { ca: string; cert: string; key: string };

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgecd-peer-tls-'));
  ca = createCA();
  otherCa = createCA('untrusted CA');
  good = ca.server('peer');
  bad = otherCa.server('intruder');
  goodFiles = writePem(dir, 'good', good, ca);
  badFiles = writePem(dir, 'bad', bad, otherCa);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(condition: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Transport TLS options as member.ts builds them from the peer flags. */
function peerTls(files: { ca: string; cert: string; key: string }, clientCertAuth: boolean) {
  const server = serverTlsOptions({
    certFile: files.cert,
    keyFile: files.key,
    trustedCaFile: clientCertAuth ? files.ca : undefined,
    clientCertAuth,
  });
  return {
    server,
    client: { ca: server.ca as string, cert: server.cert as string, key: server.key as string },
  };
}

const url = (t: TcpTransport) => `https://${HOST}:${t.address().port}`;

runTransportConformance(
  'tcp over mutual TLS',
  async () =>
    tcpHarness(
      (id) =>
        new TcpTransport({
          clusterId: CLUSTER,
          memberId: id,
          listen: { host: HOST, port: 0 },
          backoff: FAST_BACKOFF,
          tls: peerTls(goodFiles, true),
        }),
      url,
    ),
  { fifo: true },
);

const opened: TcpTransport[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

async function start(id: NodeId, inbox: Inbox, options: Partial<TcpTransportOptions>): Promise<TcpTransport> {
  const t = new TcpTransport({
    clusterId: CLUSTER,
    memberId: id,
    listen: { host: HOST, port: 0 },
    backoff: FAST_BACKOFF,
    ...options,
  });
  opened.push(t);
  await t.start(inbox);
  return t;
}

const heartbeat = (from: NodeId, to: NodeId, index: number): Message => ({
  type: 'MsgHeartbeat',
  from,
  to,
  term: 1,
  index,
});

describe('peer TLS', () => {
  it('parses https:// peer URLs as TLS addresses', () => {
    expect(parsePeerAddress('https://127.0.0.1:2380')).toEqual({ host: '127.0.0.1', port: 2380, tls: true });
    expect(parsePeerAddress('https://localhost')).toEqual({ host: 'localhost', port: 443, tls: true });
    expect(parsePeerAddress('http://127.0.0.1:2380')).toEqual({ host: '127.0.0.1', port: 2380 });
  });

  it('delivers both ways over mutual TLS', async () => {
    const ia = new Inbox();
    const ib = new Inbox();
    const a = await start(1n, ia, { tls: peerTls(goodFiles, true) });
    const b = await start(2n, ib, { tls: peerTls(goodFiles, true) });
    a.addPeer(2n, url(b));
    b.addPeer(1n, url(a));
    a.send([heartbeat(1n, 2n, 1)]);
    b.send([heartbeat(2n, 1n, 2)]);
    await waitFor(() => ia.messages.length === 1 && ib.messages.length === 1, 'delivery');
  });

  it('a member with a certificate from another CA cannot reach the others, nor they it', async () => {
    const ia = new Inbox();
    const ib = new Inbox();
    const a = await start(1n, ia, { tls: peerTls(goodFiles, true) });
    // b trusts its own CA only and presents a certificate a does not trust.
    const b = await start(2n, ib, { tls: peerTls(badFiles, true) });
    a.addPeer(2n, url(b));
    b.addPeer(1n, url(a));
    for (let i = 0; i < 20; i++) {
      a.send([heartbeat(1n, 2n, i)]);
      b.send([heartbeat(2n, 1n, i)]);
      await sleep(20);
    }
    expect(ia.messages).toEqual([]);
    expect(ib.messages).toEqual([]);
    expect(ia.unreachable).toContain(2n);
    expect(ib.unreachable).toContain(1n);
  });

  it('a member trusting the CA but presenting an untrusted client certificate is refused (client cert auth)', async () => {
    const ia = new Inbox();
    const a = await start(1n, ia, { tls: peerTls(goodFiles, true) });
    const ib = new Inbox();
    // b checks a's server certificate correctly, but its own certificate is from the other CA.
    const b = await start(2n, ib, {
      tls: { client: { ca: ca.cert, cert: bad.cert, key: bad.key } },
    });
    b.addPeer(1n, url(a));
    a.addPeer(2n, `http://${HOST}:${b.address().port}`);
    for (let i = 0; i < 10; i++) {
      b.send([heartbeat(2n, 1n, i)]);
      await sleep(20);
    }
    expect(ia.messages).toEqual([]);
    expect(ib.unreachable).toContain(1n);
  });

  it('without client cert auth, a member without a client certificate may connect', async () => {
    const ia = new Inbox();
    const a = await start(1n, ia, { tls: peerTls(goodFiles, false) });
    const b = await start(2n, new Inbox(), { tls: { client: { ca: ca.cert } } });
    b.addPeer(1n, url(a));
    a.addPeer(2n, `http://${HOST}:${b.address().port}`);
    b.send([heartbeat(2n, 1n, 1)]);
    await waitFor(() => ia.messages.length === 1, 'delivery');
  });

  it('plaintext dialers get nothing from a TLS peer port', async () => {
    const ia = new Inbox();
    const a = await start(1n, ia, { tls: peerTls(goodFiles, false) });
    const ib = new Inbox();
    const b = await start(2n, ib, {});
    b.addPeer(1n, `http://${HOST}:${a.address().port}`);
    a.addPeer(2n, `http://${HOST}:${b.address().port}`);
    for (let i = 0; i < 10; i++) {
      b.send([heartbeat(2n, 1n, i)]);
      await sleep(20);
    }
    expect(ia.messages).toEqual([]);
    expect(ib.unreachable).toContain(1n);
  });

  it('serves the peer HTTP endpoints inside TLS (GET /members with a client certificate)', async () => {
    const a = await start(1n, new Inbox(), {
      tls: peerTls(goodFiles, true),
      onHttpRequest: (req, res) => {
        if (req.url !== '/members') return false;
        res.writeHead(200, { 'content-type': 'application/json', 'x-etcd-cluster-id': 'abc' }).end('[]');
        return true;
      },
    });
    const clientTls = peerTls(goodFiles, true).client;
    const r = await peerFetch(new URL('/members', url(a)), { timeoutMs: 5000, tls: clientTls });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-etcd-cluster-id')).toBe('abc');
    expect(await r.text()).toBe('[]');
    await expect(
      peerFetch(new URL('/members', url(a)), { timeoutMs: 5000, tls: { ca: ca.cert } }),
    ).rejects.toThrow();
    await expect(
      peerFetch(new URL('/members', url(a)), {
        timeoutMs: 5000,
        tls: { ca: ca.cert, cert: bad.cert, key: bad.key },
      }),
    ).rejects.toThrow();
  });
});
