// A client port bound before the member can serve: etcd binds its listeners first (embed.StartEtcd) and only then
// loads its data, so a client connecting while a member restarts waits in a queue instead of being refused (a
// refused gRPC client backs off, a second or more, before it tries again). Connections are accepted paused, held
// until the client server takes them, and never read before then.

import { once } from 'node:events';
import { rmSync } from 'node:fs';
import net from 'node:net';

export interface ClientListenAddress {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** A Unix socket instead of host:port; a stale file is removed. */
  readonly path?: string;
}

export interface ClientListener {
  readonly port: number;
  /** From now on every connection (those waiting first) goes to `accept`, paused: it must resume what it reads. */
  take(accept: (socket: net.Socket) => void): void;
  /** Stops listening and drops the connections still waiting. */
  close(): Promise<void>;
}

export async function bindClientListener(where: ClientListenAddress): Promise<ClientListener> {
  const waiting = new Set<net.Socket>();
  let accept: ((socket: net.Socket) => void) | undefined;
  const server = net.createServer({ pauseOnConnect: true }, (socket) => {
    if (accept !== undefined) return accept(socket);
    waiting.add(socket);
    socket.once('close', () => waiting.delete(socket));
    socket.on('error', () => socket.destroy());
  });
  if (where.path !== undefined) {
    rmSync(where.path, { force: true }); // a socket file left by an earlier run, as etcd removes it
    server.listen(where.path);
  } else server.listen(where.port ?? 0, where.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  let closing: Promise<void> | undefined;
  return {
    port: typeof address === 'object' && address !== null ? address.port : 0,
    take(next) {
      accept = next;
      for (const socket of waiting) {
        socket.removeAllListeners('error');
        next(socket);
      }
      waiting.clear();
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of waiting) socket.destroy();
      });
      return closing;
    },
  };
}
