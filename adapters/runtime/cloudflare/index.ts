// edgecd on Cloudflare: the Worker (etcd's JSON gateway at /v3/*) and the Durable Object class hosting one member.
// wrangler.toml's `main` is ./worker.ts; see ./config.ts for membership and the per-runtime defaults.

export { AlarmClock, type AlarmClockOptions, type AlarmStorage } from './clock.ts';
export {
  bootstrapMembers,
  type ClusterConfig,
  type ClusterMember,
  clusterConfig,
  clusterIdOf,
  DEFAULT_ELECTION_TIMEOUT_MS,
  DEFAULT_MEMBER_NAMES,
  DEFAULT_QUOTA_BYTES,
  DEFAULT_SNAPSHOT_COUNT,
  DEFAULT_TICK_MS,
  type EdgecdVars,
  memberId,
} from './config.ts';
export {
  durableObjectDeliver,
  type EdgecdEnv,
  EdgecdMember,
  type MemberNamespace,
  type MemberStatus,
  type MemberStub,
  memberStub,
} from './member.ts';
export { app, default } from './worker.ts';
