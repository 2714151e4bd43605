// etcd's client-facing gRPC services, backed by an EdgeNode. The server takes connections from a listener of ours
// (client-server.ts shares one port with HTTP/1.1). Three servers can carry the same handlers: edgecd's own HTTP/2
// (./http2/, the default), node:http2 (./h2/server.ts) and @grpc/grpc-js's, through its connection injector
// (./grpc-js-server.ts); the last two are selectable (EDGECD_GRPC_SERVER=h2|grpc-js) for one release.
// What edgecd cannot serve yet answers UNIMPLEMENTED (status 12) with a message that says so, never a hang.

import type { Socket } from 'node:net';
import {
  type MethodDefinition,
  type ServiceDefinition,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { requestPipeline } from '../../../../src/api/pipeline.ts';
import { type Logger, silentLogger } from '../../../../src/env.ts';
import { errors } from '../../../../src/etcd/errors.ts';
import { DEFAULT_MAX_CONCURRENT_STREAMS, DEFAULT_MAX_REQUEST_BYTES } from '../../../../src/etcd/limits.ts';
import type { EdgeNode } from '../../../../src/server/node.ts';
import { authService } from './auth.ts';
import { fixAuthority } from './authority.ts';
import { type CallContext, type LiveStream, refuse } from './calls.ts';
import { clusterService } from './cluster.ts';
import { electionService } from './election.ts';
import { type GrpcServices, grpcJsBackend } from './grpc-js-server.ts';
import { h2Backend } from './h2/backend.ts';
import { healthService } from './health.ts';
import type { KeepaliveOptions } from './http2/keepalive.ts';
import { kvService } from './kv.ts';
import { leaseService } from './lease.ts';
import { lockService } from './lock.ts';
import { maintenanceService } from './maintenance.ts';
import { countBytes, type GrpcRecorder } from './metrics.ts';
import { loadServices, type ServiceName } from './proto.ts';
import { refuseMalformed, requestSchemas, strictRequests } from './strict.ts';
import { watchService } from './watch.ts';

export { DEFAULT_MAX_REQUEST_BYTES };
/** etcd lets gRPC receive this much more than max-request-bytes (embed/serve.go: grpcOverheadBytes). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;

export interface GrpcServerOptions {
  readonly node: EdgeNode;
  /** etcd --max-request-bytes. Default: the node's; gRPC itself refuses messages over this + 512 KiB. */
  readonly maxRequestBytes?: number;
  readonly logger?: Logger;
  /**
   * Streams opened with `hasleader: true` metadata end with `etcdserver: no leader` once the member has had no
   * leader this long (etcd's monitorLeader: three election timeouts). Default 3000 ms.
   */
  readonly noLeaderTimeoutMs?: number;
  /** Where gRPC calls and bytes are counted for /metrics (./metrics.ts); none by default. */
  readonly metrics?: GrpcRecorder;
  /**
   * etcd --max-concurrent-streams: the SETTINGS_MAX_CONCURRENT_STREAMS each connection is given. 0 or absent: 2^32 - 1,
   * as grpc-go reads it (and Node's largest).
   */
  readonly maxConcurrentStreams?: number;
  /**
   * Which server carries the calls: edgecd's own HTTP/2 (`edgecd`, the default), node:http2 (`h2`) or @grpc/grpc-js's
   * (`grpc-js`).
   */
  readonly grpcServer?: GrpcServerKind;
  /** etcd's --grpc-keepalive-min-time, -interval, -timeout (./http2/keepalive.ts; edgecd's own server only). */
  readonly keepalive?: KeepaliveOptions;
}

export type GrpcServerKind = 'edgecd' | 'h2' | 'grpc-js';

/** etcd --max-concurrent-streams as HTTP/2 can carry it: 0 is grpc-go's "unset", the default. */
export function streamLimit(requested: number | undefined): number {
  if (!requested || requested < 0) return DEFAULT_MAX_CONCURRENT_STREAMS;
  return Math.min(Math.floor(requested), DEFAULT_MAX_CONCURRENT_STREAMS);
}

export interface EdgeGrpcServer {
  /**
   * Hands over an accepted connection that starts with the HTTP/2 client preface; `onSettings` is called once the
   * client's preface and SETTINGS have arrived (grpc-go's handshake).
   */
  injectConnection(socket: Socket, onSettings: () => void): void;
  /** Ends every stream (`etcdserver: server stopped`) and every connection. */
  close(): Promise<void>;
}

/** Methods edgecd leaves out on purpose, with the reason clients will see. */
const METHOD_MESSAGES: Record<string, string> = {
  'Maintenance/Downgrade': 'edgecd: Maintenance.Downgrade does not exist in etcd 3.4',
};

/**
 * Builds what every gRPC server of the process shares (the services and request schemas from the vendored protos,
 * ~90 ms of CPU), ahead of createGrpcServer: a member does it while its data loads.
 */
export function prepareGrpcServer(): void {
  loadServices();
  requestSchemas();
}

export function createGrpcServer(options: GrpcServerOptions): EdgeGrpcServer {
  const { node } = options;
  const logger = options.logger ?? silentLogger;
  const api = requestPipeline(node, { maxRequestBytes: options.maxRequestBytes });
  const maxRequestBytes = api.limits.maxRequestBytes;
  const noLeaderTimeoutMs = options.noLeaderTimeoutMs ?? 3000;
  const oversized = new WeakMap<object, number>();
  const streams = new Set<LiveStream>();
  const ctx: CallContext = {
    api,
    logger,
    oversizedBytes: (request) => oversized.get(request),
    streams,
  };

  const health = healthService();
  const implementations: Partial<Record<ServiceName, UntypedServiceImplementation>> = {
    'grpc.health.v1.Health': health.implementation,
    'etcdserverpb.KV': kvService(ctx),
    'etcdserverpb.Watch': watchService(ctx),
    'etcdserverpb.Lease': leaseService(ctx),
    'etcdserverpb.Cluster': clusterService(ctx),
    'etcdserverpb.Maintenance': maintenanceService(ctx),
    'v3lockpb.Lock': lockService(ctx),
    'v3electionpb.Election': electionService(ctx),
    'etcdserverpb.Auth': authService(ctx),
  };

  const services: GrpcServices = [];
  const loaded = loadServices();
  for (const name of Object.keys(loaded) as ServiceName[]) {
    const strict = strictRequests(name, loaded[name]);
    const measured = measureRequests(strict, maxRequestBytes, oversized);
    const definition = options.metrics ? countBytes(measured, options.metrics) : measured;
    const implementation = refuseMalformed(definition, implementations[name] ?? {});
    const service = name.slice(name.indexOf('.') + 1);
    for (const [method, def] of Object.entries(definition)) {
      if (implementation[method]) continue;
      const details =
        METHOD_MESSAGES[`${service}/${method}`] ?? `edgecd: ${service}.${method} is not implemented yet`;
      implementation[method] = refuse(def, { code: status.UNIMPLEMENTED, details });
    }
    services.push({ definition, implementation });
  }

  const kind = options.grpcServer ?? 'edgecd';
  const maxConcurrentStreams = streamLimit(options.maxConcurrentStreams);
  const backendOptions = {
    maxReceiveBytes: maxRequestBytes + GRPC_OVERHEAD_BYTES,
    maxConcurrentStreams,
    ...(options.metrics ? { recorder: options.metrics } : {}),
    ...(options.keepalive ? { keepalive: options.keepalive } : {}),
  };
  const transport =
    kind === 'grpc-js'
      ? grpcJsBackend(services, backendOptions)
      : h2Backend(services, backendOptions, kind === 'edgecd');

  // etcd's monitorLeader: streams that asked for a leader end when the member has gone without one for a while.
  let leaderlessSince: number | undefined;
  const monitor = setInterval(
    () => {
      if (node.serving().leader !== 0n) {
        leaderlessSince = undefined;
        return;
      }
      const now = Date.now();
      leaderlessSince ??= now;
      if (now - leaderlessSince < noLeaderTimeoutMs) return;
      for (const s of [...streams]) if (s.requireLeader) s.end(errors.noLeader());
    },
    Math.max(10, Math.min(250, noLeaderTimeoutMs / 4)),
  );
  monitor.unref();

  let closing: Promise<void> | undefined;
  return {
    injectConnection: (socket, onSettings) => {
      if (transport.ownsHandshake) return transport.injectConnection(socket, onSettings);
      // Via the :authority fix, which hands the socket over untouched for most clients.
      fixAuthority(socket, (connection) => transport.injectConnection(connection), {
        maxConcurrentStreams,
        onSettings,
      });
    },
    close: () => {
      closing ??= (async () => {
        clearInterval(monitor);
        health.stop();
        for (const s of [...streams]) s.end(errors.stopped());
        // Let the status frames go out, then drop the connections.
        await transport.close(1000);
      })();
      return closing;
    },
  };
}

/**
 * Wraps each method's request decoder to note the size of requests over max-request-bytes; the pipeline's admission
 * refuses proposals among them with `etcdserver: request is too large`, as etcd does when proposing.
 */
function measureRequests(
  definition: ServiceDefinition,
  limit: number,
  oversized: WeakMap<object, number>,
): ServiceDefinition {
  const out: Record<string, MethodDefinition<object, unknown>> = {};
  for (const [method, def] of Object.entries(definition) as [string, MethodDefinition<object, unknown>][]) {
    const decode = def.requestDeserialize;
    out[method] = {
      ...def,
      requestDeserialize: (buf: Buffer) => {
        const request = decode(buf);
        if (buf.length > limit && request && typeof request === 'object') oversized.set(request, buf.length);
        return request;
      },
    };
  }
  return out;
}
