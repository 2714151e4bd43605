// etcdserverpb.Cluster: MemberList, MemberAdd, MemberRemove, MemberPromote; MemberUpdate when the node has it.

import { status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { MembersResponse, MemberUpdateRequest } from '../../../../src/etcd/types.ts';
import type { RequestOptions } from '../../../../src/server/node.ts';
import { type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

/** A node that can change a member's peer URLs (not every EdgeNode can yet). */
interface MemberUpdater {
  memberUpdate(req: MemberUpdateRequest, opts?: RequestOptions): Promise<MembersResponse>;
}

function membersReply(r: MembersResponse): wire.WireMessage {
  return { header: wire.header(r.header), members: wire.members(r.members) };
}

export function clusterService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  const updater = api as Partial<MemberUpdater>;
  return {
    MemberList: unary<object>(ctx, 'Cluster/MemberList', async (_req, opts) =>
      membersReply(await api.memberList(opts)),
    ),
    MemberAdd: unary<{ peerURLs?: string[]; isLearner?: boolean }>(
      ctx,
      'Cluster/MemberAdd',
      async (req, opts) => {
        const r = await api.memberAdd({ peerURLs: req.peerURLs ?? [], isLearner: !!req.isLearner }, opts);
        return {
          header: wire.header(r.header),
          member: wire.member(r.member),
          members: wire.members(r.members),
        };
      },
    ),
    MemberRemove: unary<{ ID?: wire.Int64 }>(ctx, 'Cluster/MemberRemove', async (req, opts) =>
      membersReply(await api.memberRemove({ ID: wire.big(req.ID) }, opts)),
    ),
    MemberPromote: unary<{ ID?: wire.Int64 }>(ctx, 'Cluster/MemberPromote', async (req, opts) =>
      membersReply(await api.memberPromote({ ID: wire.big(req.ID) }, opts)),
    ),
    MemberUpdate: unary<{ ID?: wire.Int64; peerURLs?: string[] }>(
      ctx,
      'Cluster/MemberUpdate',
      async (req, opts) => {
        if (typeof updater.memberUpdate !== 'function') {
          throw {
            code: status.UNIMPLEMENTED,
            details: 'edgecd: MemberUpdate (changing peer URLs) is not supported yet',
          };
        }
        return membersReply(
          await updater.memberUpdate.call(api, { ID: wire.big(req.ID), peerURLs: req.peerURLs ?? [] }, opts),
        );
      },
    ),
  };
}
