// One stream of edgecd's own HTTP/2 server (./connection.ts), as a gRPC call uses it (CallStream, ../h2/call.ts).
// Messages written during a turn wait here and go out when the connection writes, as few DATA frames as the peer's
// largest frame size allows (grpc-go's writer does the same), within its flow-control windows; what does not fit
// waits, in order, and the trailers wait behind it. The stream closes once both sides have ended it; when we end it
// first, RST_STREAM NO_ERROR tells the client to send no more (as grpc-go does).

import type { CallStream, PeerSocket, StreamEvents } from '../h2/call.ts';
import {
  CONTINUATION,
  DATA,
  END_HEADERS,
  END_STREAM,
  frame,
  frameHeader,
  HEADERS,
  NO_ERROR,
} from './frames.ts';
import { encodeHeaders } from './hpack.ts';

/** What a stream needs of its connection. */
export interface StreamOwner {
  readonly socket: PeerSocket | undefined;
  /** The socket holds more than it should: writers wait for drain. */
  readonly busy: boolean;
  /** The peer's SETTINGS_MAX_FRAME_SIZE. */
  readonly maxFrame: number;
  /** How much of the connection's send window is left. */
  readonly window: number;
  /** Bytes (whole frames) for the socket, in order. */
  write(bytes: Buffer): void;
  /** Takes `n` bytes of the connection's send window. */
  consume(n: number): void;
  /** This stream has DATA waiting for a WINDOW_UPDATE, or a writer waiting for drain. */
  blocked(stream: Http2Stream): void;
  /** This stream has DATA to send when the connection next writes (it calls `flush`). */
  pending(stream: Http2Stream): void;
  rst(stream: number, code: number): void;
  closed(stream: Http2Stream): void;
}

/** A writer is told to wait (write() false) while this much is queued on its stream. */
const HIGH_WATER = 64 * 1024;

const responseHeaders = new Map<string, Buffer>();
/** `:status: 200` and the content type, encoded once per content type. */
function headersFor(contentType: string): Buffer {
  let block = responseHeaders.get(contentType);
  if (!block) {
    block = encodeHeaders(true, { 'content-type': contentType });
    if (responseHeaders.size < 16) responseHeaders.set(contentType, block);
  }
  return block;
}

const trailerBlocks = new Map<string, Buffer>();
/** Status trailers: the usual ones (OK) encoded once. */
function trailersFor(fields: Readonly<Record<string, string>>): Buffer {
  if (fields['grpc-message'] !== '') return encodeHeaders(false, fields);
  const key = fields['grpc-status'] ?? '';
  let block = trailerBlocks.get(key);
  if (!block) {
    block = encodeHeaders(false, fields);
    trailerBlocks.set(key, block);
  }
  return block;
}

export class Http2Stream implements CallStream {
  readonly id: number;
  /** Our send window for this stream (the peer's SETTINGS_INITIAL_WINDOW_SIZE, then its WINDOW_UPDATEs). */
  sendWindow: number;
  /** Request bytes received since our last WINDOW_UPDATE for this stream. */
  unacked = 0;
  remoteEnded = false;
  private readonly owner: StreamOwner;
  private events: StreamEvents | undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private trailerBlock: Buffer | undefined;
  private localEnded = false;
  private isClosed = false;
  private wantsDrain = false;
  private isPending = false;

  constructor(owner: StreamOwner, id: number, sendWindow: number) {
    this.owner = owner;
    this.id = id;
    this.sendWindow = sendWindow;
  }

  get gone(): boolean {
    return this.isClosed || this.localEnded;
  }

  get needDrain(): boolean {
    const need = this.queued >= HIGH_WATER || this.owner.busy;
    if (need && !this.wantsDrain) {
      this.wantsDrain = true;
      this.owner.blocked(this);
    }
    return need;
  }

  get socket(): PeerSocket | undefined {
    return this.owner.socket;
  }

  listen(events: StreamEvents): void {
    this.events = events;
  }

  sendHeaders(contentType: string): void {
    if (this.gone) return;
    this.headerBlock(headersFor(contentType), false);
  }

  sendData(bytes: Buffer): boolean {
    if (this.gone) return true;
    this.queue.push(bytes);
    this.queued += bytes.length;
    if (!this.isPending) {
      this.isPending = true;
      this.owner.pending(this);
    }
    return !this.needDrain;
  }

  sendTrailers(fields: Readonly<Record<string, string>>): void {
    if (this.gone) return;
    const block = trailersFor(fields);
    if (this.queued > 0) this.trailerBlock = block;
    else this.endWith(block);
  }

  sendTrailersOnly(contentType: string, fields: Readonly<Record<string, string>>): void {
    if (this.gone) return;
    this.endWith(Buffer.concat([headersFor(contentType), encodeHeaders(false, fields)]));
  }

  reset(code: number): void {
    if (this.isClosed) return;
    this.owner.rst(this.id, code);
    this.close();
  }

  // --- from the connection ---

  receiveData(chunk: Buffer): void {
    if (!this.isClosed && !this.remoteEnded) this.events?.data(chunk);
  }

  receiveEnd(): void {
    if (this.remoteEnded || this.isClosed) return;
    this.remoteEnded = true;
    this.events?.end();
    if (this.localEnded) this.close();
  }

  /**
   * More window (the stream's or the connection's) or room in the socket: send what waits; say drain if a writer
   * waits. False: still waiting.
   */
  resume(): boolean {
    if (this.isClosed) return true;
    if (this.queued > 0) this.flush();
    if (this.queued >= HIGH_WATER || (this.queued > 0 && !this.isPending)) return false;
    if (this.wantsDrain) {
      if (this.owner.busy) return false;
      this.wantsDrain = false;
      this.events?.drain();
    }
    return true;
  }

  /** Reset by the peer, or the connection is gone. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.queue = [];
    this.queued = 0;
    this.owner.closed(this);
    this.events?.close();
  }

  /** Sends what is queued as the windows allow (the connection calls this when it writes). */
  flush(): void {
    this.isPending = false;
    while (this.queued > 0 && !this.isClosed) {
      const room = Math.min(this.sendWindow, this.owner.window, this.owner.maxFrame);
      if (room <= 0) {
        this.owner.blocked(this);
        return;
      }
      const payload = this.take(Math.min(room, this.queued));
      this.owner.write(frameHeader(payload.length, DATA, 0, this.id));
      this.owner.write(payload);
      this.sendWindow -= payload.length;
      this.owner.consume(payload.length);
    }
    const trailers = this.trailerBlock;
    if (trailers && !this.isClosed) {
      this.trailerBlock = undefined;
      this.endWith(trailers);
    }
  }

  /** The next `n` queued bytes, as one buffer. */
  private take(n: number): Buffer {
    this.queued -= n;
    const head = this.queue[0] as Buffer;
    if (head.length >= n) {
      if (head.length === n) this.queue.shift();
      else this.queue[0] = head.subarray(n);
      return head.length === n ? head : head.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const b = this.queue[0] as Buffer;
      const k = Math.min(b.length, n - at);
      b.copy(out, at, 0, k);
      at += k;
      if (k === b.length) this.queue.shift();
      else this.queue[0] = b.subarray(k);
    }
    return out;
  }

  private endWith(block: Buffer): void {
    this.headerBlock(block, true);
    this.localEnded = true;
    if (this.remoteEnded) return this.close();
    // The request's END_STREAM may be in the frame being read: decide once it has been.
    queueMicrotask(() => {
      if (this.isClosed) return;
      if (!this.remoteEnded) this.owner.rst(this.id, NO_ERROR);
      this.close();
    });
  }

  /** HEADERS, with CONTINUATION frames when the block is larger than a frame. */
  private headerBlock(block: Buffer, endStream: boolean): void {
    const max = this.owner.maxFrame;
    const end = endStream ? END_STREAM : 0;
    if (block.length <= max) {
      this.owner.write(frame(HEADERS, END_HEADERS | end, this.id, block));
      return;
    }
    for (let at = 0; at < block.length; at += max) {
      const part = block.subarray(at, at + max);
      const last = at + max >= block.length ? END_HEADERS : 0;
      const type = at === 0 ? HEADERS : CONTINUATION;
      this.owner.write(frameHeader(part.length, type, (at === 0 ? end : 0) | last, this.id));
      this.owner.write(part);
    }
  }
}
