// The services on edgecd's gRPC servers — its own HTTP/2 (../http2/) or node:http2's (./server.ts): each method
// definition becomes a route, its handler called with an H2Call in place of grpc-js's call object (the same
// handlers serve grpc-js's server too).

import type { MethodDefinition } from '@grpc/grpc-js';
import type { BackendOptions, GrpcBackend, GrpcServices } from '../grpc-js-server.ts';
import { createHttp2GrpcServer } from '../http2/server.ts';
import { createH2GrpcServer, type H2Handler, type H2Route } from './server.ts';

function callType(requestStream: boolean, responseStream: boolean): string {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}

/** On node:http2 (`own: false`) or on edgecd's own HTTP/2, which reads :authority itself (`ownsHandshake`). */
export function h2Backend(services: GrpcServices, options: BackendOptions, own: boolean): GrpcBackend {
  const routes = new Map<string, H2Route>();
  for (const { definition, implementation } of services) {
    for (const [name, def] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
      const handler = implementation[name];
      if (!handler) continue;
      // '/etcdserverpb.KV/Range' → service etcdserverpb.KV, method Range.
      const slash = def.path.lastIndexOf('/');
      routes.set(def.path, {
        service: def.path.slice(1, slash),
        method: def.path.slice(slash + 1),
        type: callType(def.requestStream, def.responseStream),
        requestStream: def.requestStream,
        responseStream: def.responseStream,
        deserialize: def.requestDeserialize,
        serialize: def.responseSerialize,
        // The handlers are written against grpc-js's call types; H2Call has the part of them they use.
        handler: handler as unknown as H2Handler,
      });
    }
  }
  const serverOptions = {
    routes,
    maxReceiveBytes: options.maxReceiveBytes,
    maxConcurrentStreams: options.maxConcurrentStreams,
    ...(options.recorder ? { recorder: options.recorder } : {}),
    ...(options.keepalive ? { keepalive: options.keepalive } : {}),
  };
  if (!own) return createH2GrpcServer(serverOptions);
  return { ...createHttp2GrpcServer(serverOptions), ownsHandshake: true };
}
