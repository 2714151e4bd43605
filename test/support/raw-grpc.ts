// Hand-built gRPC calls for tests: any bytes as the message, any compressed flag, over one HTTP/2 connection, with a
// bounded wait. What the server answers comes back as grpc-status and the decoded grpc-message.

import http2 from 'node:http2';

export interface RawAnswer {
  /** grpc-status, or undefined when the stream closed without one (e.g. a stream still open at the timeout). */
  readonly status: number | undefined;
  readonly message: string;
  /** The response messages' bytes, frames included. */
  readonly body: Buffer;
}

/** A gRPC length-prefixed message: flag byte, 4-byte big-endian length, bytes. */
export function grpcFrame(message: Uint8Array | readonly number[], flag = 0): Buffer {
  const bytes = Buffer.from(message as Uint8Array);
  const out = Buffer.alloc(5 + bytes.length);
  out[0] = flag;
  out.writeUInt32BE(bytes.length, 1);
  bytes.copy(out, 5);
  return out;
}

/** Protobuf varint of a non-negative integer (bigint for values past 2^53). */
export function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** A length-delimited field. */
export function lengthDelimited(field: number | bigint, bytes: readonly number[]): number[] {
  return [...varint((BigInt(field) << 3n) | 2n), ...varint(bytes.length), ...bytes];
}

export class RawGrpcClient {
  private readonly session: http2.ClientHttp2Session;

  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => {});
  }

  /** One call: `body` is sent as is (build it with grpcFrame), then the request half-closes. */
  call(
    path: string,
    body: Buffer,
    headers: Record<string, string> = {},
    timeoutMs = 5000,
  ): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const req = this.session.request({
        ':method': 'POST',
        ':path': path,
        'content-type': 'application/grpc',
        te: 'trailers',
        ...headers,
      });
      const chunks: Buffer[] = [];
      let fields: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => {
        fields = { ...fields, ...h };
      });
      req.on('trailers', (t) => {
        fields = { ...fields, ...t };
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', reject);
      const timer = setTimeout(() => req.close(), timeoutMs);
      req.on('close', () => {
        clearTimeout(timer);
        const s = fields['grpc-status'];
        const m = fields['grpc-message'];
        resolve({
          status: s === undefined ? undefined : Number(s),
          message: typeof m === 'string' ? decodeURIComponent(m) : '',
          body: Buffer.concat(chunks),
        });
      });
      req.end(body);
    });
  }

  close(): void {
    this.session.close();
  }
}
