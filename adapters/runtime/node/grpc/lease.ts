// etcdserverpb.Lease: LeaseGrant, LeaseRevoke, LeaseKeepAlive (bidirectional), LeaseTimeToLive, LeaseLeases.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { LeaseKeepAliveResponse } from '../../../../src/etcd/types.ts';
import { bidi } from './bidi.ts';
import { type CallContext, unary } from './calls.ts';
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
    // etcd's LeaseKeepAlive handler: each request answered when its renewal is (in that order); on the client's
    // half-close the stream ends with OK once every answer owed is out, and with the error if one fails.
    LeaseKeepAlive: bidi<{ ID?: wire.Int64 }>(ctx, 'Lease/LeaseKeepAlive', (opts, out) => {
      let inFlight = 0;
      let halfClosed = false;
      const answered = (r: LeaseKeepAliveResponse) => {
        inFlight--;
        out.write({ header: wire.header(r.header), ID: wire.i64(r.ID), TTL: wire.i64(r.TTL) });
        if (halfClosed && inFlight === 0) out.end();
      };
      const failed = (err: unknown) => {
        inFlight--;
        out.end(err);
      };
      return {
        send: (request) => {
          inFlight++;
          api.leaseKeepAliveOnce({ ID: wire.big(request.ID) }, opts).then(answered, failed);
        },
        end: () => {
          halfClosed = true;
          if (inFlight === 0) out.end();
        },
        close: () => {},
      };
    }),
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
