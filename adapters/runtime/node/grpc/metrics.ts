// gRPC series for etcd's dashboards, as go-grpc-prometheus and etcd's v3rpc record them: a server interceptor
// counts each call when it starts (grpc_server_started_total) and when its status goes out
// (grpc_server_handled_total, labelled with the status code's name), and the message codecs count the bytes
// clients send and receive (etcd_network_client_grpc_{received,sent}_bytes_total).

import {
  type MethodDefinition,
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServiceDefinition,
  status,
} from '@grpc/grpc-js';
import type { Counter } from 'prom-client';

/** Where the counts go (adapters/runtime/node/metrics.ts). */
export interface GrpcRecorder {
  grpcCallStarted(service: string, method: string, type: string): void;
  grpcCallHandled(service: string, method: string, type: string, code: string): void;
  grpcBytes(sent: number, received: number): void;
}

/** grpc-go's code names (codes.Code.String()), as the grpc_code label carries them. */
const CODE_NAMES: Record<number, string> = {
  [status.OK]: 'OK',
  [status.CANCELLED]: 'Canceled',
  [status.UNKNOWN]: 'Unknown',
  [status.INVALID_ARGUMENT]: 'InvalidArgument',
  [status.DEADLINE_EXCEEDED]: 'DeadlineExceeded',
  [status.NOT_FOUND]: 'NotFound',
  [status.ALREADY_EXISTS]: 'AlreadyExists',
  [status.PERMISSION_DENIED]: 'PermissionDenied',
  [status.RESOURCE_EXHAUSTED]: 'ResourceExhausted',
  [status.FAILED_PRECONDITION]: 'FailedPrecondition',
  [status.ABORTED]: 'Aborted',
  [status.OUT_OF_RANGE]: 'OutOfRange',
  [status.UNIMPLEMENTED]: 'Unimplemented',
  [status.INTERNAL]: 'Internal',
  [status.UNAVAILABLE]: 'Unavailable',
  [status.DATA_LOSS]: 'DataLoss',
  [status.UNAUTHENTICATED]: 'Unauthenticated',
};

function callType(requestStream: boolean, responseStream: boolean): string {
  if (requestStream) return responseStream ? 'bidi_stream' : 'client_stream';
  return responseStream ? 'server_stream' : 'unary';
}

interface MethodLabels {
  readonly service: string;
  readonly method: string;
  readonly type: string;
}

/** Counts every call's start and final status. */
export function metricsInterceptor(recorder: GrpcRecorder): ServerInterceptor {
  const labels = new Map<string, MethodLabels>();
  return (definition, call) => {
    let l = labels.get(definition.path);
    if (!l) {
      // '/etcdserverpb.KV/Range' → service etcdserverpb.KV, method Range.
      const slash = definition.path.lastIndexOf('/');
      l = {
        service: definition.path.slice(1, slash),
        method: definition.path.slice(slash + 1),
        type: callType(definition.requestStream, definition.responseStream),
      };
      labels.set(definition.path, l);
    }
    const { service, method, type } = l;
    recorder.grpcCallStarted(service, method, type);
    return new ServerInterceptingCall(call, {
      sendStatus: (s, next) => {
        recorder.grpcCallHandled(service, method, type, CODE_NAMES[s.code] ?? `Code(${s.code})`);
        next(s);
      },
    });
  };
}

/** Each method's codecs, counting the bytes of every message received and sent. */
export function countBytes(definition: ServiceDefinition, recorder: GrpcRecorder): ServiceDefinition {
  const out: Record<string, MethodDefinition<object, unknown>> = {};
  for (const [name, def] of Object.entries(definition) as [string, MethodDefinition<object, unknown>][]) {
    const decode = def.requestDeserialize;
    const encode = def.responseSerialize;
    out[name] = {
      ...def,
      requestDeserialize: (buf: Buffer) => {
        recorder.grpcBytes(0, buf.length);
        return decode(buf);
      },
      responseSerialize: (value: unknown) => {
        const buf = encode(value);
        recorder.grpcBytes(buf.length, 0);
        return buf;
      },
    };
  }
  return out;
}

type Labels = Record<string, string>;

/** gRPC call and byte counts not yet moved into their prom-client counters (NodeMetrics' collect hooks). */
export class GrpcCounts {
  readonly started = new Map<string, { readonly labels: Labels; n: number }>();
  readonly handled = new Map<string, { readonly labels: Labels; n: number }>();
  sent = 0;
  received = 0;

  count(into: Map<string, { readonly labels: Labels; n: number }>, key: string, labels: () => Labels): void {
    const entry = into.get(key);
    if (entry) entry.n++;
    else into.set(key, { labels: labels(), n: 1 });
  }

  /** Adds the pending counts to `counter` (a series appears at its first call, as with inc()). */
  flush(from: Map<string, { readonly labels: Labels; n: number }>, counter: Counter<string>): void {
    for (const entry of from.values()) {
      if (entry.n === 0) continue;
      counter.inc(entry.labels, entry.n);
      entry.n = 0;
    }
  }
}
