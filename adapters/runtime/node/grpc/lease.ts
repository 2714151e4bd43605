// etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseKeepAlive (bidirectional), LeaseTimeToLive, LeaseLeases.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { LeaseKeepAliveResponse } from '../../../../src/etcd/types.ts';
import { bidi, type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

export function leaseService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  return {
    LeaseGrant: unary<{ TTL?: wire.Int64; ID?: wire.Int64 }>(ctx, 'Lease/LeaseGrant', async (req, opts) => {
      const r = await api.leaseGrant({ TTL: wire.num(req.TTL), ID: wire.big(req.ID) }, opts);
      return {
        header: wire.header(r.header),
        ID: wire.i64(r.ID),
        TTL: wire.i64(r.TTL),
        error: r.error || undefined,
      };
    }),
    LeaseRevoke: unary<{ ID?: wire.Int64 }>(ctx, 'Lease/LeaseRevoke', async (req, opts) => {
      const r = await api.leaseRevoke({ ID: wire.big(req.ID) }, opts);
      return { header: wire.header(r.header) };
    }),
    LeaseKeepAlive: bidi<{ ID?: wire.Int64 }, LeaseKeepAliveResponse>(
      ctx,
      'Lease/LeaseKeepAlive',
      (opts) => {
        const stream = api.leaseKeepAlive(opts);
        return {
          source: stream,
          send: (request) => stream.send({ ID: wire.big(request.ID) }),
          end: () => stream.end(),
          close: () => stream.close(),
        };
      },
      (r) => ({ header: wire.header(r.header), ID: wire.i64(r.ID), TTL: wire.i64(r.TTL) }),
    ),
    LeaseTimeToLive: unary<{ ID?: wire.Int64; keys?: boolean }>(
      ctx,
      'Lease/LeaseTimeToLive',
      async (req, opts) => {
        const r = await api.leaseTimeToLive({ ID: wire.big(req.ID), keys: !!req.keys }, opts);
        return {
          header: wire.header(r.header),
          ID: wire.i64(r.ID),
          TTL: wire.i64(r.TTL),
          grantedTTL: wire.i64(r.grantedTTL),
          keys: r.keys.length > 0 ? [...r.keys] : undefined,
        };
      },
    ),
    LeaseLeases: unary<object>(ctx, 'Lease/LeaseLeases', async (_req, opts) => {
      const r = await api.leaseLeases(opts);
      return {
        header: wire.header(r.header),
        leases: r.leases.length > 0 ? r.leases.map((l) => ({ ID: wire.i64(l.ID) })) : undefined,
      };
    }),
  };
}
