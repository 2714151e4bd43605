// The accepting side of a peer connection: checks the preamble and handshake, answers, then decodes frames into
// Messages for the handler. Inbound connections only receive; each member sends on its own outbound link (or, to
// a member that cannot listen, on this connection: ./reverse-link.ts). Browser-safe: timers come from the clock.

import type { Clock, Logger, TimerHandle } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { LeaseMessage } from '../../../src/transport.ts';
import { decodeLeaseMessage, LEASE_MESSAGE_TAG } from './lease-codec.ts';
import type { PeerStream } from './stream.ts';
import {
  decodeHandshake,
  decodeMessage,
  encodeFrame,
  FrameReader,
  FrameTooLargeError,
  formatId,
  type HandshakeReply,
  MAX_HANDSHAKE_BYTES,
  PREAMBLE_BYTES,
  PROTOCOL_VERSION,
  preambleVersion,
  type RefusalCode,
} from './wire.ts';

/** What an inbound connection needs from its transport. */
export interface AcceptContext {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  /** The handshake timeout, and the grace a refused dialer gets to close its end. */
  readonly clock: Clock;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  /** Whether this member takes lease messages (said in the handshake reply). False: as a member before them. */
  readonly leases: boolean;
  /** Whether `member` is currently one of our peers. */
  isPeer(member: NodeId): boolean;
  /**
   * Whether `member` may link in reverse (`listens: false`): only members added as browsers. A member we dial
   * must not be able to redirect our messages to it onto a connection someone opened in its name.
   */
  mayReverse(member: NodeId): boolean;
  /** A message passed the checks (`bytes`: its frame's size). */
  deliver(message: Message | LeaseMessage, from: NodeId, bytes: number): void;
  /** The handshake succeeded: the transport may close this connection when the peer is removed. */
  accepted(connection: InboundConnection): void;
  closed(connection: InboundConnection): void;
}

export class InboundConnection {
  /** The authenticated sender, once the handshake is accepted. */
  peer: NodeId | undefined;
  /** False when the sender announced it cannot be dialed: we send to it on this connection (a reverse link). */
  listens = true;
  /** Called when the stream took everything written after write() returned false (reverse links). */
  onDrain: (() => void) | undefined;
  private readonly ctx: AcceptContext;
  private readonly socket: PeerStream;
  private readonly remote: string;
  private readonly reader = new FrameReader(MAX_HANDSHAKE_BYTES);
  private preamble: Uint8Array | undefined = new Uint8Array(0);
  private done = false;
  private readonly timer: TimerHandle;
  /** After a refusal: destroys the stream if the dialer does not close its end. */
  private closeTimer: TimerHandle | undefined;

  constructor(ctx: AcceptContext, socket: PeerStream, head: Uint8Array) {
    this.ctx = ctx;
    this.socket = socket;
    this.remote = socket.remote;
    this.timer = ctx.clock.setTimer(ctx.handshakeTimeoutMs, () => this.abort('no handshake in time'));
    socket.listen({
      data: (chunk) => this.receive(chunk),
      drain: () => this.onDrain?.(),
      close: () => {
        this.timer.cancel();
        this.closeTimer?.cancel();
        this.done = true;
        ctx.closed(this);
      },
    });
    this.receive(head);
  }

  close(): void {
    this.done = true;
    this.socket.destroy();
  }

  /** Whether the connection is still usable (handshake accepted, not closed). */
  get open(): boolean {
    return !this.done && this.peer !== undefined;
  }

  /** Sends frames back to the dialer (reverse links only); false when above the stream's high-water mark. */
  write(data: Uint8Array): boolean {
    if (this.done) return false;
    return this.socket.write(data);
  }

  private receive(chunk: Uint8Array): void {
    if (this.done) return;
    if (this.preamble) {
      const need = PREAMBLE_BYTES - this.preamble.length;
      const joined = new Uint8Array(this.preamble.length + Math.min(need, chunk.length));
      joined.set(this.preamble, 0);
      joined.set(chunk.subarray(0, need), this.preamble.length);
      this.preamble = joined;
      chunk = chunk.subarray(need);
      if (joined.length < PREAMBLE_BYTES) return;
      this.preamble = undefined;
      const version = preambleVersion(joined);
      if (version !== PROTOCOL_VERSION) {
        this.refuse(
          'version',
          `protocol version ${version} is not supported (this member speaks ${PROTOCOL_VERSION})`,
        );
        return;
      }
    }
    let frames: Uint8Array[];
    try {
      frames = this.reader.push(chunk);
    } catch (error) {
      if (error instanceof FrameTooLargeError) {
        this.ctx.logger.error('peer sent an oversized frame, closing', {
          remote: this.remote,
          peer: this.peer === undefined ? undefined : formatId(this.peer),
          length: error.length,
          max: this.reader.maxFrameBytes,
        });
        this.close();
        return;
      }
      throw error;
    }
    for (const frame of frames) {
      if (this.done) return;
      if (this.peer === undefined) this.handshake(frame);
      else this.message(frame, this.peer);
    }
  }

  private handshake(frame: Uint8Array): void {
    let hello: ReturnType<typeof decodeHandshake>;
    try {
      hello = decodeHandshake(frame);
    } catch (error) {
      this.refuse('malformed', (error as Error).message);
      return;
    }
    const { clusterId, memberId } = this.ctx;
    if (hello.cluster !== clusterId) {
      this.refuse(
        'cluster',
        `cluster ID ${formatId(hello.cluster)} does not match ${formatId(clusterId)}`,
        hello.from,
      );
    } else if (hello.to !== memberId) {
      this.refuse('target', `this is member ${formatId(memberId)}, not ${formatId(hello.to)}`, hello.from);
    } else if (!this.ctx.isPeer(hello.from)) {
      this.refuse(
        'member',
        `member ${formatId(hello.from)} is not a peer of this member (unknown or removed)`,
        hello.from,
      );
    } else if (hello.listens === false && !this.ctx.mayReverse(hello.from)) {
      this.refuse(
        'member',
        `member ${formatId(hello.from)} is reached at its peer URL; only browser members link in reverse`,
        hello.from,
      );
    } else {
      this.timer.cancel();
      this.peer = hello.from;
      this.listens = hello.listens !== false;
      this.reader.maxFrameBytes = this.ctx.maxFrameBytes;
      this.reply(this.ctx.leases ? { ok: true, leases: true, leaseTtl: true } : { ok: true });
      this.ctx.accepted(this);
    }
  }

  private message(frame: Uint8Array, peer: NodeId): void {
    let message: Message | LeaseMessage;
    try {
      const lease = this.ctx.leases && frame[0] === LEASE_MESSAGE_TAG;
      message = lease ? decodeLeaseMessage(frame) : decodeMessage(frame);
    } catch (error) {
      this.abort((error as Error).message);
      return;
    }
    if (message.to !== this.ctx.memberId || message.from !== peer) {
      // Never deliver to the wrong node, nor let a peer speak for another.
      this.ctx.logger.warn('dropping a misaddressed peer message', {
        peer: formatId(peer),
        from: formatId(message.from),
        to: formatId(message.to),
        type: message.type,
      });
      return;
    }
    this.ctx.deliver(message, peer, frame.length);
  }

  private reply(reply: HandshakeReply): void {
    this.socket.write(encodeFrame(reply));
  }

  /** Answers with the reason, then closes (the dialer reports the peer unreachable and backs off). */
  private refuse(code: RefusalCode, reason: string, from?: NodeId): void {
    this.ctx.logger.warn('refusing a peer connection', {
      remote: this.remote,
      from: from === undefined ? undefined : formatId(from),
      code,
      reason,
    });
    this.timer.cancel();
    this.done = true;
    this.reply({ ok: false, code, reason });
    this.socket.end();
    // A dialer that does not close its end must not hold the socket open (the timer ends with the stream).
    this.closeTimer = this.ctx.clock.setTimer(1_000, () => this.socket.destroy());
  }

  private abort(reason: string): void {
    if (this.done) return;
    this.ctx.logger.error('closing a peer connection', {
      remote: this.remote,
      peer: this.peer === undefined ? undefined : formatId(this.peer),
      reason,
    });
    this.close();
  }
}
