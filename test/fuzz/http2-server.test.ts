// edgecd's own HTTP/2 server (adapters/runtime/node/grpc/http2/) fed by hand and by fast-check, fixed seed,
// FUZZ_RUNS runs per property (default 300; `npm run fuzz` raises it):
// - HPACK: RFC 7541's own examples (C.3 plain, C.4 Huffman-coded, each a sequence sharing one dynamic table), and
//   what the encoder writes decodes to the same fields;
// - a connection fed any bytes — a valid client's stream with bytes changed, cut or inserted anywhere, or noise
//   after the preface — never lets an exception out of its data handler (which would take the process down): it
//   serves, refuses a stream, or ends with GOAWAY;
// - a handler that throws resets its own stream (INTERNAL_ERROR); the connection goes on serving.

import { Duplex } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dispatcher, type H2Route } from '../../adapters/runtime/node/grpc/h2/dispatch.ts';
import { Http2Connection } from '../../adapters/runtime/node/grpc/http2/connection.ts';
import { encodeHeaders, HpackDecoder, HpackError } from '../../adapters/runtime/node/grpc/http2/hpack.ts';
import { grpcFrame } from '../support/raw-grpc.ts';
import {
  ACK,
  DATA,
  END_HEADERS,
  END_STREAM,
  frame,
  HEADERS,
  PREFACE,
  readFrames,
  SETTINGS,
} from '../support/raw-h2.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const hex = (s: string) => Buffer.from(s.replace(/\s/g, ''), 'hex');

describe('HPACK', () => {
  const decoder = () => new HpackDecoder({ maxTableSize: 4096, maxListSize: 1 << 20 });

  it('RFC 7541 C.3: requests without Huffman coding, one table', () => {
    const d = decoder();
    expect(d.decode(hex('828684410f7777772e6578616d706c652e636f6d'))).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'www.example.com',
    });
    expect(d.decode(hex('828684be58086e6f2d6361636865'))).toEqual({
      ':method': 'GET',
      ':scheme': 'http',
      ':path': '/',
      ':authority': 'www.example.com',
      'cache-control': 'no-cache',
    });
    expect(d.decode(hex('828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'))).toEqual({
      ':method': 'GET',
      ':scheme': 'https',
      ':path': '/index.html',
      ':authority': 'www.example.com',
      'custom-key': 'custom-value',
    });
  });

  it('RFC 7541 C.4: the same requests Huffman-coded', () => {
    const d = decoder();
    expect(d.decode(hex('828684418cf1e3c2e5f23a6ba0ab90f4ff'))[':authority']).toBe('www.example.com');
    expect(d.decode(hex('828684be5886a8eb10649cbf'))['cache-control']).toBe('no-cache');
    expect(d.decode(hex('828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'))).toMatchObject({
      ':path': '/index.html',
      'custom-key': 'custom-value',
    });
  });

  it('what the encoder writes decodes to the same fields; a name twice gives an array', () => {
    const fields = {
      'content-type': 'application/grpc',
      'grpc-status': '13',
      'grpc-message': 'x'.repeat(300),
    };
    expect(decoder().decode(encodeHeaders(true, fields))).toEqual({ ':status': '200', ...fields });
    expect(decoder().decode(hex('4001610178 4001610179 be'))).toEqual({ a: ['x', 'y', 'y'] });
  });

  it('an index past the tables, a cut string, a bad Huffman code: HpackError', () => {
    for (const block of ['ff00', '0f', '4005', '408aff'])
      expect(() => decoder().decode(hex(block))).toThrow(HpackError);
  });
});

/** A connection on a socket of our own: what the server writes is read back as frames. */
function connection(routes: Map<string, H2Route>) {
  const written: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      cb();
    },
  });
  const conn = new Http2Connection(socket, {
    maxConcurrentStreams: 100,
    onStream: dispatcher({ routes, maxReceiveBytes: 1 << 16 }),
  });
  return { socket, conn, written, feed: (bytes: Buffer) => socket.emit('data', bytes) };
}

const echo: H2Route = {
  service: 'test.T',
  method: 'Echo',
  type: 'unary',
  requestStream: false,
  responseStream: false,
  deserialize: (b) => Buffer.from(b),
  serialize: (v) => v as Buffer,
  handler: (call, callback) => callback(null, call.request),
};
const boom: H2Route = {
  ...echo,
  method: 'Boom',
  handler: () => {
    throw new Error('boom');
  },
};
const routes = new Map([
  ['/test.T/Echo', echo],
  ['/test.T/Boom', boom],
]);

function request(id: number, path: string, body: number[]): Buffer {
  const block = encodeHeaders(false, {
    ':method': 'POST',
    ':scheme': 'http',
    ':path': path,
    ':authority': 'http://127.0.0.1:2379',
    'content-type': 'application/grpc',
  });
  return Buffer.concat([
    frame(HEADERS, END_HEADERS, id, block),
    frame(DATA, END_STREAM, id, grpcFrame(body)),
  ]);
}

const client = Buffer.concat([
  PREFACE,
  frame(SETTINGS, 0, 0),
  request(1, '/test.T/Echo', [1, 2, 3]),
  frame(SETTINGS, ACK, 0),
  request(3, '/test.T/Boom', [4]),
  request(5, '/test.T/Echo', [5]),
]);

describe('a connection fed any bytes', () => {
  it('a valid client: answers, a throwing handler resets only its stream', async () => {
    const c = connection(routes);
    c.feed(client);
    await new Promise((r) => setImmediate(r));
    const frames: { type: number; flags: number; streamId: number }[] = [];
    const sink = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    readFrames(sink as never, (f) => frames.push(f));
    sink.emit('data', Buffer.concat(c.written));
    const on = (id: number) => frames.filter((f) => f.streamId === id).map((f) => f.type);
    expect(on(1)).toEqual([HEADERS, DATA, HEADERS]);
    expect(on(3)).toEqual([0x3]); // RST_STREAM
    expect(on(5)).toEqual([HEADERS, DATA, HEADERS]);
    c.conn.destroy();
  });

  it('changed, cut or inserted bytes never throw out of the data handler', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            fc.nat(client.length),
            fc.integer({ min: 0, max: 255 }),
            fc.constantFrom('set', 'cut', 'add'),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        fc.integer({ min: 1, max: 64 }),
        async (edits, chunk) => {
          let bytes = Buffer.from(client);
          for (const [at, value, how] of edits) {
            const i = Math.min(at, bytes.length - 1);
            if (how === 'set') bytes[i] = value;
            else if (how === 'cut') bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
            else bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([value]), bytes.subarray(i)]);
          }
          const c = connection(routes);
          for (let i = 0; i < bytes.length; i += chunk) c.feed(bytes.subarray(i, i + chunk));
          await new Promise((r) => setImmediate(r));
          c.conn.destroy();
        },
      ),
      { numRuns: RUNS, seed: 2026 },
    );
  });

  it('noise after the preface and SETTINGS never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (noise) => {
        const c = connection(routes);
        c.feed(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0), Buffer.from(noise)]));
        c.conn.destroy();
      }),
      { numRuns: RUNS, seed: 7 },
    );
  });
});
