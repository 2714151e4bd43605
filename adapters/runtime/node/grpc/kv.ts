// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

export function kvService(ctx: CallContext): UntypedServiceImplementation {
  const { node } = ctx;
  return {
    Range: unary<wire.WireRangeRequest>(ctx, 'KV/Range', async (req, opts) =>
      wire.rangeResponse(await node.range(wire.rangeRequest(req), opts)),
    ),
    Put: unary<wire.WirePutRequest>(
      ctx,
      'KV/Put',
      async (req, opts) => wire.putResponse(await node.put(wire.putRequest(req), opts)),
      { write: true },
    ),
    DeleteRange: unary<wire.WireDeleteRangeRequest>(
      ctx,
      'KV/DeleteRange',
      async (req, opts) =>
        wire.deleteRangeResponse(await node.deleteRange(wire.deleteRangeRequest(req), opts)),
      { write: true },
    ),
    Txn: unary<wire.WireTxnRequest>(
      ctx,
      'KV/Txn',
      async (req, opts) => wire.txnResponse(await node.txn(wire.txnRequest(req), opts)),
      { write: true },
    ),
    Compact: unary<{ revision?: wire.Int64; physical?: boolean }>(
      ctx,
      'KV/Compact',
      async (req, opts) => {
        const r = await node.compact({ revision: wire.num(req.revision), physical: !!req.physical }, opts);
        return { header: wire.header(r.header) };
      },
      { write: true },
    ),
  };
}
