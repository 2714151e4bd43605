// Older Go gRPC clients — etcdctl 3.4 and etcd's Go client before its authority fix, with endpoints written
// `http://host:port`, and always with `--cluster` — send the whole URL as the HTTP/2 `:authority`. Node's HTTP/2
// layer (nghttp2) refuses a `/` there with RST_STREAM PROTOCOL_ERROR before our gRPC server sees the call, where
// etcd's Go server accepts it. Node offers no switch for that check, so this file fixes the header on the wire:
//
//   1. Until a connection's first request, we hold its bytes: we answer the client's preface with an empty
//      SETTINGS frame of our own (Go clients wait for the server's before they send a request), drop the client's
//      acknowledgement of it, answer PINGs, and read up to the end of the first request's header block.
//   2. A first request whose :authority has no `/` (every other client) hands the socket to the gRPC server as it
//      is, bytes put back: no cost for the life of the connection. nghttp2 then sends its own SETTINGS.
//   3. Otherwise the connection runs through a filter for its life: in every header block, an :authority literal
//      has each `/` turned into `-` in place. In a Huffman-coded literal both have 6-bit codes, so lengths,
//      frames and the HPACK dynamic tables on both sides stay in step (the rewritten value is what the server's
//      table holds, and what later requests refer to by index).

import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { decodeString, hasSlash, readString, replaceSlashes } from './hpack-huffman.ts';

const PREFACE_BYTES = 24;
const FRAME_HEADER = 9;
const HEADERS = 0x1;
const SETTINGS = 0x4;
const PING = 0x6;
const CONTINUATION = 0x9;
const ACK = 0x1;
const MAX_CONCURRENT_STREAMS = 0x3;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
/** Held at most this much before the first request; a client sending more is handed over as it is. */
const MAX_HELD = 1024 * 1024;

export interface FixAuthorityOptions {
  /**
   * etcd --max-concurrent-streams: our SETTINGS carries it when below 2^32 - 1, so that a client knows the limit
   * before its first requests, as it would from grpc-go's first SETTINGS.
   */
  readonly maxConcurrentStreams?: number;
  /** Called once the client's preface and first SETTINGS frame have arrived (grpc-go's handshake). */
  readonly onSettings?: () => void;
}

/** Takes an accepted HTTP/2 connection (its preface not yet read) and hands it to the gRPC server as above. */
export function fixAuthority(
  socket: Socket,
  inject: (connection: Duplex) => void,
  options: FixAuthorityOptions = {},
): void {
  const { maxConcurrentStreams = 2 ** 32 - 1, onSettings } = options;
  let held: Buffer = Buffer.alloc(0);
  let parsed = PREFACE_BYTES; // frames before this offset are scanned (and kept unless stripped)
  let ackStripped = false;
  let sentSettings = false;
  const blocks: HeaderBlock[] = [];
  let open: HeaderBlock | undefined;
  const onData = (chunk: Buffer) => {
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    if (!sentSettings && held.length >= PREFACE_BYTES) {
      sentSettings = true;
      socket.write(settingsFrame(maxConcurrentStreams));
    }
    while (held.length >= parsed + FRAME_HEADER) {
      const length = held.readUIntBE(parsed, 3);
      const end = parsed + FRAME_HEADER + length;
      if (held.length < end) break;
      const type = held[parsed + 3];
      const flags = held[parsed + 4];
      if (type === SETTINGS && !(flags & ACK)) onSettings?.();
      if (type === SETTINGS && flags & ACK && !ackStripped) {
        ackStripped = true; // acknowledges our SETTINGS: nghttp2 never sent it
        held = Buffer.concat([held.subarray(0, parsed), held.subarray(end)]);
        continue;
      }
      if (type === PING && !(flags & ACK) && length === 8) {
        socket.write(
          Buffer.concat([Buffer.from([0, 0, 8, PING, ACK, 0, 0, 0, 0]), held.subarray(end - 8, end)]),
        );
        held = Buffer.concat([held.subarray(0, parsed), held.subarray(end)]);
        continue;
      }
      if (type === HEADERS || (type === CONTINUATION && open)) {
        open ??= { fragments: [] };
        open.fragments.push(fragmentOf(held, parsed, type, flags, length));
        if (flags & END_HEADERS) {
          blocks.push(open);
          open = undefined;
        }
      }
      parsed = end;
    }
    const ready = ackStripped && blocks.length > 0;
    if (!ready && held.length < MAX_HELD) return;
    socket.off('data', onData);
    socket.pause();
    // `held` was rebuilt by each chunk and each dropped frame; the bytes of recorded fragments kept their offsets
    // (frames are only ever dropped after them), so point the fragments at the final buffer before rewriting.
    for (const b of [...blocks, ...(open ? [open] : [])]) for (const f of b.fragments) f.buffer = held;
    const needsFilter = blocks.some((b) => rewriteAuthority(b, false));
    if (!needsFilter) {
      socket.unshift(held);
      inject(socket);
      return;
    }
    for (const b of blocks) rewriteAuthority(b, true);
    inject(filtered(socket, held.subarray(parsed), held.subarray(0, parsed), open));
  };
  socket.on('data', onData);
  socket.resume(); // the sniffer paused it
}

/** A SETTINGS frame, with SETTINGS_MAX_CONCURRENT_STREAMS unless it is the unlimited default. */
function settingsFrame(maxConcurrentStreams: number): Buffer {
  if (maxConcurrentStreams >= 2 ** 32 - 1) return Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0]);
  const frame = Buffer.from([0, 0, 6, SETTINGS, 0, 0, 0, 0, 0, 0, MAX_CONCURRENT_STREAMS, 0, 0, 0, 0]);
  frame.writeUInt32BE(maxConcurrentStreams, 11);
  return frame;
}

/** Where a header block fragment lies in a buffer: [start, end). */
interface HeaderBlock {
  fragments: { buffer: Buffer; readonly start: number; readonly end: number }[];
}

function fragmentOf(buf: Buffer, at: number, type: number, flags: number, length: number) {
  let start = at + FRAME_HEADER;
  let end = start + length;
  if (type === HEADERS) {
    if (flags & PADDED) {
      end -= buf[start];
      start += 1;
    }
    if (flags & PRIORITY) start += 5;
  }
  return { buffer: buf, start, end: Math.max(start, end) };
}

/**
 * Finds :authority literals with a `/` in a header block; with `apply`, turns each `/` into `-` in place.
 * Returns whether there was any.
 */
function rewriteAuthority(block: HeaderBlock, apply: boolean): boolean {
  // The block as one array, and where each of its bytes lives.
  const total = block.fragments.reduce((n, f) => n + f.end - f.start, 0);
  const bytes = new Uint8Array(total);
  let o = 0;
  for (const f of block.fragments) {
    bytes.set(f.buffer.subarray(f.start, f.end), o);
    o += f.end - f.start;
  }
  let found = false;
  let i = 0;
  const int = (prefix: number): number => {
    const max = (1 << prefix) - 1;
    let value = bytes[i++] & max;
    if (value < max) return value;
    for (let shift = 0; i < bytes.length && shift < 28; shift += 7) {
      const b = bytes[i++];
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) break;
    }
    return value;
  };
  while (i < bytes.length) {
    const b = bytes[i];
    if (b & 0x80) {
      int(7); // indexed field
      continue;
    }
    if ((b & 0xe0) === 0x20) {
      int(5); // dynamic table size update
      continue;
    }
    const nameIndex = int((b & 0xc0) === 0x40 ? 6 : 4);
    let authority = nameIndex === 1; // :authority in the static table
    if (nameIndex === 0) {
      const [name] = readString(bytes, i);
      i = name.end;
      authority = decodeString(bytes, name) === ':authority';
    }
    const [value] = readString(bytes, i);
    i = value.end;
    if (authority && hasSlash(bytes, value)) {
      found = true;
      if (apply) replaceSlashes(bytes, value);
    }
  }
  if (found && apply) {
    o = 0;
    for (const f of block.fragments) {
      f.buffer.set(bytes.subarray(o, o + f.end - f.start), f.start);
      o += f.end - f.start;
    }
  }
  return found;
}

/**
 * The connection for clients that need the rewrite: a duplex over the socket that passes frames through,
 * rewriting :authority in every header block. `head` (already scanned, rewritten) goes first, then `rest`.
 */
function filtered(socket: Socket, rest: Buffer, head: Buffer, pending: HeaderBlock | undefined): Duplex {
  socket.setNoDelay(true);
  let buf: Buffer = rest;
  let open = pending;
  const duplex = new Duplex({
    read: () => socket.resume(),
    write: (chunk, _enc, done) => socket.write(chunk, done),
    final: (done) => {
      socket.end();
      done();
    },
    destroy: (err, done) => {
      socket.destroy(err ?? undefined);
      done(err);
    },
  });
  /** Frames of a header block still open: released with it once complete (nothing may come between them). */
  let blockFrames: Buffer[] = [];
  const pump = () => {
    let at = 0;
    const out: Buffer[] = [];
    while (buf.length >= at + FRAME_HEADER) {
      const length = buf.readUIntBE(at, 3);
      const end = at + FRAME_HEADER + length;
      if (buf.length < end) break;
      const type = buf[at + 3];
      const flags = buf[at + 4];
      at = end;
      if (type !== HEADERS && !(type === CONTINUATION && open)) {
        out.push(buf.subarray(end - FRAME_HEADER - length, end));
        continue;
      }
      const frame = Buffer.from(buf.subarray(end - FRAME_HEADER - length, end)); // a copy, rewritten in place
      open ??= { fragments: [] };
      open.fragments.push(fragmentOf(frame, 0, type, flags, length));
      blockFrames.push(frame);
      if (flags & END_HEADERS) {
        rewriteAuthority(open, true);
        out.push(...blockFrames);
        blockFrames = [];
        open = undefined;
      }
    }
    buf = Buffer.from(buf.subarray(at));
    if (out.length > 0 && !duplex.push(Buffer.concat(out))) socket.pause();
  };
  // What the gRPC server and Node's HTTP/2 read off a connection: its peer, and for TLS its verified certificate (the
  // caller's identity with --client-cert-auth).
  const view = duplex as unknown as Record<string, unknown>;
  const source = socket as unknown as Record<string, unknown>;
  for (const key of [
    'remoteAddress',
    'remotePort',
    'remoteFamily',
    'encrypted',
    'authorized',
    'alpnProtocol',
  ]) {
    if (source[key] !== undefined) view[key] = source[key];
  }
  for (const key of ['getPeerCertificate', 'getCipher', 'getProtocol', 'setNoDelay', 'setKeepAlive']) {
    const fn = source[key];
    if (typeof fn === 'function') view[key] = fn.bind(socket);
  }
  duplex.push(head);
  pump();
  socket.on('data', (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    pump();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('error', (err) => duplex.destroy(err));
  socket.on('close', () => duplex.destroy());
  socket.resume();
  return duplex;
}
