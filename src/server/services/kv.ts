// etcd's KV service (v3rpc/key.go over etcdserver/v3_server.go): ranges on the read path, writes through Raft;
// RangeStream (etcd v3.7) in ./range-stream.ts.

import { ANONYMOUS } from '../../auth/auth-store.ts';
import type {
  CompactionResponse,
  DeleteRangeResponse,
  PutResponse,
  TxnRequest,
  TxnResponse,
} from '../../etcd/types.ts';
import type { EdgeNode } from '../node.ts';
import type { ServiceContext } from './context.ts';
import { rangeStream } from './range-stream.ts';

export type KvService = Pick<EdgeNode, 'range' | 'rangeStream' | 'put' | 'deleteRange' | 'txn' | 'compact'>;

export function kvService(ctx: ServiceContext): KvService {
  const { identity, state } = ctx;
  /** With auth on, a write carries its caller into the entry and is checked when it applies (every member alike). */
  const writer = async (opts: Parameters<EdgeNode['put']>[1]) =>
    identity.auth.enabled ? await identity.identify(opts) : ANONYMOUS;
  return {
    async range(req, opts) {
      if (!req.serializable) await ctx.barrier();
      const auth = identity.auth;
      if (auth.enabled) await identity.checkRead(opts, (i) => auth.checkOp(i, 'READ', req.key, req.rangeEnd));
      return ctx.withHeader(state.range(req));
    },

    rangeStream: (req, opts) => rangeStream(ctx, req, opts),

    async put(req, opts) {
      const auth = await writer(opts);
      return ctx.withHeader(await ctx.propose<PutResponse>({ type: 'put', request: req, auth }, opts));
    },

    async deleteRange(req, opts) {
      const auth = await writer(opts);
      return ctx.withHeader(
        await ctx.propose<DeleteRangeResponse>({ type: 'deleteRange', request: req, auth }, opts),
      );
    },

    async txn(req, opts) {
      if (isReadOnlyTxn(req)) {
        // etcd serves read-only txns through the read path (linearizable unless every range is serializable).
        await ctx.barrier();
        const auth = identity.auth;
        if (auth.enabled)
          await identity.checkRead(opts, (i) => auth.checkTxn(i, req, (id) => state.leaseKeys(id)));
        return ctx.withHeader(state.readTxn(req));
      }
      const auth = await writer(opts);
      return ctx.withHeader(await ctx.propose<TxnResponse>({ type: 'txn', request: req, auth }, opts));
    },

    async compact(req, opts) {
      // Root only, as etcd since 3.4.42 (GHSA-q8m4-xhhv-38mg; 3.4.23 let any caller compact everyone's history).
      const auth = await identity.requireAdmin(opts);
      return ctx.withHeader(
        await ctx.propose<CompactionResponse>({ type: 'compact', request: req, auth }, opts),
      );
    },
  };
}

function isReadOnlyTxn(req: TxnRequest): boolean {
  const ops = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every(
    (op) => op.requestRange !== undefined || (op.requestTxn !== undefined && isReadOnlyTxn(op.requestTxn)),
  );
}
