// One outbound connection to one peer: dialled lazily on the first send (TCP, TLS or a WebSocket: the transport
// gives the dialer), hello and handshake reply first, then the queue of encoded frames written in batches, at
// most once per turn of the event loop and never past the stream's backpressure. A failed or refused connection
// drops what is queued, reports the peer unreachable and backs off (./link.ts) before a send may dial again.
// Browser-safe: the stream and the timers come from the transport.

import type { NodeId } from '../../../src/raft/types.ts';
import { type LinkSettings, QueuedLink } from './link.ts';
import type { PeerAddress, PeerDialer, PeerStream } from './stream.ts';
import {
  decodeHandshakeReply,
  encodeHello,
  FrameReader,
  formatId,
  MAX_HANDSHAKE_BYTES,
  PROTOCOL_VERSION,
} from './wire.ts';

/** What a dialled link needs from its transport. */
export interface DialLinkSettings extends LinkSettings {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  /** Connect plus handshake reply must complete within this. */
  readonly dialTimeoutMs: number;
  /** For tests only: the protocol version the hello claims. */
  readonly protocolVersion?: number;
  /** Opens the connection: TCP, or a WebSocket for the WebSocket transport. */
  readonly dial: PeerDialer;
  /** Registers a stream so that the transport's close() waits for it. */
  track(stream: PeerStream): void;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

export class DialLink extends QueuedLink {
  readonly address: PeerAddress;
  private readonly ctx: DialLinkSettings;
  private state: LinkState = 'idle';
  private socket: PeerStream | undefined;
  /** Whether the last handshake reply offered lease messages (./lease-codec.ts); undefined before the first. */
  private offersLeases: boolean | undefined;
  /** Whether the last handshake reply offered the TimeToLive lease messages too. */
  private offersLeaseTtl = false;

  constructor(ctx: DialLinkSettings, peer: NodeId, address: PeerAddress) {
    super(ctx, peer);
    this.ctx = ctx;
    this.address = address;
  }

  /**
   * Whether lease messages may be queued now ('now'): only on a connection that is up and whose acceptor offered
   * them, so none is ever written to a member from before them (one restarted at the same address, say) — it
   * would close the connection. The queue is dropped when the connection fails. 'later' while none is up and no
   * reply said no; 'no' once one did.
   */
  get leases(): 'now' | 'later' | 'no' {
    if (this.offersLeases === false) return 'no';
    return this.state === 'open' ? 'now' : 'later';
  }

  /** The last handshake reply offered the TimeToLive lease messages. */
  get leaseTtl(): boolean {
    return this.offersLeaseTtl;
  }

  protected get accepting(): boolean {
    return this.state !== 'backoff' && this.state !== 'closed';
  }

  protected queuedOne(): void {
    if (this.state === 'idle') this.dial();
    else if (this.state === 'open') this.scheduleFlush();
  }

  /** Drops everything and closes the socket; resolves nothing (the transport waits on tracked sockets). */
  close(): void {
    this.state = 'closed';
    this.stop();
    this.socket?.destroy();
    this.socket = undefined;
  }

  private dial(): void {
    const { host, port } = this.address;
    this.state = 'connecting';
    this.blocked = false;
    const socket = this.ctx.dial(this.address);
    this.socket = socket;
    this.ctx.track(socket);
    this.timer = this.ctx.clock.setTimer(this.ctx.dialTimeoutMs, () => {
      this.timer = undefined;
      this.fail(socket, 'timed out connecting');
    });
    const reader = new FrameReader(MAX_HANDSHAKE_BYTES);
    socket.listen({
      open: () => {
        socket.write(
          encodeHello(
            { cluster: this.ctx.clusterId, from: this.ctx.memberId, to: this.peer },
            this.ctx.protocolVersion ?? PROTOCOL_VERSION,
          ),
        );
      },
      data: (chunk) => {
        if (this.socket !== socket) return;
        if (this.state !== 'connecting') {
          // The acceptor sends nothing after its reply.
          this.fail(socket, 'unexpected data from the acceptor');
          return;
        }
        let frames: Uint8Array[];
        let reply: ReturnType<typeof decodeHandshakeReply>;
        try {
          frames = reader.push(chunk);
          if (frames.length === 0) return;
          reply = decodeHandshakeReply(frames[0]);
        } catch (error) {
          this.fail(socket, `bad handshake reply: ${(error as Error).message}`);
          return;
        }
        if (!reply.ok) {
          this.ctx.logger.warn('peer refused our connection', {
            peer: formatId(this.peer),
            address: `${host}:${port}`,
            code: reply.code,
            reason: reply.reason,
          });
          this.fail(socket, `refused (${reply.code}): ${reply.reason}`, true);
          return;
        }
        if (frames.length > 1 || reader.bufferedBytes > 0) {
          this.fail(socket, 'unexpected data after the handshake reply');
          return;
        }
        this.offersLeases = reply.leases === true;
        this.offersLeaseTtl = reply.leases === true && reply.leaseTtl === true;
        this.open();
      },
      drain: () => {
        if (this.socket !== socket) return;
        this.blocked = false;
        this.flush();
      },
      close: (reason) => {
        if (this.socket === socket) this.fail(socket, reason ?? 'connection closed');
      },
    });
  }

  private open(): void {
    this.state = 'open';
    this.established();
  }

  private fail(socket: PeerStream, reason: string, logged = false): void {
    if (this.socket !== socket || this.state === 'closed') return;
    this.socket = undefined;
    socket.destroy();
    this.state = 'backoff';
    const where = { address: `${this.address.host}:${this.address.port}` };
    this.backOff({ message: 'peer connection failed', where, reason, logged }, () => {
      if (this.state === 'backoff') this.state = 'idle';
    });
  }

  protected flush(): void {
    const socket = this.socket;
    if (this.state !== 'open' || !socket) return;
    this.writeQueued((data) => socket.write(data));
  }
}
