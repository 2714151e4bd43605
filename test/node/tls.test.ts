// TLS on the client port (one port: gRPC by ALPN h2, HTTP/1.1 gateway by ALPN http/1.1) and etcd's TLS flags.
// A one-member in-process node behind startClientServer; certificates from node-forge (test/support/certs.ts).
// The node is wrapped so that the test sees the RequestOptions every gRPC handler hands it: that is how the
// verified client certificate's CN (etcd's mTLS user name) is shown to reach the handlers through grpc-js's
// getAuthContext() on an injected TLSSocket.

import { mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import type net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import {
  type ClientServer,
  type FetchHandler,
  startClientServer,
} from '../../adapters/runtime/node/client-server.ts';
import { parseMemberConfig } from '../../adapters/runtime/node/config.ts';
import { memberTls, serverTlsOptions } from '../../adapters/runtime/node/tls.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import { createGateway } from '../../src/api/gateway/index.ts';
import { cryptoRandom } from '../../src/env.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { type CertAuthority, createCA, type Pem, writePem } from '../support/certs.ts';

let dir: string;
let ca: CertAuthority;
let otherCa: CertAuthority;
let serverPem: Pem;
let alice: Pem;
let mallory: Pem;
let node: EdgeNode;
/** commonName of every RequestOptions the gRPC and gateway handlers passed to node.range. */
const seen: (string | undefined)[] = [];
/** Requires and verifies client certificates (--client-cert-auth). */
let mtls: ClientServer;
/** TLS, no client certificates (--cert-file/--key-file only). */
let plainTls: ClientServer;
let files: { ca: string; cert: string; key: string };

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'edgecd-tls-'));
  ca = createCA();
  otherCa = createCA('untrusted CA');
  serverPem = ca.server();
  alice = ca.client('alice');
  mallory = otherCa.client('mallory');
  files = writePem(dir, 'server', serverPem, ca);

  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(cryptoRandom));
  const members = [{ id: 1n, name: 'n1', peerURLs: ['mem://n1'] }];
  const real = await createNode({
    id: 1n,
    name: 'n1',
    clusterId: 7n,
    members,
    clientURLs: [],
    storage: new MemoryStorage(),
    transport: network.transport(1n),
    clock,
    random: cryptoRandom,
    tickMs: 10,
    electionTimeoutMs: 100,
  });
  node = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === 'range' && typeof v === 'function') {
        return (req: unknown, opts?: { commonName?: string }) => {
          seen.push(opts?.commonName);
          return v.call(target, req, opts);
        };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const deadline = Date.now() + 10_000;
  while (real.nodeStatus().leader === 0n) {
    if (Date.now() > deadline) throw new Error('no leader');
    await new Promise((r) => setTimeout(r, 20));
  }
  const gateway = createGateway(node);
  // /whoami shows what the transport told the gateway; everything else is the real gateway.
  const handler: FetchHandler = async (request, identity) =>
    new URL(request.url).pathname === '/whoami'
      ? Response.json({ commonName: identity?.commonName ?? null, url: request.url })
      : gateway(request, identity);
  mtls = await startClientServer({
    node,
    gateway: handler,
    tls: serverTlsOptions({
      certFile: files.cert,
      keyFile: files.key,
      trustedCaFile: files.ca,
      clientCertAuth: true,
    }),
  });
  plainTls = await startClientServer({
    node,
    gateway: handler,
    tls: serverTlsOptions({ certFile: files.cert, keyFile: files.key }),
  });
});

afterAll(async () => {
  await mtls?.close();
  await plainTls?.close();
  await node?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface HttpsAnswer {
  readonly status: number;
  readonly body: string;
  readonly alpn: string | false | undefined;
}

function httpsRequest(
  port: number,
  pathname: string,
  opts: { ca?: string; cert?: string; key?: string; method?: string; body?: string; alpn?: string[] } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method: opts.method ?? 'GET',
        ca: opts.ca,
        cert: opts.cert,
        key: opts.key,
        agent: false,
        timeout: 5000,
        ...(opts.alpn ? { ALPNProtocols: opts.alpn } : {}),
      },
      (res) => {
        let body = '';
        const alpn = (res.socket as tls.TLSSocket).alpnProtocol ?? undefined;
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('client port over TLS', () => {
  it('serves the gateway over HTTPS (ALPN http/1.1 preferred even when the client also offers h2)', async () => {
    const r = await httpsRequest(plainTls.port, '/version', { ca: ca.cert, alpn: ['h2', 'http/1.1'] });
    expect(r.status).toBe(200);
    expect(r.alpn).toBe('http/1.1');
    expect(JSON.parse(r.body)).toMatchObject({ etcdserver: '3.4.23' });
    const who = await httpsRequest(plainTls.port, '/whoami', { ca: ca.cert });
    expect(JSON.parse(who.body)).toEqual({ commonName: null, url: expect.stringMatching(/^https:\/\//) });
  });

  it('serves gRPC over TLS to the etcd3 client (server certificate checked against the CA)', async () => {
    const client = new Etcd3({
      hosts: `https://127.0.0.1:${plainTls.port}`,
      credentials: { rootCertificate: Buffer.from(ca.cert) },
    });
    try {
      await client.put('tls-k').value('v1');
      expect(await client.get('tls-k').string()).toBe('v1');
    } finally {
      client.close();
    }
  });

  it('refuses a client that does not trust the server certificate', async () => {
    await expect(httpsRequest(plainTls.port, '/version', { ca: otherCa.cert })).rejects.toThrow(
      /self[- ]signed|unable to verify|certificate/i,
    );
  });

  it('answers HTTP/1.1 to a TLS client without ALPN (first bytes decide)', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: plainTls.port, ca: ca.cert });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    expect(socket.alpnProtocol).toBe(false);
    socket.write('GET /version HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    await new Promise((r) => socket.once('close', r));
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('3.4.23');
  });

  it('refuses plaintext on a TLS port: HTTP/1.1 and gRPC', async () => {
    await expect(
      fetch(`http://127.0.0.1:${plainTls.port}/version`, { signal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow();
    const client = new Etcd3({ hosts: `http://127.0.0.1:${plainTls.port}`, dialTimeout: 2000 });
    try {
      await expect(client.get('tls-k').string()).rejects.toThrow();
    } finally {
      client.close();
    }
  });
});

describe('client certificates (--client-cert-auth)', () => {
  it('refuses HTTPS without a client certificate and with one from an untrusted CA', async () => {
    await expect(httpsRequest(mtls.port, '/version', { ca: ca.cert })).rejects.toThrow();
    await expect(
      httpsRequest(mtls.port, '/version', { ca: ca.cert, cert: mallory.cert, key: mallory.key }),
    ).rejects.toThrow();
  });

  it('hands the gateway the verified certificate CN', async () => {
    const who = await httpsRequest(mtls.port, '/whoami', { ca: ca.cert, cert: alice.cert, key: alice.key });
    expect(who.status).toBe(200);
    expect(JSON.parse(who.body).commonName).toBe('alice');
    const put = await httpsRequest(mtls.port, '/v3/kv/put', {
      ca: ca.cert,
      cert: alice.cert,
      key: alice.key,
      method: 'POST',
      body: JSON.stringify({ key: b64('gw-k'), value: b64('gw-v') }),
    });
    expect(put.status).toBe(200);
    seen.length = 0;
    const range = await httpsRequest(mtls.port, '/v3/kv/range', {
      ca: ca.cert,
      cert: alice.cert,
      key: alice.key,
      method: 'POST',
      body: JSON.stringify({ key: b64('gw-k') }),
    });
    expect(JSON.parse(range.body).kvs[0].value).toBe(b64('gw-v'));
    expect(seen).toContain('alice');
  });

  it('gRPC: refuses a client without a certificate; with one, the CN reaches the handler', async () => {
    const anonymous = new Etcd3({
      hosts: `https://127.0.0.1:${mtls.port}`,
      credentials: { rootCertificate: Buffer.from(ca.cert) },
      dialTimeout: 2000,
    });
    try {
      await expect(anonymous.get('tls-k').string()).rejects.toThrow();
    } finally {
      anonymous.close();
    }
    const client = new Etcd3({
      hosts: `https://127.0.0.1:${mtls.port}`,
      credentials: {
        rootCertificate: Buffer.from(ca.cert),
        certChain: Buffer.from(alice.cert),
        privateKey: Buffer.from(alice.key),
      },
    });
    try {
      seen.length = 0;
      await client.put('grpc-k').value('x');
      expect(await client.get('grpc-k').string()).toBe('x');
      expect(seen).toEqual(['alice']);
    } finally {
      client.close();
    }
  });

  it('gRPC without ALPN negotiation is still routed by the HTTP/2 preface (raw grpc-js over a no-ALPN socket)', async () => {
    // grpc-js always offers h2; this checks the injected TLSSocket path directly with http2 over a no-ALPN socket.
    const socket = tls.connect({
      host: '127.0.0.1',
      port: mtls.port,
      ca: ca.cert,
      cert: alice.cert,
      key: alice.key,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    expect(socket.alpnProtocol).toBe(false);
    // Node's HTTP/2 client refuses a TLS socket without ALPN h2: hand it a plain duplex over the TLS socket.
    const { connect } = await import('node:http2');
    const duplex = Duplex.from({ readable: socket, writable: socket });
    // Destroying the socket below ends the duplex early ('Premature close'): ours to ignore.
    duplex.on('error', () => {});
    const session = connect(`http://127.0.0.1:${mtls.port}`, {
      createConnection: () => duplex as net.Socket,
    });
    const req = session.request({
      ':method': 'POST',
      ':path': '/etcdserverpb.Maintenance/Status',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    const trailers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      req.on('trailers', (t) => resolve(t as Record<string, unknown>));
      req.on('error', reject);
      req.resume();
    });
    expect(trailers['grpc-status']).toBe('0');
    session.on('error', () => {}); // the same early end, seen by the session
    await new Promise<void>((resolve) => session.close(() => resolve()));
    socket.destroy();
  });
});

describe('plaintext stays as it was', () => {
  it('a plain client server still serves HTTP/1.1 and gRPC on one port', async () => {
    const plain = await startClientServer({ node });
    try {
      const r = await fetch(`http://127.0.0.1:${plain.port}/version`);
      expect(r.status).toBe(200);
      const client = new Etcd3({ hosts: `http://127.0.0.1:${plain.port}` });
      try {
        seen.length = 0;
        await client.get('tls-k').string();
        expect(seen).toEqual([undefined]);
      } finally {
        client.close();
      }
      // and refuses a TLS handshake (the server is plaintext)
      await expect(httpsRequest(plain.port, '/version', { ca: ca.cert })).rejects.toThrow();
    } finally {
      await plain.close();
    }
  });

  it('grpc-js plaintext credentials reach a plaintext port; not a TLS one', async () => {
    const ok = await grpcStatus(`127.0.0.1:${mtls.port}`, grpc.credentials.createInsecure());
    expect(ok).not.toBe(0);
  });
});

/** One Maintenance.Status call with a generic grpc-js client; resolves to the status code. */
async function grpcStatus(target: string, creds: grpc.ChannelCredentials): Promise<number> {
  const client = new grpc.Client(target, creds);
  try {
    return await new Promise<number>((resolve) => {
      client.makeUnaryRequest(
        '/etcdserverpb.Maintenance/Status',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        { deadline: Date.now() + 3000 },
        (err) => resolve(err ? (err.code ?? -1) : 0),
      );
    });
  } finally {
    client.close();
  }
}

describe("etcd's TLS flags", () => {
  const base = [
    '--name',
    'n1',
    '--listen-client-urls',
    'https://127.0.0.1:2379',
    '--advertise-client-urls',
    'https://127.0.0.1:2379',
  ];

  it('parses the flags', () => {
    const c = parseMemberConfig(
      [
        ...base,
        '--cert-file',
        'c.pem',
        '--key-file=k.pem',
        '--trusted-ca-file',
        'ca.pem',
        '--client-cert-auth',
        '--peer-cert-file',
        'pc.pem',
        '--peer-key-file',
        'pk.pem',
        '--peer-trusted-ca-file',
        'pca.pem',
        '--peer-client-cert-auth=true',
      ],
      {},
    );
    expect(c).toMatchObject({
      certFile: 'c.pem',
      keyFile: 'k.pem',
      trustedCaFile: 'ca.pem',
      clientCertAuth: true,
      peerCertFile: 'pc.pem',
      peerKeyFile: 'pk.pem',
      peerTrustedCaFile: 'pca.pem',
      peerClientCertAuth: true,
    });
    expect(parseMemberConfig(['--client-cert-auth=false'], {}).clientCertAuth).toBe(false);
    expect(parseMemberConfig([], { ETCD_CLIENT_CERT_AUTH: 'true' }).clientCertAuth).toBe(true);
  });

  it("refuses https listen URLs without certificates, with etcd's texts", () => {
    expect(() => memberTls(parseMemberConfig(base, {}))).toThrow(
      'TLS key/cert (--cert-file, --key-file) must be provided for client url https://127.0.0.1:2379 with HTTPS scheme',
    );
    expect(() => memberTls(parseMemberConfig(['--listen-peer-urls', 'https://127.0.0.1:2380'], {}))).toThrow(
      'cannot listen on TLS for 127.0.0.1:2380: KeyFile and CertFile are not presented',
    );
    expect(() => memberTls(parseMemberConfig([...base, '--cert-file', files.cert], {}))).toThrow(
      `KeyFile and CertFile must both be present[key: , cert: ${files.cert}]`,
    );
    expect(() => memberTls(parseMemberConfig(['--auto-tls'], {}))).toThrow(/--auto-tls is not supported/);
    expect(() => memberTls(parseMemberConfig(['--peer-auto-tls'], {}))).toThrow(
      /--peer-auto-tls is not supported/,
    );
  });

  it('a trusted CA file alone makes the server require client certificates (as etcd 3.4)', () => {
    const t = memberTls(
      parseMemberConfig(
        [...base, '--cert-file', files.cert, '--key-file', files.key, '--trusted-ca-file', files.ca],
        {},
      ),
    );
    expect(t.client).toMatchObject({ requestCert: true, rejectUnauthorized: true });
    expect(t.peerServer).toBeUndefined();
    // GHSA-6vch-q96h-7gc3: a client's TLS handshake gets 10 s, as etcd's tlsListener (Node's default: 120 s).
    expect(t.client?.handshakeTimeout).toBe(10_000);
    const noCa = memberTls(
      parseMemberConfig([...base, '--cert-file', files.cert, '--key-file', files.key], {}),
    );
    expect(noCa.client).toMatchObject({ requestCert: false, rejectUnauthorized: false });
    // http:// URLs ignore the files (etcd warns)
    expect(
      memberTls(parseMemberConfig(['--cert-file', files.cert, '--key-file', files.key], {})).client,
    ).toBe(undefined);
  });
});
