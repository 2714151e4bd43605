// etcdserverpb.Watch: one bidirectional stream carries many watchers; node.watch() does the work (create,
// cancel, progress, fragmenting) and this file only translates messages.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { WatchResponse } from '../../../../src/etcd/types.ts';
import { bidi, type CallContext } from './calls.ts';
import * as wire from './wire.ts';

export function watchService(ctx: CallContext): UntypedServiceImplementation {
  return {
    Watch: bidi<wire.WireWatchRequest, WatchResponse>(
      ctx,
      'Watch/Watch',
      (opts) => {
        const stream = ctx.api.watch(opts);
        return {
          source: stream,
          send: (request) => {
            const req = wire.watchRequest(request);
            if (req) stream.send(req);
          },
          close: () => stream.close(),
        };
      },
      wire.watchResponse,
    ),
  };
}
