// edgecd's own HTTP/2 server for gRPC: connections (./connection.ts) whose streams go to the same dispatch as
// node:http2's (../h2/dispatch.ts). Written for the calls etcd's clients make: it reads a socket's frames in one
// pass and writes a turn's answers in one write, where node:http2 spends most of a small call's time in its
// per-stream objects, events and native crossings. It reads :authority as grpc-go does (a URL there is accepted).

import type { Duplex } from 'node:stream';
import { type DispatchOptions, dispatcher } from '../h2/dispatch.ts';
import { Http2Connection } from './connection.ts';
import type { KeepaliveOptions } from './keepalive.ts';

export interface Http2ServerOptions extends DispatchOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
  /** etcd's --grpc-keepalive-* (./keepalive.ts); default etcd's. */
  readonly keepalive?: KeepaliveOptions;
}

export interface Http2GrpcServer {
  /** Takes an accepted connection, its preface not yet read; `onSettings` once the client's SETTINGS arrive. */
  injectConnection(connection: Duplex, onSettings?: () => void): void;
  /** GOAWAY on every connection; after `graceMs`, whatever is left is closed. */
  close(graceMs: number): Promise<void>;
}

export function createHttp2GrpcServer(options: Http2ServerOptions): Http2GrpcServer {
  const dispatch = dispatcher(options);
  const connections = new Set<Http2Connection>();
  const closedWaiters = new Set<() => void>();
  return {
    injectConnection: (socket, onSettings) => {
      const connection: Http2Connection = new Http2Connection(socket, {
        maxConcurrentStreams: options.maxConcurrentStreams,
        onStream: dispatch,
        ...(options.keepalive ? { keepalive: options.keepalive } : {}),
        ...(onSettings ? { onSettings } : {}),
        onClose: () => {
          connections.delete(connection);
          if (connections.size === 0) for (const w of closedWaiters) w();
        },
      });
      connections.add(connection);
    },
    close: async (graceMs) => {
      if (connections.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, graceMs);
          closedWaiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
          for (const c of connections) c.shutdown();
        });
      }
      for (const c of connections) c.destroy();
    },
  };
}
