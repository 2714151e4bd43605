// etcd's gRPC services on node:http2 directly: each stream is routed by its :path to a method, its messages read
// and decoded, and the method's handler called with an H2Call (./call.ts), which has the part of grpc-js's call API
// the handlers use. What reaches no handler is answered as grpc-go 1.26 answers it (./status.ts): a request that
// is not gRPC (content type, grpc-timeout) is reset with PROTOCOL_ERROR; an unknown path, or a grpc-encoding we
// cannot decompress, gets a trailers-only status.

import http2, { type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { GrpcRecorder } from '../metrics.ts';
import { H2Call, type H2Method, resetProtocolError } from './call.ts';
import { MessageReader } from './framing.ts';
import { isGrpcContentType, responseContentType, statusFields, timeoutMs, unknownPath } from './status.ts';

/** A grpc-js style handler: `(call, callback)` for unary calls, `(call)` for streams. */
export type H2Handler = (call: H2Call, callback: H2Call['callback']) => void;

export interface H2Route extends H2Method {
  readonly handler: H2Handler;
}

export interface H2ServerOptions {
  /** By path (`/etcdserverpb.KV/Put`). */
  readonly routes: ReadonlyMap<string, H2Route>;
  /** Messages over this many bytes are refused with RESOURCE_EXHAUSTED before they are read. */
  readonly maxReceiveBytes: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS. */
  readonly maxConcurrentStreams: number;
  readonly recorder?: GrpcRecorder;
}

export interface H2GrpcServer {
  readonly server: http2.Http2Server;
  injectConnection(connection: Duplex): void;
  /** Closes every connection: GOAWAY, then, after `graceMs`, whatever is left. */
  close(graceMs: number): Promise<void>;
}

export function createH2GrpcServer(options: H2ServerOptions): H2GrpcServer {
  const { routes, maxReceiveBytes, recorder } = options;
  const services = new Set<string>();
  for (const r of routes.values()) services.add(r.service);
  const isService = (name: string) => services.has(name);

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
    const contentType = headers['content-type'];
    const timeout = timeoutMs(headers['grpc-timeout'] as string | undefined);
    if (!isGrpcContentType(contentType) || Number.isNaN(timeout)) return resetProtocolError(stream);
    const answer = responseContentType(contentType);
    const path = headers[':path'] ?? '';
    const route = routes.get(path);
    if (!route) {
      const [code, details] = unknownPath(path, isService);
      return trailersOnly(stream, answer, code, details);
    }
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      // etcd's grpc-go has no decompressor registered.
      const details = `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(encoding)}`;
      return trailersOnly(stream, answer, 12, details);
    }
    serve(stream, headers, route, answer, timeout);
  });

  function serve(
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    route: H2Route,
    contentType: string,
    timeout: number | undefined,
  ): void {
    const call = new H2Call(stream, headers, route, contentType, recorder);
    if (timeout !== undefined) call.setDeadline(timeout);
    const tooLarge = (length: number, max: number) =>
      call.fail({ code: 8, details: `grpc: received message larger than max (${length} vs. ${max})` });
    if (route.requestStream) {
      const reader = new MessageReader(
        maxReceiveBytes,
        (payload) => {
          const decoded = call.decode(payload);
          if (decoded.ok) call.emit('data', decoded.value);
        },
        tooLarge,
      );
      route.handler(call, call.callback);
      call.read(reader);
      return;
    }
    // One request message; what follows it is read and dropped, as grpc-go reads no further.
    const reader: MessageReader = new MessageReader(
      maxReceiveBytes,
      (payload) => {
        reader.stop();
        const decoded = call.decode(payload);
        if (!decoded.ok) return;
        call.request = decoded.value;
        route.handler(call, call.callback);
      },
      tooLarge,
    );
    call.once('end', () => {
      if (call.request === undefined) call.fail({ code: 2, details: 'EOF' });
    });
    call.read(reader);
  }

  return {
    server,
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

function trailersOnly(stream: ServerHttp2Stream, contentType: string, code: number, details: string): void {
  if (stream.closed || stream.destroyed) return;
  stream.respond(
    { ':status': 200, 'content-type': contentType, ...statusFields(code, details) },
    { endStream: true },
  );
}
