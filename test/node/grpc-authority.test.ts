// The :authority fix (adapters/runtime/node/grpc/authority.ts) at the byte level: a client that sends its first
// request with a URL-shaped :authority (as etcdctl 3.4 does with http:// endpoints) and acknowledges the server's
// SETTINGS only afterwards, in a separate packet, gets an answer, not RST_STREAM PROTOCOL_ERROR. (Regression: the
// rewrite once landed in a buffer that the later packet had replaced.)
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClientServer, startClientServer } from '../../adapters/runtime/node/client-server.ts';
import { type MemoryCluster, startMemoryCluster } from '../support/memory-cluster.ts';

let cluster: MemoryCluster;
let server: ClientServer;

beforeAll(async () => {
  cluster = await startMemoryCluster({ size: 1 });
  server = await startClientServer({ node: cluster.nodes[0] });
});
afterAll(async () => {
  await server?.close();
  await cluster?.close();
});

const frame = (type: number, flags: number, stream: number, payload: Buffer) => {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
};
const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);

/** A request's header block, plain (not Huffman) literals, :authority as a literal with incremental indexing. */
function headerBlock(authority: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]), // :method POST, :scheme http
    Buffer.from([0x44]),
    str('/etcdserverpb.Maintenance/Status'),
    Buffer.from([0x41]),
    str(authority),
    Buffer.from([0x0f, 0x10]), // content-type (static 31), without indexing
    str('application/grpc'),
    Buffer.from([0x40]),
    str('te'),
    str('trailers'),
  ]);
}

/** Sends the connection in pieces and reports the frame types the server sent on stream 1. */
async function exchange(authority: string): Promise<number[]> {
  const socket = net.connect(server.port, '127.0.0.1');
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let received = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => {
    received = Buffer.concat([received, d]);
  });
  const pause = () => new Promise((r) => setTimeout(r, 50));
  socket.write(
    Buffer.concat([
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
      frame(4, 0, 0, Buffer.alloc(0)),
    ]),
  );
  await pause();
  socket.write(frame(1, 0x4, 1, headerBlock(authority))); // HEADERS, END_HEADERS
  await pause();
  socket.write(frame(4, 0x1, 0, Buffer.alloc(0))); // only now the SETTINGS ACK, in a packet of its own
  await pause();
  socket.write(frame(0, 0x1, 1, Buffer.from([0, 0, 0, 0, 0]))); // DATA: an empty StatusRequest, END_STREAM
  const types: number[] = [];
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && !types.includes(1) && !types.includes(3)) {
    await pause();
    types.length = 0;
    for (let at = 0; at + 9 <= received.length; ) {
      const length = received.readUIntBE(at, 3);
      if ((received.readUInt32BE(at + 5) & 0x7fffffff) === 1) types.push(received[at + 3]);
      at += 9 + length;
    }
  }
  socket.destroy();
  return types;
}

describe('HTTP/2 :authority with a scheme', () => {
  it('is answered (HEADERS), not reset, when the SETTINGS ACK comes after the first request', async () => {
    for (const authority of ['http://127.0.0.1:2379', '127.0.0.1:2379']) {
      const types = await exchange(authority);
      expect(types, authority).toContain(1); // HEADERS
      expect(types, authority).not.toContain(3); // RST_STREAM
    }
  });
});
