// etcdserverpb.KV: Range, Put, DeleteRange, Txn, Compact.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

export function kvService(ctx: CallContext): UntypedServiceImplementation {
  const { node } = ctx;
  return {
    Range: unary<wire.WireRangeRequest>(ctx, 'KV/Range', async (req, signal) =>
      wire.rangeResponse(await node.range(wire.rangeRequest(req), { signal })),
    ),
    Put: unary<wire.WirePutRequest>(
      ctx,
      'KV/Put',
      async (req, signal) => wire.putResponse(await node.put(wire.putRequest(req), { signal })),
      { write: true },
    ),
    DeleteRange: unary<wire.WireDeleteRangeRequest>(
      ctx,
      'KV/DeleteRange',
      async (req, signal) =>
        wire.deleteRangeResponse(await node.deleteRange(wire.deleteRangeRequest(req), { signal })),
      { write: true },
    ),
    Txn: unary<wire.WireTxnRequest>(
      ctx,
      'KV/Txn',
      async (req, signal) => wire.txnResponse(await node.txn(wire.txnRequest(req), { signal })),
      { write: true },
    ),
    Compact: unary<{ revision?: wire.Int64; physical?: boolean }>(
      ctx,
      'KV/Compact',
      async (req, signal) => {
        const r = await node.compact(
          { revision: wire.num(req.revision), physical: !!req.physical },
          { signal },
        );
        return { header: wire.header(r.header) };
      },
      { write: true },
    ),
  };
}
