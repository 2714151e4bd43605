// HTTP/2 by hand over a plain socket, for clients that misbehave on purpose — what node:http2 will not do: ignore
// the server's SETTINGS_MAX_CONCURRENT_STREAMS, or never read a stream. Frames, a gRPC request's header block (HPACK
// literals, no Huffman, no dynamic table), and a frame reader.

import type { Socket } from 'node:net';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
export const DATA = 0x0;
export const HEADERS = 0x1;
export const RST_STREAM = 0x3;
export const SETTINGS = 0x4;
export const GOAWAY = 0x7;
export const ACK = 0x1;
export const END_STREAM = 0x1;
export const END_HEADERS = 0x4;
/** RST_STREAM / GOAWAY error codes. */
export const PROTOCOL_ERROR = 0x1;
export const INTERNAL_ERROR = 0x2;
export const REFUSED_STREAM = 0x7;

export function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK integer with an n-bit prefix; `first` holds the bits above the prefix. */
function hpackInt(value: number, prefix: number, first = 0): number[] {
  const max = (1 << prefix) - 1;
  if (value < max) return [first | value];
  const out = [first | max];
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) | 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return out;
}

function literal(text: string): number[] {
  const bytes = [...Buffer.from(text, 'latin1')];
  return [...hpackInt(bytes.length, 7), ...bytes];
}

/** A gRPC request's header block: POST, http, `path`, `authority`, content-type application/grpc, te trailers. */
export function requestHeaders(path: string, authority = '127.0.0.1'): Buffer {
  return Buffer.from([
    0x83, // :method POST (static 3)
    0x86, // :scheme http (static 6)
    0x04, // :path (static name 4), literal value, not indexed
    ...literal(path),
    0x01, // :authority (static name 1)
    ...literal(authority),
    0x00,
    ...literal('content-type'),
    ...literal('application/grpc'),
    0x00,
    ...literal('te'),
    ...literal('trailers'),
  ]);
}

/** A gRPC length-prefixed message in one DATA payload. */
export function grpcMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/**
 * Reads the server's frames off `socket` (after its 24-byte preface has been sent by us), acknowledging each SETTINGS
 * as a well-behaved client must.
 */
export function readFrames(socket: Socket, onFrame: (f: Frame) => void): void {
  let buf: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    while (buf.length >= 9) {
      const length = buf.readUIntBE(0, 3);
      if (buf.length < 9 + length) break;
      const f = {
        type: buf[3],
        flags: buf[4],
        streamId: buf.readUInt32BE(5) & 0x7fffffff,
        payload: buf.subarray(9, 9 + length),
      };
      buf = buf.subarray(9 + length);
      if (f.type === SETTINGS && !(f.flags & ACK)) socket.write(frame(SETTINGS, ACK, 0));
      onFrame(f);
    }
  });
}

/** WatchRequest{create_request{key, range_end}} for keys up to 127 bytes. */
export function watchCreate(key: string, rangeEnd: string): Uint8Array {
  const field = (n: number, text: string) => [(n << 3) | 2, text.length, ...Buffer.from(text, 'latin1')];
  const create = [...field(1, key), ...field(2, rangeEnd)];
  return Uint8Array.from([0x0a, create.length, ...create]);
}
