// etcdserverpb.Maintenance: Status, Hash, HashKV, MoveLeader, Alarm (GET only), Defragment (nothing to do).
// Snapshot and alarm changes are left to server.ts's UNIMPLEMENTED answer.

import { status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

const ALARM_GET = 0;

export function maintenanceService(ctx: CallContext): UntypedServiceImplementation {
  const { node } = ctx;
  const currentHeader = async () => wire.header((await node.status()).header);
  return {
    Status: unary<object>(ctx, 'Maintenance/Status', async () => wire.statusResponse(await node.status())),
    // etcd's Hash covers the whole backend file; edgecd has no such file, so it answers with the KV hash at the
    // current revision (equal across members at the same revision, as HashKV).
    Hash: unary<object>(ctx, 'Maintenance/Hash', async (_req, signal) => {
      const r = await node.hashKV({ revision: 0 }, { signal });
      return { header: wire.header(r.header), hash: r.hash || undefined };
    }),
    HashKV: unary<{ revision?: wire.Int64 }>(ctx, 'Maintenance/HashKV', async (req, signal) => {
      const r = await node.hashKV({ revision: wire.num(req.revision) }, { signal });
      return {
        header: wire.header(r.header),
        hash: r.hash || undefined,
        compact_revision: wire.i64(r.compactRevision),
      };
    }),
    MoveLeader: unary<{ targetID?: wire.Int64 }>(ctx, 'Maintenance/MoveLeader', async (req, signal) => {
      await node.moveLeader({ targetID: wire.big(req.targetID) }, { signal });
      return { header: await currentHeader() };
    }),
    // edgecd raises no alarms (no space quota, no corruption check yet): the list is always empty. etcdctl's
    // `endpoint health` asks for it after its health read.
    Alarm: unary<{ action?: number }>(ctx, 'Maintenance/Alarm', async (req) => {
      if ((req.action ?? ALARM_GET) !== ALARM_GET) {
        throw {
          code: status.UNIMPLEMENTED,
          details: 'edgecd: alarms cannot be activated or deactivated yet',
        };
      }
      return { header: await currentHeader() };
    }),
    // Nothing to defragment: the store keeps no free pages. Answer as a finished defragmentation.
    Defragment: unary<object>(ctx, 'Maintenance/Defragment', async () => ({ header: await currentHeader() })),
  };
}
