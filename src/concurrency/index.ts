// etcd 3.4's server-side v3lock and v3election services as portable functions over an EdgeNode: the gRPC
// services (adapters/runtime/node/grpc/{lock,election}.ts), the JSON gateway (/v3/lock/*, /v3/election/*) and the
// client library (src/client/) all run these recipes.

export {
  type CampaignRequest,
  type CampaignResponse,
  campaign,
  type HeaderResponse,
  type LeaderKey,
  type LeaderRequest,
  type LeaderResponse,
  leader,
  missingLeaderKey,
  observe,
  type ProclaimRequest,
  proclaim,
  type ResignRequest,
  resign,
} from './election.ts';
export {
  type AcquiredLock,
  type LockRequest,
  type LockResponse,
  lock,
  sessionExpired,
  type UnlockRequest,
  type UnlockResponse,
  unlock,
} from './lock.ts';
export { canceled, candidateKey, DEFAULT_SESSION_TTL, keyPrefix, toBytes } from './recipe.ts';
