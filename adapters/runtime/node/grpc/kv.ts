// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact; RangeStream (etcd v3.7) in ./range-stream.ts.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { type CallContext, unary } from './calls.ts';
import { rangeStreamHandler } from './range-stream.ts';
import * as wire from './wire.ts';

export function kvService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  return {
    Range: unary<wire.WireRangeRequest>(ctx, 'KV/Range', async (req, opts) =>
      wire.rangeResponse(await api.range(wire.rangeRequest(req), opts)),
    ),
    RangeStream: rangeStreamHandler(ctx),
    Put: unary<wire.WirePutRequest>(ctx, 'KV/Put', async (req, opts) =>
      wire.putResponse(await api.put(wire.putRequest(req), opts)),
    ),
    DeleteRange: unary<wire.WireDeleteRangeRequest>(ctx, 'KV/DeleteRange', async (req, opts) =>
      wire.deleteRangeResponse(await api.deleteRange(wire.deleteRangeRequest(req), opts)),
    ),
    Txn: unary<wire.WireTxnRequest>(ctx, 'KV/Txn', async (req, opts) =>
      wire.txnResponse(await api.txn(wire.txnRequest(req), opts)),
    ),
    Compact: unary<{ revision?: wire.Int64; physical?: boolean }>(ctx, 'KV/Compact', async (req, opts) => {
      const r = await api.compact({ revision: wire.num(req.revision), physical: !!req.physical }, opts);
      return { header: wire.header(r.header) };
    }),
  };
}
