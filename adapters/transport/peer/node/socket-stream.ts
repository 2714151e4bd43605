// A Node socket (TCP, or TLS) as a PeerStream: what the peer port accepts and the TCP dialers open.

import type { Socket } from 'node:net';
import type { PeerStream } from '../stream.ts';

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
