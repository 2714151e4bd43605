// etcd's Cluster service (v3rpc/member.go over etcdserver's cluster checks): the member list, and membership
// changes proposed as Raft confChanges after etcd's safety checks (strict reconfig, learner readiness).

import { errors } from '../../etcd/errors.ts';
import type { Member } from '../../etcd/types.ts';
import type { EdgeNode } from '../node.ts';
import type { ServiceContext } from './context.ts';

/** The peer URL scheme of a member that cannot listen (a browser tab): it dials the others. */
export const BROWSER_PEER_PREFIX = 'browser:';

export type ClusterService = Pick<
  EdgeNode,
  'memberList' | 'memberAdd' | 'memberRemove' | 'memberPromote' | 'memberUpdate'
>;

export function clusterService(ctx: ServiceContext): ClusterService {
  const { identity, state, options } = ctx;

  /** etcd's IsReadyToAddVotingMember / IsReadyToRemoveVotingMember: "started" = has published its name. */
  const enoughStartedAfter = (change: { add: true } | { remove: bigint }): boolean => {
    if (options.strictReconfigCheck === false) return true;
    let members = 'add' in change ? 1 : 0;
    let started = 0;
    for (const m of state.members()) {
      if (m.isLearner || ('remove' in change && m.ID === change.remove)) continue;
      members++;
      if (m.name !== '') started++;
    }
    if ('add' in change && started === 1 && members === 2) return true;
    return started >= Math.floor(members / 2) + 1;
  };

  return {
    /** Any identified caller (etcd 3.4.43: "allow non-admin to fetch member list and alarms"). */
    async memberList(opts) {
      await identity.requireUser(opts);
      await ctx.barrier();
      return { header: ctx.memberHeader(), members: state.members() };
    },

    async memberAdd(req, opts) {
      // etcd's checkMembershipOperationPermission: the root role, checked before proposing.
      await identity.requireAdmin(opts);
      if (req.peerURLs.some((u) => u.startsWith(BROWSER_PEER_PREFIX))) {
        if (!options.browserLearners) throw errors.browserMembersOff();
        if (!req.isLearner) throw errors.browserMemberNotLearner();
      }
      const check = () => {
        for (const m of state.members()) {
          if (m.peerURLs.some((u) => req.peerURLs.includes(u))) throw errors.peerURLExist();
        }
        if (!req.isLearner && !enoughStartedAfter({ add: true })) throw errors.memberNotEnoughStarted();
      };
      // The checks read this member's copy of the member list: when they pass, check again once caught up with
      // everything committed (a change another member acknowledged a moment ago counts; etcd validates at apply).
      check();
      await ctx.barrier();
      check();
      let id = ctx.randomId();
      while (state.member(id) || state.isRemoved(id)) id = ctx.randomId();
      const list = await ctx.proposeConfChange(req.isLearner ? 'addLearner' : 'addNode', id, req.peerURLs);
      const member = list.find((m) => m.ID === id) ?? {
        ID: id,
        name: '',
        peerURLs: [...req.peerURLs],
        clientURLs: [],
        isLearner: !!req.isLearner,
      };
      return { header: ctx.memberHeader(), member, members: list };
    },

    async memberRemove(req, opts) {
      await identity.requireAdmin(opts);
      const check = () => {
        const target = state.member(req.ID);
        if (!target) throw errors.memberNotFound();
        if (!target.isLearner && !enoughStartedAfter({ remove: req.ID }))
          throw errors.memberNotEnoughStarted();
      };
      check();
      await ctx.barrier(); // see memberAdd
      check();
      const list = await ctx.proposeConfChange('removeNode', req.ID, []);
      return { header: ctx.memberHeader(), members: list };
    },

    async memberPromote(req, opts) {
      await identity.requireAdmin(opts);
      let m = state.member(req.ID);
      // Not (or no longer) a learner in this member's copy of the list: ask again once caught up with everything
      // committed — a learner added through another member a moment ago counts (see memberAdd).
      if (!m?.isLearner) {
        await ctx.barrier();
        m = state.member(req.ID);
      }
      if (!m) throw errors.memberNotFound();
      if (!m.isLearner) throw errors.memberNotLearner();
      const status = ctx.raftStatus();
      if (status.role !== 'leader' && status.lead !== 0n && options.promoteViaLeader) {
        await options.promoteViaLeader(status.lead, req.ID);
        await ctx.barrier();
        return { header: ctx.memberHeader(), members: state.members() };
      }
      const pr = status.progress.get(req.ID);
      // etcd's isLearnerReady: the learner's match must be within 90% of the leader's.
      if (status.role === 'leader' && (!pr || pr.match < 0.9 * status.commit)) throw errors.learnerNotReady();
      const list = await ctx.proposeConfChange('addNode', req.ID, []);
      return { header: ctx.memberHeader(), members: list };
    },

    async memberUpdate(req, opts) {
      await identity.requireAdmin(opts);
      const check = () => {
        if (!state.member(req.ID)) throw errors.memberNotFound();
        if (req.peerURLs.length === 0) throw errors.memberBadURLs();
        for (const m of state.members()) {
          if (m.ID !== req.ID && m.peerURLs.some((u) => req.peerURLs.includes(u)))
            throw errors.peerURLExist();
        }
      };
      check();
      await ctx.barrier(); // see memberAdd (and the state machine checks again when applying)
      check();
      const r = await ctx.propose<{ members: Member[] }>(
        { type: 'updateMember', id: req.ID, peerURLs: [...req.peerURLs] },
        opts,
      );
      return { header: ctx.memberHeader(), members: r.members };
    },
  };
}
