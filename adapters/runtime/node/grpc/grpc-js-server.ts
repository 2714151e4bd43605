// The services on @grpc/grpc-js's Server, through its connection injector: the server edgecd used before its own
// on node:http2 (./h2/), kept selectable for one release (EDGECD_GRPC_SERVER=grpc-js, or grpcServer: 'grpc-js').
// Its answers to requests that reach no handler are grpc-js's, not grpc-go's (test/node/grpc-h2.test.ts).

import type { Duplex } from 'node:stream';
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { KeepaliveOptions } from './http2/keepalive.ts';
import { type GrpcRecorder, metricsInterceptor } from './metrics.ts';

/** Each service's method definitions (codecs wrapped: strict.ts, metrics.ts) and its handlers. */
export type GrpcServices = {
  readonly definition: ServiceDefinition;
  readonly implementation: UntypedServiceImplementation;
}[];

export interface BackendOptions {
  /** max-request-bytes + gRPC's overhead: larger messages are refused with RESOURCE_EXHAUSTED. */
  readonly maxReceiveBytes: number;
  readonly maxConcurrentStreams: number;
  readonly recorder?: GrpcRecorder;
  /** etcd's --grpc-keepalive-*: honoured by edgecd's own HTTP/2 server only. */
  readonly keepalive?: KeepaliveOptions;
}

/** What carries the calls: a server that takes connections, and closes them (after `graceMs` at most). */
export interface GrpcBackend {
  /**
   * True: the server reads the preface itself, calls `onSettings` once the client's SETTINGS are in, and takes any
   * :authority. Otherwise connections go through the :authority fix (../authority.ts) first.
   */
  readonly ownsHandshake?: boolean;
  injectConnection(connection: Duplex, onSettings?: () => void): void;
  close(graceMs: number): Promise<void>;
}

export function grpcJsBackend(services: GrpcServices, options: BackendOptions): GrpcBackend {
  const server = new Server({
    'grpc.max_receive_message_length': options.maxReceiveBytes,
    'grpc.max_send_message_length': -1,
    // Past it nghttp2 answers a new stream RST_STREAM REFUSED_STREAM before grpc-js sees it, as grpc-go does.
    'grpc.max_concurrent_streams': options.maxConcurrentStreams,
    // channelz (per-call counters and traces for a debugging service edgecd does not serve) costs ~2% of a put.
    'grpc.enable_channelz': 0,
    ...(options.recorder ? { interceptors: [metricsInterceptor(options.recorder)] } : {}),
  });
  for (const { definition, implementation } of services) server.addService(definition, implementation);
  const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
  return {
    injectConnection: (connection) => injector.injectConnection(connection),
    close: async (graceMs) => {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      injector.destroy();
      server.forceShutdown();
    },
  };
}
