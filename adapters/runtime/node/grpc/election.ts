// v3electionpb.Election: Campaign, Proclaim, Leader, Observe (server stream) and Resign, run by the portable
// recipe in src/concurrency/election.ts. As etcd's electionServer: the recipe's errors reach the caller as code 2
// (Unknown) with etcd's text, Observe ends with OK when its watch or read fails, and a cancelled Campaign resigns
// its candidacy.

import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import {
  campaign,
  type LeaderKey,
  leader,
  observe,
  proclaim,
  resign,
} from '../../../../src/concurrency/election.ts';
import { asService } from '../../../../src/concurrency/recipe.ts';
import type { EtcdError } from '../../../../src/etcd/errors.ts';
import {
  admit,
  type CallContext,
  type LiveStream,
  requestOptions,
  requiresLeader,
  toStatus,
  unary,
} from './calls.ts';
import * as wire from './wire.ts';

const EMPTY = new Uint8Array(0);

interface WireLeaderKey {
  name?: Uint8Array;
  key?: Uint8Array;
  rev?: wire.Int64;
  lease?: wire.Int64;
}

function leaderKeyIn(w: WireLeaderKey | undefined | null): LeaderKey | undefined {
  if (!w) return undefined;
  return { name: w.name ?? EMPTY, key: w.key ?? EMPTY, rev: wire.num(w.rev), lease: wire.big(w.lease) };
}

function leaderKeyOut(l: LeaderKey): wire.WireMessage {
  return {
    name: l.name.length > 0 ? l.name : undefined,
    key: l.key.length > 0 ? l.key : undefined,
    rev: wire.i64(l.rev),
    lease: wire.i64(l.lease),
  };
}

export function electionService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  return {
    Campaign: unary<{ name?: Uint8Array; lease?: wire.Int64; value?: Uint8Array }>(
      ctx,
      'Election/Campaign',
      async (req, opts) => {
        const request = { name: req.name ?? EMPTY, lease: wire.big(req.lease), value: req.value ?? EMPTY };
        const r = await asService(campaign(api, request, opts));
        return { header: wire.header(r.header), leader: leaderKeyOut(r.leader) };
      },
    ),
    Proclaim: unary<{ leader?: WireLeaderKey; value?: Uint8Array }>(
      ctx,
      'Election/Proclaim',
      async (req, opts) => {
        const request = { leader: leaderKeyIn(req.leader), value: req.value ?? EMPTY };
        const r = await asService(proclaim(api, request, opts));
        return { header: wire.header(r.header) };
      },
    ),
    Leader: unary<{ name?: Uint8Array }>(ctx, 'Election/Leader', async (req, opts) => {
      const r = await asService(leader(api, { name: req.name ?? EMPTY }, opts));
      return { header: wire.header(r.header), kv: wire.keyValue(r.kv) };
    }),
    Resign: unary<{ leader?: WireLeaderKey }>(ctx, 'Election/Resign', async (req, opts) => {
      const r = await asService(resign(api, { leader: leaderKeyIn(req.leader) }, opts));
      return { header: wire.header(r.header) };
    }),
    Observe: (call: ServerWritableStream<{ name?: Uint8Array }, wire.WireMessage>) => {
      const refused = admit(ctx, call, 'Election/Observe', call.request);
      if (refused) {
        call.emit('error', toStatus(refused));
        return;
      }
      const abort = new AbortController();
      let ended = false;
      let wakeDrain: (() => void) | undefined;
      const live: LiveStream = {
        requireLeader: requiresLeader(call.metadata),
        end: (err?: EtcdError) => {
          if (ended) return;
          ended = true;
          ctx.streams.delete(live);
          abort.abort();
          wakeDrain?.();
          if (call.cancelled) return;
          if (err) call.emit('error', toStatus(err));
          else call.end();
        },
      };
      ctx.streams.add(live);
      call.on('cancelled', () => live.end());
      call.on('error', () => live.end());
      call.on('drain', () => wakeDrain?.());
      void (async () => {
        for await (const r of observe(
          api,
          { name: call.request.name ?? EMPTY },
          requestOptions(call, abort.signal),
        )) {
          if (ended) break;
          if (!call.write({ header: wire.header(r.header), kv: wire.keyValue(r.kv) })) {
            await new Promise<void>((resolve) => {
              wakeDrain = resolve;
            });
            wakeDrain = undefined;
          }
        }
      })().then(
        () => live.end(),
        (err: unknown) => {
          ctx.logger.debug('election observe ended', { error: String(err) });
          live.end(); // etcd's Observe returns nil when its observer closes the channel
        },
      );
    },
  };
}
