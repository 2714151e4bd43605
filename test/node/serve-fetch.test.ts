// serveFetch (the gateway over Node's HTTP/1.1) streaming a long reply to a slow reader: every write that fills the
// socket waits for 'drain', and those waits leave no listeners behind on the response (they used to leave a
// 'close' and two 'error' listeners per wait until the reply ended: MaxListenersExceededWarning on a long
// RangeStream or watch).

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { serveFetch } from '../../adapters/runtime/node/serve-fetch.ts';

const CHUNKS = 200;
const CHUNK = new Uint8Array(64 * 1024).fill(120);
let server: http.Server;
let port: number;
/** The most 'close' and 'error' listeners the response had after any chunk was written. */
const most = { close: 0, error: 0, chunks: 0 };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let sent = 0;
    const body = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          most.close = Math.max(most.close, res.listenerCount('close'));
          most.error = Math.max(most.error, res.listenerCount('error'));
          if (sent++ === CHUNKS) return controller.close();
          most.chunks = sent;
          controller.enqueue(CHUNK);
        },
      },
      { highWaterMark: 0 },
    );
    void serveFetch(async () => new Response(body), req, res);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
});

it('waits for drain without piling up listeners on the response', async () => {
  const received = await new Promise<number>((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let bytes = 0;
        // Read in small sips so that the server's writes keep filling the socket.
        res.pause();
        const sip = () => {
          for (let c = res.read(); c; c = res.read()) bytes += (c as Buffer).length;
          if (!res.readableEnded) setTimeout(sip, 1);
        };
        res.on('readable', () => {});
        res.on('end', () => resolve(bytes));
        sip();
      })
      .on('error', reject);
  });
  expect(received).toBe(CHUNKS * CHUNK.length);
  expect(most.chunks).toBe(CHUNKS);
  expect(most.close).toBeLessThanOrEqual(3);
  expect(most.error).toBeLessThanOrEqual(3);
});
