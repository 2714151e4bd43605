// etcd's Lease service (v3rpc/lease.go): grants and revokes through Raft, keep-alives served by the leader's
// lessor (./context.ts keepAlive), and etcd's patched checks (an identified caller; keys' permissions).

import { EtcdError, errors } from '../../etcd/errors.ts';
import type { LeaseKeepAliveResponse } from '../../etcd/types.ts';
import { type LeaseTimeToLive, MAX_LEASE_TTL } from '../../lease/index.ts';
import type { EdgeNode } from '../node.ts';
import type { ServiceContext } from './context.ts';

export type LeaseService = Pick<
  EdgeNode,
  'leaseGrant' | 'leaseRevoke' | 'leaseKeepAliveOnce' | 'leaseKeepAlive' | 'leaseTimeToLive' | 'leaseLeases'
>;

export function leaseService(ctx: ServiceContext): LeaseService {
  const { identity, state } = ctx;

  /** etcd's checkLeaseRenew (GHSA-q8m4-xhhv-38mg): an identified caller with WRITE on the lease's keys (root: any). */
  const leaseKeepAliveOnce: LeaseService['leaseKeepAliveOnce'] = async (req, opts) => {
    const info = await identity.requireUser(opts);
    if (identity.auth.enabled) identity.auth.checkKeys(info, 'WRITE', state.leaseKeys(req.ID));
    return new Promise((resolve, reject) => {
      ctx.keepAlive(req.ID, (ttl) => {
        if (ttl instanceof EtcdError) {
          // etcd answers an unknown lease on a keep-alive stream with TTL 0, not an error.
          if (ttl.message === errors.leaseNotFound().message)
            resolve({ header: ctx.header(), ID: req.ID, TTL: 0 });
          else reject(ttl);
        } else resolve({ header: ctx.header(), ID: req.ID, TTL: ttl });
      });
    });
  };

  return {
    async leaseGrant(req, opts) {
      await identity.requireUser(opts); // any identified caller; no key permission applies
      if (req.TTL > MAX_LEASE_TTL) throw errors.leaseTTLTooLarge();
      const ID = req.ID && req.ID !== 0n ? req.ID : ctx.randomId();
      const r = await ctx.propose<{ ID: bigint; TTL: number }>(
        { type: 'leaseGrant', request: { ID, TTL: req.TTL } },
        opts,
      );
      return { header: ctx.header(), ID: r.ID, TTL: r.TTL };
    },

    async leaseRevoke(req, opts) {
      // An identified caller, then WRITE on every key attached to the lease when the revoke applies (checkLeasePuts).
      const auth = await identity.requireUser(opts);
      await ctx.propose({ type: 'leaseRevoke', id: req.ID, auth }, opts);
      return { header: ctx.header() };
    },

    leaseKeepAliveOnce,

    leaseKeepAlive(opts) {
      const queue: LeaseKeepAliveResponse[] = [];
      let waiting: (() => void) | undefined;
      let closed = false;
      let ending = false;
      let inFlight = 0;
      let failure: unknown;
      const wake = () => {
        const w = waiting;
        waiting = undefined;
        w?.();
      };
      return {
        send: (request) => {
          if (ending) return;
          inFlight++;
          leaseKeepAliveOnce(request, opts).then(
            (r) => {
              inFlight--;
              queue.push(r);
              wake();
            },
            (e) => {
              inFlight--;
              failure = e;
              wake();
            },
          );
        },
        end: () => {
          ending = true;
          wake();
        },
        close: () => {
          closed = true;
          wake();
        },
        [Symbol.asyncIterator]: async function* () {
          while (!closed) {
            while (queue.length > 0) yield queue.shift()!;
            if (failure) throw failure;
            if (closed || (ending && inFlight === 0 && queue.length === 0)) break;
            await new Promise<void>((resolve) => {
              waiting = resolve;
            });
          }
        },
      };
    },

    async leaseTimeToLive(req, opts) {
      const info = await identity.requireUser(opts);
      await ctx.barrier();
      // etcd's checkLeaseTimeToLive (CVE-2023-32082): listing the keys needs READ on each of them (root: any).
      if (req.keys && identity.auth.enabled) identity.auth.checkKeys(info, 'READ', state.leaseKeys(req.ID));
      // Asked of the leader, as etcd forwards it (only the leader knows the deadline keep-alives renewed).
      const ttl = await new Promise<Pick<LeaseTimeToLive, 'ttl' | 'grantedTtl'> | undefined>(
        (resolve, reject) =>
          ctx.leaseTimeToLive(req.ID, (r) => (r instanceof EtcdError ? reject(r) : resolve(r))),
      );
      if (!ttl) return { header: ctx.header(), ID: req.ID, TTL: -1, grantedTTL: 0, keys: [] };
      return {
        header: ctx.header(),
        ID: req.ID,
        TTL: ttl.ttl,
        grantedTTL: ttl.grantedTtl,
        keys: req.keys ? state.keysForLease(req.ID) : [],
      };
    },

    async leaseLeases(opts) {
      const info = await identity.requireUser(opts);
      await ctx.barrier();
      const leases = state.leases();
      // etcd's checkLeaseLeases: READ on every key of every lease, else the whole list is refused (root: any).
      const auth = identity.auth;
      const keys = auth.isAdmin(info) ? [] : leases.flatMap((l) => state.leaseKeys(l.id));
      auth.checkKeys(info, 'READ', keys);
      return { header: ctx.header(), leases: leases.map((l) => ({ ID: l.id })) };
    },
  };
}
