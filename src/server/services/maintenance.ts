// etcd's Maintenance service (v3rpc/maintenance.go): Status, HashKV, MoveLeader, alarms, Snapshot (etcd 3.4's
// file), Defragment, plus what hosts ask outside the API: /health, the peer port's HashKV, the data's disk size.

import { errors } from '../../etcd/errors.ts';
import type { AlarmResponse } from '../../etcd/types.ts';
import type { EdgeNode } from '../node.ts';
import { encodeEtcdSnapshotFile } from '../snapshot-file.ts';
import type { ServiceContext } from './context.ts';

/** The etcd version edgecd answers with (clients gate features on it; ETCD-NOTES §6c). */
export const ETCD_VERSION = '3.4.23';

export type MaintenanceService = Pick<
  EdgeNode,
  | 'status'
  | 'hashKV'
  | 'moveLeader'
  | 'alarm'
  | 'snapshot'
  | 'defragment'
  | 'health'
  | 'testingCorrupt'
  | 'peerHashKV'
  | 'diskSize'
>;

export function maintenanceService(ctx: ServiceContext): MaintenanceService {
  const { identity, state, options } = ctx;
  const { clock } = options;

  const diskSize = async (): Promise<number> => {
    if (!options.diskSize) return state.dbSize();
    try {
      return await options.diskSize();
    } catch (error) {
      options.logger?.warn('cannot measure the data dir; reporting the live size', { error: String(error) });
      return state.dbSize();
    }
  };

  return {
    /** Root only with auth on, as the release-3.4 line since 3.4.42 (3.5.32+ and 3.6 open it to any identified user). */
    async status(opts) {
      // Any identified caller, as etcd 3.5.32+/3.6 ("allow non-admin maintenance status"): release-3.4 keeps it
      // root only, which breaks `etcdctl endpoint status` for ordinary users; edgecd takes the later rule.
      await identity.requireUser(opts);
      const s = ctx.raftStatus();
      const dbSizeInUse = state.dbSize();
      const dbSize = await diskSize();
      // etcd lists "no leader" and every active alarm (its proto text form) in Status.errors.
      const statusErrors = [...(s.lead === 0n ? [errors.noLeader().message] : []), ...state.alarmErrors()];
      return {
        header: ctx.header(),
        version: ETCD_VERSION,
        dbSize,
        leader: s.lead,
        raftIndex: s.lastIndex,
        raftTerm: s.term,
        raftAppliedIndex: s.applied,
        errors: statusErrors,
        dbSizeInUse,
        isLearner: s.conf.learners.includes(ctx.id),
      };
    },

    async hashKV(req, opts) {
      await identity.requireAdmin(opts);
      return ctx.withHeader(state.hashKV(req.revision ?? 0));
    },

    /** Unchecked: the host uses it on shutdown; the gRPC and gateway front-ends check `authorizeAdmin` first. */
    async moveLeader(req) {
      const s = ctx.raftStatus();
      if (s.role !== 'leader') throw errors.notLeader();
      if (!s.conf.voters.includes(req.targetID)) throw errors.badLeaderTransferee();
      // etcd: raft ignores a transfer to the leader itself and the wait for `Lead() == transferee` ends at once.
      if (req.targetID === ctx.id) return {};
      ctx.transferLeadership(req.targetID);
      const deadline = clock.now() + ctx.electionTimeoutMs * 2;
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (ctx.leaderId() === req.targetID) return resolve();
          if (clock.now() > deadline) return reject(errors.timeoutLeaderTransfer());
          clock.setTimer(options.tickMs ?? 100, check);
        };
        check();
      });
      return {};
    },

    async alarm(req, opts) {
      const alarm = req.alarm ?? 'NONE';
      if (req.action === 'GET') {
        await identity.requireUser(opts); // any identified caller (etcd 3.4.43)
        await ctx.barrier();
        return { header: ctx.header(), alarms: state.alarms(alarm) };
      }
      // Raising or disarming an alarm is root only (etcd since 3.4.42).
      await identity.requireAdmin(opts);
      const r = await ctx.propose<{ alarms: AlarmResponse['alarms'] }>(
        { type: 'alarm', action: req.action, memberID: req.memberID ?? 0n, alarm },
        opts,
      );
      return { header: ctx.header(), alarms: r.alarms };
    },

    async snapshot(opts) {
      await identity.requireAdmin(opts);
      await ctx.barrier();
      // Serialized synchronously after the barrier: nothing is applied in between, so the copy is one point in
      // time. The file is etcd 3.4's: its backend as bbolt plus a sha256 trailer (../snapshot-file.ts,
      // ../etcd-snapshot.ts).
      const header = ctx.header();
      const file = await encodeEtcdSnapshotFile(state.backup());
      return { header, file };
    },

    defragment: () => ctx.forceSnapshot(),

    health(timeoutMs = 1000) {
      const s = ctx.nodeStatus();
      if (s.alarms.length > 0 || s.leader === 0n) return Promise.resolve(false);
      return new Promise((resolve) => {
        const timer = clock.setTimer(timeoutMs, () => resolve(false));
        ctx.barrier().then(
          () => {
            timer.cancel();
            resolve(true);
          },
          () => {
            timer.cancel();
            resolve(false);
          },
        );
      });
    },

    testingCorrupt: () => ctx.testingCorrupt(),

    peerHashKV: (revision) => ctx.withHeader(state.hashKV(revision)),

    diskSize,
  };
}
