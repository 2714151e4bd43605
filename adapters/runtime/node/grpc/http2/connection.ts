// One HTTP/2 connection of edgecd's own gRPC server (RFC 9113, the server side a gRPC server needs): the preface
// and SETTINGS exchange, frames read from the socket in batches, header blocks decoded (./hpack.ts), streams opened
// and handed to `onStream`, PING answered, flow control both ways, GOAWAY. Frames we send are gathered and written
// together once per turn of the event loop. A peer breaking the protocol gets GOAWAY with the error and is closed.

import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { PeerSocket } from '../h2/call.ts';
import * as f from './frames.ts';
import { type HeaderMap, HpackDecoder, HpackError } from './hpack.ts';
import { DEFAULT_KEEPALIVE, Keepalive, type KeepaliveOptions } from './keepalive.ts';
import { ConnectionError, FrameReader, unpad } from './reader.ts';
import { Http2Stream, type StreamOwner } from './stream.ts';
import { FrameWriter } from './writer.ts';

export interface ConnectionOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams past it are refused (RST_STREAM REFUSED_STREAM). */
  readonly maxConcurrentStreams: number;
  readonly onStream: (stream: Http2Stream, headers: HeaderMap) => void;
  /** The client's preface and first SETTINGS have arrived. */
  readonly onSettings?: () => void;
  readonly onClose?: () => void;
  /** etcd's --grpc-keepalive-* (./keepalive.ts). Default: etcd's defaults. */
  readonly keepalive?: KeepaliveOptions;
}

/** Our receive windows: what a client may send on a stream, and on the connection, before we ask for more. */
const STREAM_WINDOW = 1 << 20;
const CONNECTION_WINDOW = 1 << 24;
/** Decoded header lists larger than this end the connection. */
const MAX_HEADER_BYTES = 1 << 20;
/** Writers wait for drain while the socket holds more than this. */
const SOCKET_HIGH_WATER = 1 << 20;

export class Http2Connection implements StreamOwner {
  maxFrame = f.DEFAULT_MAX_FRAME;
  window = f.DEFAULT_WINDOW;
  private readonly conn: Duplex;
  private readonly options: ConnectionOptions;
  private readonly decoder = new HpackDecoder({ maxTableSize: 4096, maxListSize: MAX_HEADER_BYTES });
  private readonly streams = new Map<number, Http2Stream>();
  private readonly waiting = new Set<Http2Stream>();
  private peerInitialWindow = f.DEFAULT_WINDOW;
  private lastStreamId = 0;
  private readonly reader: FrameReader;
  private settingsSeen = false;
  private unackedConnection = 0;
  private readonly writer: FrameWriter;
  private readonly keepalive: Keepalive;
  private goingAway = false;
  private dead = false;

  constructor(conn: Duplex, options: ConnectionOptions) {
    this.conn = conn;
    this.options = options;
    this.reader = new FrameReader({
      frame: (type, flags, id, payload) => this.frame(type, flags, id, payload),
      headerBlock: (id, block, endStream) => this.headerBlock(id, block, endStream),
      stopped: () => this.dead,
    });
    this.writer = new FrameWriter(conn, () => this.resumeAll());
    this.keepalive = new Keepalive(options.keepalive ?? DEFAULT_KEEPALIVE, {
      now: () => Date.now(),
      sendPing: () => this.writer.write(f.frame(f.PING, 0, 0, Buffer.alloc(8))),
      close: () => conn.destroy(),
    });
    (conn as Partial<Socket>).setNoDelay?.(true);
    conn.on('data', (chunk: Buffer) => this.onData(chunk));
    conn.on('drain', () => this.resumeAll());
    conn.on('error', () => conn.destroy());
    conn.on('close', () => this.onClose());
    conn.on('end', () => conn.end());
    this.writer.write(
      f.settingsFrame([
        [f.SETTINGS_MAX_CONCURRENT_STREAMS, options.maxConcurrentStreams],
        [f.SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW],
      ]),
    );
    this.writer.write(f.windowUpdateFrame(0, CONNECTION_WINDOW - f.DEFAULT_WINDOW));
    conn.resume();
  }

  get socket(): PeerSocket | undefined {
    return this.conn as unknown as PeerSocket;
  }

  get busy(): boolean {
    return this.conn.writableLength > SOCKET_HIGH_WATER;
  }

  /** A stream's HEADERS or DATA (they forgive the client's ping strikes). */
  write(bytes: Buffer): void {
    this.keepalive.wrote();
    this.writer.write(bytes);
  }

  consume(n: number): void {
    this.window -= n;
  }

  blocked(stream: Http2Stream): void {
    this.waiting.add(stream);
  }

  pending(stream: Http2Stream): void {
    this.writer.pending(stream);
  }

  rst(stream: number, code: number): void {
    this.writer.write(f.rstStreamFrame(stream, code));
  }

  closed(stream: Http2Stream): void {
    this.streams.delete(stream.id);
    this.waiting.delete(stream);
    if (this.goingAway && this.streams.size === 0) this.end();
  }

  /** GOAWAY: no new streams; the connection ends once the open ones have. */
  shutdown(): void {
    if (this.goingAway || this.dead) return;
    this.goingAway = true;
    this.writer.write(f.goawayFrame(this.lastStreamId, f.NO_ERROR));
    if (this.streams.size === 0) this.end();
  }

  destroy(): void {
    this.conn.destroy();
  }

  /** Writes what is queued and ends our side: nothing is written after. */
  private end(): void {
    if (this.dead) return;
    this.writer.end();
    this.keepalive.stop();
    this.dead = true;
  }

  private onData(chunk: Buffer): void {
    if (this.dead) return;
    try {
      this.reader.push(chunk);
    } catch (err) {
      if (!(err instanceof ConnectionError || err instanceof HpackError)) throw err;
      const code = err instanceof ConnectionError ? err.code : f.COMPRESSION_ERROR;
      // grpc-go names this one in the GOAWAY's debug data, which clients log.
      const debug = code === f.ENHANCE_YOUR_CALM ? err.message : '';
      this.writer.write(f.goawayFrame(this.lastStreamId, code, debug));
      this.end();
    }
  }

  private frame(type: number, flags: number, id: number, payload: Buffer): void {
    this.keepalive.read();
    if (!this.settingsSeen && type !== f.SETTINGS) throw new ConnectionError(1, 'expected SETTINGS');
    switch (type) {
      case f.DATA:
        return this.data(flags, id, payload);
      case f.RST_STREAM:
        this.streams.get(id)?.close();
        return;
      case f.SETTINGS:
        return this.settings(flags, payload);
      case f.PING:
        if (payload.length !== 8) throw new ConnectionError(f.FRAME_SIZE_ERROR, 'PING');
        if (flags & f.ACK) return;
        this.writer.write(f.frame(f.PING, f.ACK, 0, payload));
        if (this.keepalive.ping(this.streams.size))
          throw new ConnectionError(f.ENHANCE_YOUR_CALM, 'too_many_pings');
        return;
      case f.GOAWAY:
        this.goingAway = true;
        if (this.streams.size === 0) this.end();
        return;
      case f.WINDOW_UPDATE:
        return this.windowUpdate(id, payload);
      case f.PUSH_PROMISE:
        throw new ConnectionError(1, 'PUSH_PROMISE from a client');
      default:
        return; // PRIORITY and unknown types are ignored
    }
  }

  private data(flags: number, id: number, payload: Buffer): void {
    if (id === 0) throw new ConnectionError(1, 'DATA on stream 0');
    this.unackedConnection += payload.length;
    if (this.unackedConnection >= CONNECTION_WINDOW / 2) {
      this.writer.write(f.windowUpdateFrame(0, this.unackedConnection));
      this.unackedConnection = 0;
    }
    const stream = this.streams.get(id);
    if (!stream) return;
    const body = flags & f.PADDED ? unpad(payload) : payload;
    if (body.length > 0) {
      stream.unacked += payload.length;
      if (stream.unacked >= STREAM_WINDOW / 2 && !(flags & f.END_STREAM)) {
        this.writer.write(f.windowUpdateFrame(id, stream.unacked));
        stream.unacked = 0;
      }
      guarded(stream, () => stream.receiveData(body));
    }
    if (flags & f.END_STREAM) guarded(stream, () => stream.receiveEnd());
  }

  private headerBlock(id: number, block: Buffer, endStream: boolean): void {
    if (!this.settingsSeen) throw new ConnectionError(f.PROTOCOL_ERROR, 'expected SETTINGS');
    this.keepalive.read();
    const headers = this.decoder.decode(block); // decoded even when refused: the table must stay in step
    const open = this.streams.get(id);
    if (open) {
      if (endStream) open.receiveEnd(); // trailers from the client
      return;
    }
    if (id <= this.lastStreamId) return; // a closed stream's trailers
    this.lastStreamId = id;
    if (this.goingAway || this.streams.size >= this.options.maxConcurrentStreams) {
      return this.rst(id, f.REFUSED_STREAM);
    }
    const stream = new Http2Stream(this, id, this.peerInitialWindow);
    this.streams.set(id, stream);
    guarded(stream, () => this.options.onStream(stream, headers));
    if (endStream) guarded(stream, () => stream.receiveEnd());
  }

  private settings(flags: number, payload: Buffer): void {
    if (flags & f.ACK) return;
    if (payload.length % 6 !== 0) throw new ConnectionError(f.FRAME_SIZE_ERROR, 'SETTINGS length');
    for (let i = 0; i < payload.length; i += 6) {
      const key = payload.readUInt16BE(i);
      const value = payload.readUInt32BE(i + 2);
      if (key === f.SETTINGS_INITIAL_WINDOW_SIZE) {
        if (value > f.MAX_WINDOW) throw new ConnectionError(f.FLOW_CONTROL_ERROR, 'window too large');
        const delta = value - this.peerInitialWindow;
        this.peerInitialWindow = value;
        for (const s of this.streams.values()) s.sendWindow += delta;
        if (delta > 0) this.resumeAll();
      } else if (key === f.SETTINGS_MAX_FRAME_SIZE) {
        if (value < f.DEFAULT_MAX_FRAME || value > 16_777_215) throw new ConnectionError(1, 'max frame size');
        this.maxFrame = value;
      }
    }
    this.writer.write(f.frame(f.SETTINGS, f.ACK, 0, Buffer.alloc(0)));
    if (!this.settingsSeen) {
      this.settingsSeen = true;
      this.options.onSettings?.();
    }
  }

  private windowUpdate(id: number, payload: Buffer): void {
    if (payload.length !== 4) throw new ConnectionError(f.FRAME_SIZE_ERROR, 'WINDOW_UPDATE length');
    const increment = payload.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      this.window += increment;
      this.resumeAll();
      return;
    }
    const stream = this.streams.get(id);
    if (!stream) return;
    stream.sendWindow += increment;
    // Out of the set while it runs: a writer woken by drain may put the stream back.
    if (this.waiting.delete(stream) && !stream.resume()) this.waiting.add(stream);
  }

  /** Window or socket room came back: streams with data waiting send it, writers waiting hear drain. */
  private resumeAll(): void {
    if (this.waiting.size === 0) return;
    const streams = [...this.waiting];
    this.waiting.clear();
    for (const s of streams) if (!s.resume()) this.waiting.add(s);
  }

  private onClose(): void {
    this.dead = true;
    this.writer.stop();
    this.keepalive.stop();
    for (const s of [...this.streams.values()]) s.close();
    this.options.onClose?.();
  }
}

/** A call that throws takes down its stream (RST_STREAM INTERNAL_ERROR), never the connection or the process. */
function guarded(stream: Http2Stream, fn: () => void): void {
  try {
    fn();
  } catch {
    stream.reset(f.INTERNAL_ERROR);
  }
}
