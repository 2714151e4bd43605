// etcd's gRPC services on node:http2: each stream goes to ./dispatch.ts as a NodeCallStream.

import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { type DispatchOptions, dispatcher } from './dispatch.ts';
import { NodeCallStream } from './node-stream.ts';

export type { H2Handler, H2Route } from './dispatch.ts';

export interface H2ServerOptions extends DispatchOptions {
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
}

export interface H2GrpcServer {
  injectConnection(connection: Duplex): void;
  /** Closes every connection: GOAWAY, then, after `graceMs`, whatever is left. */
  close(graceMs: number): Promise<void>;
}

export function createH2GrpcServer(options: H2ServerOptions): H2GrpcServer {
  const dispatch = dispatcher(options);
  const server = http2.createServer({
    // As grpc-js sets them: Node's session memory check degrades badly when hit; headers of any size go out.
    maxSessionMemory: Number.MAX_SAFE_INTEGER,
    maxSendHeaderBlockLength: Number.MAX_SAFE_INTEGER,
    settings: { maxConcurrentStreams: options.maxConcurrentStreams },
  });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => {});
  });
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    stream.on('error', () => {}); // a reset stream also closes: 'close' is what calls act on
    dispatch(new NodeCallStream(stream), headers);
  });

  return {
    injectConnection: (connection) => {
      server.emit('connection', connection);
    },
    close: async (graceMs) => {
      const open = [...sessions];
      await new Promise<void>((resolve) => {
        let left = open.length;
        if (left === 0) return resolve();
        const timer = setTimeout(() => {
          for (const s of open) s.destroy();
          resolve();
        }, graceMs);
        for (const s of open) {
          s.close(() => {
            if (--left > 0) return;
            clearTimeout(timer);
            resolve();
          });
        }
      });
      server.close();
    },
  };
}
