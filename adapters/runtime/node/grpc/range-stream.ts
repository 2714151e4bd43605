// KV.RangeStream (etcd v3.7): a server stream of RangeStreamResponse chunks from the request pipeline's rangeStream,
// written with back-pressure — the next chunk is read from the store only once grpc-js has taken the previous one,
// so a stream holds about one chunk (≤ --max-request-bytes) whatever the range's size. The request pipeline checks
// and serves it (src/server/services/range-stream.ts); this file only moves chunks and statuses.

import type { ServerWritableStream } from '@grpc/grpc-js';
import type { EtcdError } from '../../../../src/etcd/errors.ts';
import {
  admit,
  type CallContext,
  type GrpcStatus,
  type LiveStream,
  requestOptions,
  requiresLeader,
  toStatus,
} from './calls.ts';
import * as wire from './wire.ts';

export function rangeStreamHandler(
  ctx: CallContext,
): (call: ServerWritableStream<wire.WireRangeRequest, wire.WireMessage>) => void {
  return (call) => {
    const refused = admit(ctx, call, 'KV/RangeStream', call.request);
    if (refused) {
      call.emit('error', toStatus(refused));
      return;
    }
    const abort = new AbortController();
    const chunks = ctx.api
      .rangeStream(wire.rangeRequest(call.request), requestOptions(call, abort.signal))
      [Symbol.asyncIterator]();
    let ended = false;
    let wake: (() => void) | undefined;
    // Ends the stream once: OK (end), with a status (error), or silently when the client went away.
    const finish = (status?: GrpcStatus) => {
      if (ended) return;
      ended = true;
      ctx.streams.delete(live);
      abort.abort();
      wake?.();
      void chunks.return?.().catch(() => {});
      if (call.cancelled) return;
      if (status) call.emit('error', status);
      else call.end();
    };
    // The server closing, or a stream that asked for a leader losing it (etcd's monitorLeader).
    const live: LiveStream = {
      requireLeader: requiresLeader(call.metadata),
      end: (err?: EtcdError | GrpcStatus) => finish(err ? toStatus(err) : undefined),
    };
    ctx.streams.add(live);
    call.on('cancelled', () => finish());
    call.on('drain', () => wake?.());
    void (async () => {
      for (;;) {
        const next = await chunks.next();
        if (ended) return;
        if (next.done) return finish();
        if (!call.write(wire.rangeStreamResponse(next.value))) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
          if (ended) return;
        }
      }
    })().catch((err: unknown) => {
      const status = toStatus(err);
      if (status.code === 2)
        ctx.logger.warn('grpc handler failed', { method: 'KV/RangeStream', error: status.details });
      finish(status);
    });
  };
}
