// The bytes a client sends, as HTTP/2 frames: the preface checked, each chunk split into whole frames (a frame cut
// across chunks waits for its rest), and header blocks put together from HEADERS and their CONTINUATION frames,
// padding and priority removed. A peer breaking these rules gets a ConnectionError (its HTTP/2 error code).

import * as f from './frames.ts';

export class ConnectionError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

export interface FrameSink {
  /** Any frame but HEADERS and CONTINUATION. */
  frame(type: number, flags: number, id: number, payload: Buffer): void;
  /** A whole header block. */
  headerBlock(id: number, block: Buffer, endStream: boolean): void;
  /** True once the connection is gone: the rest of the chunk is dropped. */
  stopped(): boolean;
}

/** A header block in CONTINUATION frames larger than this ends the connection. */
const MAX_HEADER_BLOCK = 1 << 20;

export class FrameReader {
  private readonly sink: FrameSink;
  private pending: Buffer | undefined;
  private prefaceSeen = false;
  /** A header block arriving in CONTINUATION frames. */
  private continuing: { id: number; endStream: boolean; parts: Buffer[]; bytes: number } | undefined;

  constructor(sink: FrameSink) {
    this.sink = sink;
  }

  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    if (!this.prefaceSeen) {
      const n = Math.min(buf.length, f.PREFACE.length);
      if (!buf.subarray(0, n).equals(f.PREFACE.subarray(0, n))) throw new ConnectionError(1, 'bad preface');
      if (n < f.PREFACE.length) {
        this.pending = buf;
        return;
      }
      this.prefaceSeen = true;
      buf = buf.subarray(f.PREFACE.length);
    }
    let at = 0;
    while (buf.length - at >= f.FRAME_HEADER_BYTES) {
      const length = ((buf[at] as number) << 16) | ((buf[at + 1] as number) << 8) | (buf[at + 2] as number);
      if (length > f.DEFAULT_MAX_FRAME) throw new ConnectionError(f.FRAME_SIZE_ERROR, 'frame too large');
      const end = at + f.FRAME_HEADER_BYTES + length;
      if (end > buf.length) break;
      const type = buf[at + 3] as number;
      const flags = buf[at + 4] as number;
      const id = buf.readUInt32BE(at + 5) & 0x7fffffff;
      at = end;
      this.frame(type, flags, id, buf.subarray(end - length, end));
      if (this.sink.stopped()) return;
    }
    if (at < buf.length) this.pending = buf.subarray(at);
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.continuing && type !== f.CONTINUATION) throw new ConnectionError(1, 'expected CONTINUATION');
    if (type === f.HEADERS) return this.headers(flags, id, payload);
    if (type === f.CONTINUATION) return this.continuation(flags, id, payload);
    this.sink.frame(type, flags, id, payload);
  }

  private headers(flags: number, id: number, payload: Buffer): void {
    if (id === 0 || id % 2 === 0) throw new ConnectionError(1, 'HEADERS on a server stream id');
    let block = flags & f.PADDED ? unpad(payload) : payload;
    if (flags & f.PRIORITY_FLAG) block = block.subarray(5);
    const endStream = (flags & f.END_STREAM) !== 0;
    if (flags & f.END_HEADERS) return this.sink.headerBlock(id, block, endStream);
    this.continuing = { id, endStream, parts: [Buffer.from(block)], bytes: block.length };
  }

  private continuation(flags: number, id: number, payload: Buffer): void {
    const c = this.continuing;
    if (!c || c.id !== id) throw new ConnectionError(1, 'unexpected CONTINUATION');
    c.parts.push(Buffer.from(payload));
    c.bytes += payload.length;
    if (c.bytes > MAX_HEADER_BLOCK) throw new ConnectionError(f.PROTOCOL_ERROR, 'header block too large');
    if (!(flags & f.END_HEADERS)) return;
    this.continuing = undefined;
    this.sink.headerBlock(id, Buffer.concat(c.parts), c.endStream);
  }
}

/** A padded frame's content: the pad length byte and the padding removed. */
export function unpad(payload: Buffer): Buffer {
  const pad = payload[0] ?? 0;
  if (pad >= payload.length) throw new ConnectionError(1, 'padding too long');
  return payload.subarray(1, payload.length - pad);
}
