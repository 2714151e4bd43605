// etcdserverpb.Maintenance: Status, Hash, HashKV, MoveLeader, Alarm, Defragment (a snapshot), and Snapshot
// (a server stream of edgecd's snapshot file in 32 KiB chunks; src/server/snapshot-file.ts).

import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { AlarmType } from '../../../../src/etcd/types.ts';
import type { RequestOptions } from '../../../../src/server/node.ts';
import { snapshotChunks } from '../../../../src/server/snapshot-file.ts';
import { admit, type CallContext, requestOptions, toStatus, unary } from './calls.ts';
import * as wire from './wire.ts';

const ALARM_ACTIONS = ['GET', 'ACTIVATE', 'DEACTIVATE'] as const;
const ALARM_TYPES: readonly AlarmType[] = ['NONE', 'NOSPACE', 'CORRUPT'];

export function maintenanceService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  // Only after an admin check passed (MoveLeader, Defragment): Status needs a user once auth is on.
  const currentHeader = async (opts: RequestOptions) => wire.header((await api.status(opts)).header);
  // etcd's authMaintenanceServer: Defragment, Snapshot, Hash and HashKV need an admin (root) once auth is on.
  return {
    Status: unary<object>(ctx, 'Maintenance/Status', async (_req, opts) =>
      wire.statusResponse(await api.status(opts)),
    ),
    // etcd's Hash covers the whole backend file; edgecd has no such file, so it answers with the KV hash at the
    // current revision (equal across members at the same revision, as HashKV).
    Hash: unary<object>(ctx, 'Maintenance/Hash', async (_req, opts) => {
      await api.authorizeMaintenance(opts);
      const r = await api.hashKV({ revision: 0 }, opts);
      return { header: wire.header(r.header), hash: r.hash || undefined };
    }),
    HashKV: unary<{ revision?: wire.Int64 }>(ctx, 'Maintenance/HashKV', async (req, opts) => {
      await api.authorizeMaintenance(opts);
      const r = await api.hashKV({ revision: wire.num(req.revision) }, opts);
      return {
        header: wire.header(r.header),
        hash: r.hash || undefined,
        compact_revision: wire.i64(r.compactRevision),
      };
    }),
    MoveLeader: unary<{ targetID?: wire.Int64 }>(ctx, 'Maintenance/MoveLeader', async (req, opts) => {
      // Root only, as etcd since 3.4.42 (GHSA-q8m4-xhhv-38mg; 3.4.23 did not check MoveLeader).
      await api.authorizeAdmin(opts);
      await api.moveLeader({ targetID: wire.big(req.targetID) }, opts);
      return { header: await currentHeader(opts) };
    }),
    // etcd answers Alarm without a header (the gateway shows `{}` with none active).
    Alarm: unary<{ action?: number; memberID?: wire.Int64; alarm?: number }>(
      ctx,
      'Maintenance/Alarm',
      async (req, opts) => {
        const r = await api.alarm(
          {
            action: ALARM_ACTIONS[req.action ?? 0] ?? 'GET',
            memberID: wire.big(req.memberID),
            alarm: ALARM_TYPES[req.alarm ?? 0] ?? 'NONE',
          },
          opts,
        );
        const alarms = r.alarms.map((a) => ({
          memberID: wire.i64(a.memberID),
          alarm: ALARM_TYPES.indexOf(a.alarm) || undefined,
        }));
        return { alarms: alarms.length > 0 ? alarms : undefined };
      },
    ),
    // A snapshot, then the storage drops the log before it (EdgeNode.defragment).
    Defragment: unary<object>(ctx, 'Maintenance/Defragment', async (_req, opts) => {
      await api.authorizeMaintenance(opts);
      await api.defragment();
      return { header: await currentHeader(opts) };
    }),
    // SnapshotResponse{header, remaining_bytes, blob}: the file (taken after a read barrier) in 32 KiB chunks,
    // written with backpressure; etcdctl concatenates the blobs and checks the sha256 trailer's alignment.
    Snapshot: (call: ServerWritableStream<object, wire.WireMessage>) => {
      const refused = admit(ctx, call, 'Maintenance/Snapshot', call.request);
      if (refused) {
        call.emit('error', toStatus(refused));
        return;
      }
      const abort = new AbortController();
      call.on('cancelled', () => abort.abort());
      void (async () => {
        const opts = requestOptions(call, abort.signal);
        await api.authorizeMaintenance(opts);
        const { header, file } = await api.snapshot(opts);
        for (const chunk of snapshotChunks(file)) {
          if (abort.signal.aborted) return;
          const more = call.write({
            header: wire.header(header),
            remaining_bytes: wire.i64(chunk.remainingBytes),
            blob: chunk.blob,
          });
          if (!more) {
            await new Promise<void>((resolve) => {
              call.once('drain', resolve);
              abort.signal.addEventListener('abort', () => resolve(), { once: true });
            });
          }
        }
        call.end();
      })().catch((err: unknown) => {
        if (!call.cancelled) call.emit('error', toStatus(err));
      });
    },
  };
}
