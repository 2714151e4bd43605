// edgecd's gRPC servers, its own HTTP/2 (adapters/runtime/node/grpc/http2/) and node:http2's (grpc/h2/), each run
// through the same cases: message framing, the answers to requests that reach no handler, and a call's cancel,
// deadline and back-pressure. Each expected answer on the wire was recorded from a real etcd 3.4.23 (grpc-go 1.26)
// sent the same request.

import http2 from 'node:http2';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { MessageReader } from '../../adapters/runtime/node/grpc/h2/framing.ts';
import {
  createH2GrpcServer,
  type H2GrpcServer,
  type H2Handler,
  type H2Route,
} from '../../adapters/runtime/node/grpc/h2/server.ts';
import {
  encodeGrpcMessage,
  isGrpcContentType,
  timeoutMs,
  unknownPath,
} from '../../adapters/runtime/node/grpc/h2/status.ts';
import { createHttp2GrpcServer } from '../../adapters/runtime/node/grpc/http2/server.ts';
import { type MemoryCluster, startMemoryCluster, waitFor } from '../support/memory-cluster.ts';
import { grpcFrame } from '../support/raw-grpc.ts';

describe('MessageReader', () => {
  const frames = Buffer.concat([grpcFrame([1, 2, 3]), grpcFrame([]), grpcFrame([9], 1), grpcFrame([4, 5])]);

  const read = (chunks: Buffer[], max = 100) => {
    const got: { flag: number; bytes: number[] }[] = [];
    const refused: number[] = [];
    const reader = new MessageReader(
      max,
      (payload) => {
        // The prefix sits right before the payload in the same memory (strict.ts reads the flag there).
        const prefix = new Uint8Array(payload.buffer, payload.byteOffset - 5, 5);
        expect(Buffer.from(prefix).readUInt32BE(1)).toBe(payload.length);
        got.push({ flag: prefix[0] as number, bytes: [...payload] });
      },
      (length) => refused.push(length),
    );
    for (const c of chunks) reader.push(c);
    return { got, refused, midMessage: reader.midMessage };
  };

  const expected = [
    { flag: 0, bytes: [1, 2, 3] },
    { flag: 0, bytes: [] },
    { flag: 1, bytes: [9] },
    { flag: 0, bytes: [4, 5] },
  ];

  it('splits messages within a chunk and across chunks of any size', () => {
    expect(read([frames]).got).toEqual(expected);
    for (const size of [1, 2, 3, 4, 5, 6, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < frames.length; i += size) chunks.push(frames.subarray(i, i + size));
      expect(read(chunks).got).toEqual(expected);
    }
  });

  it('knows when the stream ends mid-message', () => {
    expect(read([frames.subarray(0, 3)]).midMessage).toBe(true);
    expect(read([frames.subarray(0, 6)]).midMessage).toBe(true);
    expect(read([frames.subarray(0, 8)]).midMessage).toBe(false);
  });

  it('refuses a length over the limit from its prefix alone, and reads nothing after it', () => {
    const announced = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2]);
    expect(read([grpcFrame([1]), announced, grpcFrame([2])])).toEqual({
      got: [{ flag: 0, bytes: [1] }],
      refused: [0x7fffffff],
      midMessage: false,
    });
    expect(read([announced.subarray(0, 2), announced.subarray(2)]).refused).toEqual([0x7fffffff]);
  });
});

describe('headers and status', () => {
  it('content types grpc-go takes as gRPC', () => {
    for (const ct of ['application/grpc', 'application/grpc+proto', 'application/grpc;charset=x'])
      expect(isGrpcContentType(ct)).toBe(true);
    for (const ct of [undefined, 'application/grpcx', 'text/plain', 'application/json'])
      expect(isGrpcContentType(ct)).toBe(false);
  });

  it('grpc-timeout', () => {
    expect(timeoutMs(undefined)).toBeUndefined();
    expect(timeoutMs('2S')).toBe(2000);
    expect(timeoutMs('1M')).toBe(60_000);
    expect(timeoutMs('5m')).toBe(5);
    expect(timeoutMs('1000u')).toBe(1);
    expect(timeoutMs('xx')).toBeNaN();
    expect(timeoutMs('123456789S')).toBeNaN(); // at most 8 digits
  });

  it('grpc-message is percent-encoded as grpc-go does: spaces and colons stay', () => {
    expect(encodeGrpcMessage('etcdserver: key is not provided')).toBe('etcdserver: key is not provided');
    expect(encodeGrpcMessage('100% ö\n')).toBe('100%25 %C3%B6%0A');
  });

  it("grpc-go's texts for paths that name no method", () => {
    const known = (s: string) => s === 'etcdserverpb.KV';
    expect(unknownPath('/foo.Bar/Baz', known)).toEqual([12, 'unknown service foo.Bar']);
    expect(unknownPath('/etcdserverpb.KV/Nope', known)).toEqual([
      12,
      'unknown method Nope for service etcdserverpb.KV',
    ]);
    expect(unknownPath('/nopath', known)).toEqual([8, 'malformed method name: "/nopath"']);
  });
});

interface Answer {
  headers?: http2.IncomingHttpHeaders;
  trailers?: http2.IncomingHttpHeaders;
  rstCode?: number;
  bytes: number;
}

describe.each(['edgecd', 'h2'] as const)('on the wire (%s server), as etcd 3.4.23 answers', (kind) => {
  let cluster: MemoryCluster;
  let server: ClientServer;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    cluster = await startMemoryCluster({ size: 1 });
    server = await startClientServer({ node: cluster.nodes[0], grpcServer: kind });
    session = http2.connect(`http://127.0.0.1:${server.port}`);
    session.on('error', () => {});
  }, 30_000);
  afterAll(async () => {
    session?.close();
    await server?.close();
    await cluster?.close();
  });

  const PUT = [0x0a, 1, 0x6b, 0x12, 1, 0x76];

  /** One request; with `end` false the request stays open until the server has ended the stream. */
  function call(headers: Record<string, string>, body?: Buffer, end = true): Promise<Answer> {
    return new Promise((resolve) => {
      const req = session.request({
        ':method': 'POST',
        ':path': '/etcdserverpb.KV/Put',
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      const answer: Answer = { bytes: 0 };
      req.on('response', (h) => {
        answer.headers = h;
      });
      req.on('trailers', (t) => {
        answer.trailers = t;
      });
      req.on('data', (c: Buffer) => {
        answer.bytes += c.length;
      });
      req.on('error', () => {});
      req.on('close', () => {
        answer.rstCode = req.rstCode;
        resolve(answer);
      });
      if (end) req.end(body);
      else {
        // Kept open: the server ends the stream (its END_STREAM), then we close our side.
        req.write(body);
        req.on('end', () => req.close());
      }
    });
  }

  /** The status of a trailers-only answer: in the response headers, with no message. */
  const trailersOnly = (a: Answer) => ({
    type: a.headers?.['content-type'],
    status: a.headers?.['grpc-status'],
    message: a.headers?.['grpc-message'],
    bytes: a.bytes,
  });

  it('a put: headers with content-type only, then the message, then grpc-status 0 and an empty message', async () => {
    const a = await call({}, grpcFrame(PUT));
    expect(a.headers?.[':status']).toBe(200);
    expect(a.headers?.['content-type']).toBe('application/grpc');
    expect(a.headers?.['grpc-encoding']).toBeUndefined();
    expect(a.bytes).toBeGreaterThan(5);
    expect(a.trailers).toMatchObject({ 'grpc-status': '0', 'grpc-message': '' });
  });

  it('a content subtype is answered with the same content type', async () => {
    const a = await call({ 'content-type': 'application/grpc+proto' }, grpcFrame(PUT));
    expect(a.headers?.['content-type']).toBe('application/grpc+proto');
    expect(a.trailers?.['grpc-status']).toBe('0');
  });

  it('a request that is not gRPC, or a malformed grpc-timeout, is reset with PROTOCOL_ERROR', async () => {
    for (const headers of [{ 'content-type': 'text/plain' }, { 'content-type': 'application/grpcx' }]) {
      expect((await call(headers, grpcFrame(PUT))).rstCode).toBe(http2.constants.NGHTTP2_PROTOCOL_ERROR);
    }
    expect((await call({ 'grpc-timeout': 'xx' }, grpcFrame(PUT))).rstCode).toBe(
      http2.constants.NGHTTP2_PROTOCOL_ERROR,
    );
  });

  it('unknown services and methods, and malformed paths', async () => {
    const answers = await Promise.all(
      ['/foo.Bar/Baz', '/etcdserverpb.KV/Nope', '/nopath'].map((p) => call({ ':path': p }, grpcFrame(PUT))),
    );
    expect(answers.map(trailersOnly)).toEqual([
      { type: 'application/grpc', status: '12', message: 'unknown service foo.Bar', bytes: 0 },
      {
        type: 'application/grpc',
        status: '12',
        message: 'unknown method Nope for service etcdserverpb.KV',
        bytes: 0,
      },
      { type: 'application/grpc', status: '8', message: 'malformed method name: "/nopath"', bytes: 0 },
    ]);
  });

  it('a compressed request: no decompressor is installed', async () => {
    const a = await call({ 'grpc-encoding': 'gzip' }, grpcFrame(PUT, 1));
    expect(trailersOnly(a)).toMatchObject({
      status: '12',
      message: 'grpc: Decompressor is not installed for grpc-encoding "gzip"',
    });
  });

  it('no request message, a message cut short, a message over the limit', async () => {
    expect(trailersOnly(await call({}))).toMatchObject({ status: '2', message: 'EOF' });
    expect(trailersOnly(await call({}, Buffer.from([0, 0, 0, 0, 10, 1])))).toMatchObject({
      status: '2',
      message: 'unexpected EOF',
    });
    const announced = Buffer.from([0, 0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
    expect(trailersOnly(await call({}, announced, false))).toMatchObject({
      status: '8',
      message: 'grpc: received message larger than max (2147483647 vs. 2097152)',
    });
  });

  it('a second request message on a unary call is ignored', async () => {
    const a = await call({}, Buffer.concat([grpcFrame(PUT), grpcFrame(PUT)]));
    expect(a.trailers?.['grpc-status']).toBe('0');
  });

  it('a watch past its grpc-timeout ends with DEADLINE_EXCEEDED after its messages', async () => {
    const create = grpcFrame([0x0a, 3, 0x0a, 1, 0x6b]);
    const a = await call({ ':path': '/etcdserverpb.Watch/Watch', 'grpc-timeout': '200m' }, create, false);
    expect(a.bytes).toBeGreaterThan(0); // the created response
    expect(a.trailers).toMatchObject({ 'grpc-status': '4', 'grpc-message': 'context deadline exceeded' });
  });
});

const servers = [
  ['edgecd', createHttp2GrpcServer],
  ['h2', createH2GrpcServer],
] as const;

describe.each(servers)(
  'calls: cancel, deadline, back-pressure (%s server, test routes)',
  (_kind, createServer) => {
    const events: string[] = [];
    let listener: net.Server;
    let h2: H2GrpcServer;
    let session: http2.ClientHttp2Session;
    const flood = { sent: 0, waits: 0, drained: 0 };

    const route = (method: string, stream: boolean, handler: H2Handler): [string, H2Route] => [
      `/test.T/${method}`,
      {
        service: 'test.T',
        method,
        type: stream ? 'server_stream' : 'unary',
        requestStream: false,
        responseStream: stream,
        deserialize: (b) => b,
        serialize: (v) => v as Buffer,
        handler,
      },
    ];

    beforeAll(async () => {
      h2 = createServer({
        maxReceiveBytes: 1024,
        maxConcurrentStreams: 100,
        routes: new Map([
          // Never answers: only the client or the deadline ends it.
          route('Hang', false, (call) => {
            events.push('started');
            call.on('cancelled', () => events.push(`cancelled ${call.cancelled}`));
          }),
          // Writes 64 KiB messages until told to wait, then once more after each 'drain', 64 in all.
          route('Flood', true, (call) => {
            const more = () => {
              while (flood.sent < 64) {
                flood.sent++;
                if (!call.write(Buffer.alloc(64 * 1024, flood.sent))) {
                  flood.waits++;
                  return;
                }
              }
              call.end();
            };
            call.on('drain', () => {
              flood.drained++;
              more();
            });
            more();
          }),
        ]),
      });
      listener = net.createServer((socket) => h2.injectConnection(socket));
      await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
      session = http2.connect(`http://127.0.0.1:${(listener.address() as net.AddressInfo).port}`);
      session.on('error', () => {});
    });
    afterAll(async () => {
      session?.close();
      await h2?.close(100);
      listener?.close();
    });

    const request = (method: string, headers: Record<string, string> = {}) => {
      const req = session.request({
        ':method': 'POST',
        ':path': `/test.T/${method}`,
        'content-type': 'application/grpc',
        ...headers,
      });
      req.on('error', () => {});
      req.end(grpcFrame([1]));
      return req;
    };

    it("a client's RST_STREAM is the call's 'cancelled'", async () => {
      events.length = 0;
      const req = request('Hang');
      await waitFor('the handler', () => events.length > 0);
      req.close(http2.constants.NGHTTP2_CANCEL);
      await waitFor('the cancel', () => events.length > 1);
      expect(events).toEqual(['started', 'cancelled true']);
    });

    it('grpc-timeout: the call is cancelled and ends with DEADLINE_EXCEEDED', async () => {
      events.length = 0;
      const req = request('Hang', { 'grpc-timeout': '30m' });
      const headers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
        req.once('response', resolve),
      );
      expect(headers['grpc-status']).toBe('4');
      expect(events).toEqual(['started', 'cancelled true']);
    });

    it("a server stream waits for 'drain' while the client does not read, and ends once it has", async () => {
      const req = request('Flood');
      req.pause();
      // 4 MiB is more than the flow-control windows and the stream's buffer hold: the handler is told to wait.
      await waitFor('the handler to wait', () => flood.waits > 0);
      expect(flood).toMatchObject({ waits: 1, drained: 0 });
      expect(flood.sent).toBeLessThan(64);
      let bytes = 0;
      req.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      req.resume();
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) =>
        req.once('trailers', resolve),
      );
      expect(trailers['grpc-status']).toBe('0');
      expect(bytes).toBe(64 * (5 + 64 * 1024));
      expect(flood.drained).toBe(flood.waits);
    });
  },
);
