// A byte stream between two members: what the peer protocol needs from a TCP socket, a TLS socket or a WebSocket.
// The frames are the same on all of them (./README.md); a WebSocket just carries the byte stream in binary
// messages. Browser-safe: interfaces only (Node's streams are in ./node/socket-stream.ts and ./node/ws-stream.ts).

/** Where a peer is dialed. */
export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** Dial with TLS (the peer URL is https://). */
  readonly tls?: boolean;
}

export interface StreamEvents {
  /** The dialled connection is established (dialled streams only). */
  open?(): void;
  data(chunk: Uint8Array): void;
  /** The stream took everything written so far after a write returned false. */
  drain(): void;
  /** Closed, for `reason` when it failed. Called once. */
  close(reason?: string): void;
}

export interface PeerStream {
  /** For logs: the other end's address. */
  readonly remote: string;
  /** Resolves once the stream is fully closed. */
  readonly closed: Promise<void>;
  /** Queues bytes; false when above the high-water mark (stop writing until `drain`). */
  write(data: Uint8Array): boolean;
  /** Closes after what was written is flushed. */
  end(): void;
  destroy(): void;
  /** Attaches the handlers; events before this are not lost (streams start paused or connecting). */
  listen(events: StreamEvents): void;
}

/** Opens an outbound stream to a peer. */
export type PeerDialer = (address: PeerAddress) => PeerStream;
