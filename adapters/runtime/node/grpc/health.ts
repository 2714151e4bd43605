// grpc.health.v1.Health as etcd serves it: grpc-go's health server with the overall service ("") SERVING while
// the member runs and NOT_SERVING once it stops; any other service name is unknown (Check: NOT_FOUND "unknown
// service"; Watch: SERVICE_UNKNOWN). Watch sends the current status, then each change, until the client cancels.

import {
  type ServerUnaryCall,
  type ServerWritableStream,
  status,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

const SERVING = 1;
const NOT_SERVING = 2;
const SERVICE_UNKNOWN = 3;

export interface HealthService {
  readonly implementation: UntypedServiceImplementation;
  /** The member stops: every watcher hears NOT_SERVING. */
  stop(): void;
}

export function healthService(): HealthService {
  let serving = true;
  const watchers = new Set<ServerWritableStream<{ service?: string }, { status: number }>>();
  const current = () => (serving ? SERVING : NOT_SERVING);
  return {
    implementation: {
      Check: (
        call: ServerUnaryCall<{ service?: string }, { status: number }>,
        callback: (err: { code: number; details: string } | null, res?: { status: number }) => void,
      ) => {
        if ((call.request.service ?? '') !== '')
          callback({ code: status.NOT_FOUND, details: 'unknown service' });
        else callback(null, { status: current() });
      },
      Watch: (call: ServerWritableStream<{ service?: string }, { status: number }>) => {
        if ((call.request.service ?? '') !== '') {
          call.write({ status: SERVICE_UNKNOWN });
          return; // stays open, as grpc-go's does, until the client cancels or the service appears
        }
        watchers.add(call);
        call.on('cancelled', () => watchers.delete(call));
        call.write({ status: current() });
      },
    },
    stop() {
      if (!serving) return;
      serving = false;
      for (const w of watchers) w.write({ status: NOT_SERVING });
    },
  };
}
