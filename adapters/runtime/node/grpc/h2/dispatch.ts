// A new HTTP/2 stream to a gRPC call: routed by its :path to a method, its messages read and decoded, and the
// method's handler called with an H2Call (./call.ts), which has the part of grpc-js's call API the handlers use.
// What reaches no handler is answered as grpc-go 1.26 answers it (./status.ts): a request that is not gRPC (content
// type, grpc-timeout) is reset with PROTOCOL_ERROR; an unknown path, or a grpc-encoding we cannot decompress, gets a
// trailers-only status. Both HTTP/2 servers (node:http2's, ./server.ts, and edgecd's own, ../http2/) dispatch here.

import type { GrpcRecorder } from '../metrics.ts';
import { type CallStream, H2Call, type H2Method, PROTOCOL_ERROR } from './call.ts';
import { MessageReader } from './framing.ts';
import { isGrpcContentType, responseContentType, statusFields, timeoutMs, unknownPath } from './status.ts';

/** A grpc-js style handler: `(call, callback)` for unary calls, `(call)` for streams. */
export type H2Handler = (call: H2Call, callback: H2Call['callback']) => void;

export interface H2Route extends H2Method {
  readonly handler: H2Handler;
}

/** A request's headers (a name seen twice has an array). */
export type RequestHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface DispatchOptions {
  /** By path (`/etcdserverpb.KV/Put`). */
  readonly routes: ReadonlyMap<string, H2Route>;
  /** Messages over this many bytes are refused with RESOURCE_EXHAUSTED before they are read. */
  readonly maxReceiveBytes: number;
  readonly recorder?: GrpcRecorder;
}

export type Dispatch = (stream: CallStream, headers: RequestHeaders) => void;

export function dispatcher(options: DispatchOptions): Dispatch {
  const { routes, maxReceiveBytes, recorder } = options;
  const services = new Set<string>();
  for (const r of routes.values()) services.add(r.service);
  const isService = (name: string) => services.has(name);

  function serve(
    stream: CallStream,
    headers: RequestHeaders,
    route: H2Route,
    contentType: string,
    timeout?: number,
  ) {
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

  return (stream, headers) => {
    const contentType = headers['content-type'] as string | undefined;
    const timeout = timeoutMs(headers['grpc-timeout'] as string | undefined);
    if (!isGrpcContentType(contentType) || Number.isNaN(timeout)) return stream.reset(PROTOCOL_ERROR);
    const answer = responseContentType(contentType);
    const path = (headers[':path'] as string | undefined) ?? '';
    const route = routes.get(path);
    if (!route) {
      const [code, details] = unknownPath(path, isService);
      return stream.sendTrailersOnly(answer, statusFields(code, details));
    }
    const encoding = headers['grpc-encoding'];
    if (encoding !== undefined && encoding !== 'identity') {
      // etcd's grpc-go has no decompressor registered.
      const details = `grpc: Decompressor is not installed for grpc-encoding ${JSON.stringify(encoding)}`;
      return stream.sendTrailersOnly(answer, statusFields(12, details));
    }
    serve(stream, headers, route, answer, timeout);
  };
}
