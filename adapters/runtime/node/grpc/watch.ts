// etcdserverpb.Watch: one bidirectional stream carries many watchers; node.watch() does the work (create,
// cancel, progress, fragmenting) and this file only translates messages. Responses are taken a batch at a time
// and written pre-encoded (./watch-encode.ts: each event and header encoded once, whatever the watcher count).

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { bidi } from './bidi.ts';
import type { CallContext } from './calls.ts';
import { encodeWatchResponse } from './watch-encode.ts';
import * as wire from './wire.ts';

/** The next turn of the event loop, after the I/O callbacks and microtasks of this one. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

export function watchService(ctx: CallContext): UntypedServiceImplementation {
  return {
    Watch: bidi<wire.WireWatchRequest>(ctx, 'Watch/Watch', (opts, out) => {
      const stream = ctx.api.watch(opts);
      void (async () => {
        for await (const batch of stream.batches()) {
          // The answers made in the same turn go first: the put whose apply made these events is answered before
          // its fan-out (a thousand watchers' responses) queues in front of it on the connection. A client that
          // writes and watches on one connection, as etcd's benchmark does, sees etcd's put latency; the events
          // follow one turn later.
          await nextTurn();
          for (const response of batch) {
            if (out.ended) return;
            // A slow client: wait for it before handing over more (the rest of this batch waits here).
            if (!out.write(encodeWatchResponse(response))) await out.drained();
          }
        }
      })().then(
        () => out.end(),
        (err: unknown) => out.end(err),
      );
      return {
        send: (request) => {
          const req = wire.watchRequest(request);
          if (req) stream.send(req);
        },
        close: () => stream.close(),
      };
    }),
  };
}
