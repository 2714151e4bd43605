// The link to a peer that cannot be dialed (a browser member): it dials us, announcing `listens: false` in its
// handshake, and we send it our messages as frames on that same inbound connection. While no such connection is
// up, sends to the peer are dropped and the peer is reported unreachable; it reconnects on its own (with backoff),
// and the newest connection wins. Queues are bounded and written in batches as every link's (./link.ts).
// Browser-safe.

import type { NodeId } from '../../../src/raft/types.ts';
import type { InboundConnection } from './inbound.ts';
import { type LinkSettings, QueuedLink } from './link.ts';
import { formatId } from './wire.ts';

export class ReverseLink extends QueuedLink {
  /** What addPeer was given (e.g. `browser:` or the peer's unusable URL). */
  readonly addressText: string;
  private connection: InboundConnection | undefined;
  private closedForGood = false;

  constructor(settings: LinkSettings, peer: NodeId, addressText: string) {
    super(settings, peer);
    this.addressText = addressText;
  }

  /** Whether the peer currently has a connection to send on. */
  get connected(): boolean {
    return this.connection?.open === true;
  }

  protected get accepting(): boolean {
    return !this.closedForGood && this.connected;
  }

  protected queuedOne(): void {
    this.scheduleFlush();
  }

  /** The peer (re)connected: send on this connection from now on (an older one is closed). */
  attach(connection: InboundConnection): void {
    if (this.closedForGood) return;
    const previous = this.connection;
    if (previous === connection) return;
    this.connection = connection;
    this.blocked = false;
    connection.onDrain = () => {
      if (this.connection !== connection) return;
      this.blocked = false;
      this.flush();
    };
    if (previous) {
      previous.onDrain = undefined;
      previous.close();
    } else {
      this.settings.logger.info('reverse peer connection established', { peer: formatId(this.peer) });
    }
    this.scheduleFlush();
  }

  /** `connection` closed: if it was ours, what is queued is dropped and the peer reported unreachable. */
  detach(connection: InboundConnection): void {
    if (this.connection !== connection) return;
    this.connection = undefined;
    connection.onDrain = undefined;
    const lost = this.queue.length;
    this.dropped += lost;
    this.queue.clear();
    this.settings.logger.warn('reverse peer connection lost', { peer: formatId(this.peer), dropped: lost });
    if (!this.closedForGood) this.settings.reportUnreachable(this.peer);
  }

  close(): void {
    this.closedForGood = true;
    this.stop();
    if (this.connection) this.connection.onDrain = undefined;
    this.connection = undefined;
  }

  protected flush(): void {
    const connection = this.connection;
    if (this.closedForGood || !connection?.open) return;
    this.writeQueued((data) => connection.write(data));
  }
}
