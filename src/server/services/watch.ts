// etcd's Watch service (v3rpc/watch.go): one bidirectional stream per call over the watchable store
// (src/watch/), with etcd's isWatchPermitted check on every create request once auth is on.

import { EtcdError, errors } from '../../etcd/errors.ts';
import type { WatchRequest, WatchResponse } from '../../etcd/types.ts';
import type { EdgeNode } from '../node.ts';
import type { ServiceContext } from './context.ts';

export type WatchService = Pick<EdgeNode, 'watch'>;

/** Responses handed over per batch at most: the outbox's default bound, so a batch usually empties it. */
const MAX_BATCH = 1024;

export function watchService(ctx: ServiceContext): WatchService {
  const { identity } = ctx;
  return {
    watch(opts) {
      const stream = ctx.newWatchStream({ onReadable: () => wake() });
      let queue: WatchResponse[] = [];
      let waiting: (() => void) | undefined;
      let closed = false;
      const wake = () => {
        const w = waiting;
        waiting = undefined;
        w?.();
      };
      const unsubscribe = ctx.onChange(() => {
        if (waiting !== undefined && stream.buffered.responses > 0) wake();
      });
      // With auth on, create requests are checked (READ on the range) in order before they reach the stream.
      let pending: Promise<void> | undefined;
      const handle = (request: WatchRequest) => {
        if (closed) return;
        stream.handle(request);
        wake();
      };
      const refuse = (reason: string) => {
        queue.push({
          header: ctx.header(),
          watchId: -1,
          created: true,
          canceled: true,
          cancelReason: reason,
          events: [],
        });
        wake();
      };
      const checkCreate = async (request: WatchRequest) => {
        if (!('createRequest' in request) || !identity.auth.enabled) return handle(request);
        const c = request.createRequest;
        try {
          const info = await identity.identify(opts);
          // etcd: an empty key watches from "\0".
          identity.auth.checkOp(info, 'READ', c.key.length === 0 ? Uint8Array.of(0) : c.key, c.rangeEnd);
          handle(request);
        } catch (e) {
          // etcd's recvLoop: created + canceled, watch ID -1; the reason is the gRPC status error's text.
          const err = e instanceof EtcdError ? e : errors.permissionDenied();
          refuse(`rpc error: code = ${err.codeName} desc = ${err.message}`);
        }
      };
      // Every response ready now, in order: the refusals and the stream's outbox (one await per batch, not per
      // response: a put seen by a thousand watchers is a thousand responses).
      const batches = async function* (): AsyncGenerator<readonly WatchResponse[]> {
        try {
          while (!closed) {
            let batch = stream.take(MAX_BATCH);
            if (queue.length > 0) {
              batch = queue.concat(batch);
              queue = [];
            }
            if (batch.length > 0) {
              yield batch;
              continue;
            }
            await new Promise<void>((resolve) => {
              waiting = resolve;
              if (stream.buffered.responses > 0 || queue.length > 0) wake();
            });
          }
        } finally {
          closed = true;
          stream.close();
          unsubscribe();
        }
      };
      return {
        send: (request) => {
          if (!pending && !identity.auth.enabled) return handle(request);
          const p: Promise<void> = (pending ?? Promise.resolve()).then(() => checkCreate(request));
          pending = p;
          void p.then(() => {
            if (pending === p) pending = undefined;
          });
        },
        close: () => {
          closed = true;
          stream.close();
          unsubscribe();
          wake();
        },
        batches,
        [Symbol.asyncIterator]: async function* () {
          for await (const batch of batches()) yield* batch;
        },
      };
    },
  };
}
