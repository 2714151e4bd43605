// v3lockpb.Lock: Lock (blocks until acquired; a cancelled call deletes the waiter's key) and Unlock, run by the
// portable recipe in src/concurrency/lock.ts. As in etcd, the recipe's errors reach the caller as code 2 (Unknown)
// with etcd's text (src/concurrency/recipe.ts: toServiceError).

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { lock, unlock } from '../../../../src/concurrency/lock.ts';
import { asService } from '../../../../src/concurrency/recipe.ts';
import { type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

const EMPTY = new Uint8Array(0);

export function lockService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  return {
    Lock: unary<{ name?: Uint8Array; lease?: wire.Int64 }>(ctx, 'Lock/Lock', async (req, opts) => {
      const request = { name: req.name ?? EMPTY, lease: wire.big(req.lease) };
      const r = await asService(lock(api, request, opts));
      return { header: wire.header(r.header), key: r.key };
    }),
    Unlock: unary<{ key?: Uint8Array }>(ctx, 'Lock/Unlock', async (req, opts) => {
      const r = await asService(unlock(api, { key: req.key ?? EMPTY }, opts));
      return { header: wire.header(r.header) };
    }),
  };
}
