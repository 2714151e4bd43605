// A byte stream between two members: what the peer protocol needs from a TCP socket or a WebSocket. The frames
// are the same on both (see ./index.ts); a WebSocket just carries the byte stream in binary messages.

import { connect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import type { PeerAddress } from './link.ts';

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

/** `openEvent`: what says the dialled stream is usable ('connect', or 'secureConnect' for TLS). */
export function socketStream(socket: Socket, openEvent: 'connect' | 'secureConnect' = 'connect'): PeerStream {
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
    closed,
    write: (data) => socket.write(data),
    end: () => socket.end(),
    destroy: () => socket.destroy(),
    listen(events) {
      let lastError: Error | undefined;
      if (events.open) socket.on(openEvent, events.open);
      socket.on('data', (chunk: Buffer) => events.data(chunk));
      socket.on('drain', () => events.drain());
      socket.on('error', (error) => (lastError = error));
      socket.on('close', () => events.close(lastError?.message));
    },
  };
}

export const tcpDialer: PeerDialer = ({ host, port }) => {
  const socket = connect({ host, port, noDelay: true });
  socket.setKeepAlive(true, 10_000);
  const stream = socketStream(socket);
  return { ...stream, remote: `${host}:${port}` };
};

/**
 * Dials a peer over TLS (an https:// peer URL): `options` carries the CA to trust and the client certificate to
 * present (etcd's --peer-trusted-ca-file, --peer-cert-file, --peer-key-file). The server's certificate must name
 * the host of the URL (IP or DNS subjectAltName). A failed verification closes the stream with its reason.
 */
export function tlsDialer(options: ConnectionOptions = {}): PeerDialer {
  return ({ host, port }) => {
    const socket = tlsConnect({
      ...options,
      host,
      port,
      // SNI takes names, not IP addresses.
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const stream = socketStream(socket, 'secureConnect');
    return { ...stream, remote: `${host}:${port}` };
  };
}
