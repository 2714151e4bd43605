// A fault-injecting TCP proxy in front of one member's peer port. Every member advertises its proxy's port to the
// others, so all Raft traffic into that member passes through here. edgecd's peer connections are one-way (the
// dialer only sends; see adapters/transport/peer/README.md), and the dialer's first frame is a handshake naming it
// (`from`), so one proxy per member can still cut single directed links: A → B is cut at B's proxy by refusing or
// black-holing connections whose handshake says `from: A`.
//
//   drop:      connections from a cut sender are destroyed (now and whenever they reconnect): like a RST.
//   blackhole: bytes from a cut sender are no longer forwarded, and its connections stay open (the sender's
//              kernel buffers fill, nothing comes back): like a silent network. On heal, the held connections are
//              either resumed (stale bytes delivered late) or destroyed, at the nemesis's choice.
//
// Connections whose handshake cannot be parsed (HTTP requests such as GET /members) are forwarded as is unless
// every sender is cut. Everything listens on 127.0.0.1 and every socket is closed by close().

import { connect, createServer, type Server, type Socket } from 'node:net';
import { decode } from '@msgpack/msgpack';

export type CutMode = 'drop' | 'blackhole';

interface Conn {
  readonly client: Socket;
  readonly upstream: Socket;
  /** The sender's member ID (decimal), once the handshake was read; '?' when the stream is not a peer stream. */
  from: string | undefined;
  held: boolean;
}

const PREAMBLE = 8;

export class PeerProxy {
  private server: Server | undefined;
  private readonly conns = new Set<Conn>();
  /** Sender member ID (decimal) → how its traffic into this member is cut. '*' = every sender. */
  private readonly cuts = new Map<string, CutMode>();
  port = 0;
  forwardedBytes = 0;

  constructor(
    readonly name: string,
    private readonly targetPort: number,
  ) {}

  async listen(port = 0): Promise<number> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    return this.port;
  }

  /** Cuts traffic from `from` (a member ID in decimal, or '*' for everyone) into this member. */
  cut(from: string, mode: CutMode): void {
    this.cuts.set(from, mode);
    for (const c of this.conns) this.enforce(c);
  }

  /** Removes every cut; held (black-holed) connections are resumed, or destroyed when `resetHeld`. */
  heal(resetHeld: boolean): void {
    this.cuts.clear();
    for (const c of [...this.conns]) {
      if (!c.held) continue;
      c.held = false;
      if (resetHeld) this.destroy(c);
      else c.client.resume();
    }
  }

  get connectionCount(): number {
    return this.conns.size;
  }

  async close(): Promise<void> {
    for (const c of [...this.conns]) this.destroy(c);
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }

  private modeFor(c: Conn): CutMode | undefined {
    const all = this.cuts.get('*');
    if (all) return all;
    if (c.from === undefined || c.from === '?') return undefined;
    return this.cuts.get(c.from);
  }

  private enforce(c: Conn): void {
    const mode = this.modeFor(c);
    if (mode === 'drop') this.destroy(c);
    else if (mode === 'blackhole' && !c.held) {
      c.held = true;
      c.client.pause();
    }
  }

  private destroy(c: Conn): void {
    this.conns.delete(c);
    c.client.destroy();
    c.upstream.destroy();
  }

  private accept(client: Socket): void {
    const upstream = connect(this.targetPort, '127.0.0.1');
    const c: Conn = { client, upstream, from: undefined, held: false };
    this.conns.add(c);
    client.on('error', () => this.destroy(c));
    upstream.on('error', () => this.destroy(c));
    client.on('close', () => this.destroy(c));
    upstream.on('close', () => this.destroy(c));
    // Until the handshake is known, buffer what the sender writes; then forward (or cut).
    let head: Buffer | undefined = Buffer.alloc(0);
    const forward = (chunk: Buffer) => {
      this.forwardedBytes += chunk.length;
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once('drain', () => {
          if (!c.held) client.resume();
        });
      }
    };
    client.on('data', (chunk: Buffer) => {
      if (head === undefined) {
        forward(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const from = parseHandshake(head);
      if (from === undefined) {
        if (head.length > 64 * 1024) c.from = '?';
        else return; // need more bytes
      } else c.from = from;
      const buffered = head;
      head = undefined;
      this.enforce(c);
      if (!this.conns.has(c)) return;
      forward(buffered);
      // Bytes already read while held are forwarded on resume, in order, as part of the stream.
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => upstream.resume());
      }
    });
    this.enforce(c);
  }
}

/**
 * The sender's member ID from a peer stream's beginning (preamble, then a length-prefixed msgpack handshake), as
 * decimal; '?' if the stream is something else (HTTP); undefined if more bytes are needed.
 */
export function parseHandshake(buf: Buffer): string | undefined {
  if (buf.length < 1) return undefined;
  if (buf[0] !== 0x89) return '?';
  if (buf.length < PREAMBLE + 4) return undefined;
  const len = buf.readUInt32BE(PREAMBLE);
  if (len > 4096) return '?';
  if (buf.length < PREAMBLE + 4 + len) return undefined;
  try {
    const hs = decode(buf.subarray(PREAMBLE + 4, PREAMBLE + 4 + len), { useBigInt64: true }) as {
      from?: bigint | number;
    };
    return hs.from === undefined ? '?' : BigInt(hs.from).toString();
  } catch {
    return '?';
  }
}
