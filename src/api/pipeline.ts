// One request pipeline for both API surfaces — the gRPC services (adapters/runtime/node/grpc/) and the JSON
// gateway (./gateway/) — so that what etcd's v3rpc layer does in front of its server happens once, before anything
// is proposed, and one bad request gets one answer on every surface. A surface decodes its wire into src/etcd's
// types and talks to the pipeline, never to the node directly:
//   admission   etcd's interceptors (v3rpc/interceptor.go): a learner refuses what etcd's learner refuses
//               (./learner.ts); a caller that asked for a leader (`hasleader` metadata) is told "no leader" when
//               there is none; a proposal over --max-request-bytes on the wire is "request is too large" (the
//               member checks its encoded proposal again before Raft sees it, as etcd does).
//   validation  etcd's KV checks (v3rpc/key.go, in src/mvcc/validate.ts): an empty key, a value or lease given
//               with ignore_*, too many txn operations, a key put twice in one txn; a sort order or revision
//               filters RangeStream cannot serve (etcd v3.7). The store runs them again at
//               apply, for requests that reach it by another road (an embedder calling EdgeNode directly).
//   auth        etcd's authMaintenanceServer check for Defragment, Snapshot, Hash and HashKV, with its texts; the
//               other auth checks are the node's (src/server/identity.ts), made before proposing or at apply.

import { EtcdError, errors } from '../etcd/errors.ts';
import type { RequestLimits } from '../etcd/limits.ts';
import {
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkRangeStreamRequest,
  checkTxnRequest,
} from '../mvcc/validate.ts';
import type { EdgeNode, RequestOptions } from '../server/node.ts';
import { learnerMayServe } from './learner.ts';

/**
 * The RPCs that become Raft proposals and so meet the request-size limit (etcd checks the proposal's size when
 * proposing). By method name without the service, as in `admit`.
 */
const PROPOSED: ReadonlySet<string> = new Set([
  'Put',
  'DeleteRange',
  'Txn',
  'Compact',
  'LeaseGrant',
  'LeaseRevoke',
  'AuthEnable',
  'AuthDisable',
  'Authenticate',
  'UserAdd',
  'UserDelete',
  'UserChangePassword',
  'UserGrantRole',
  'UserRevokeRole',
  'RoleAdd',
  'RoleDelete',
  'RoleGrantPermission',
  'RoleRevokePermission',
]);

/** What a surface knows about a call besides its request. */
export interface Admission {
  /** The request's `serializable` flag (a learner serves serializable ranges). */
  readonly serializable?: boolean;
  /** etcd's `hasleader` metadata (clientv3.WithRequireLeader): fail at once rather than wait for a leader. */
  readonly requireLeader?: boolean;
  /** The request's encoded size on the surface's wire, when the surface measured it. */
  readonly bytes?: number;
}

/**
 * The node as the API surfaces see it: the KV calls validate their request before the node proposes or reads it;
 * `admit` and `authorizeMaintenance` are the pipeline's other steps, which the surfaces run where etcd runs them.
 */
export interface RequestPipeline extends EdgeNode {
  /** The limits in force: the node's, unless the surface was given others. */
  readonly limits: RequestLimits;
  /**
   * Admission for one call of `rpc` (the method name without its service: `Range`, `Watch`, `LeaseKeepAlive`, …),
   * before its request is served: the refusal etcd would answer with, or undefined.
   */
  admit(rpc: string, admission?: Admission): EtcdError | undefined;
  /**
   * etcd's authMaintenanceServer check (Defragment, Snapshot, Hash, HashKV). It returns the auth store's error as
   * is, not as an rpctypes error, so callers see code 2 (Unknown; HTTP 500) with the auth package's text:
   * `auth: permission denied`, `auth: user name is empty`, `auth: invalid auth token`.
   */
  authorizeMaintenance(opts: RequestOptions): Promise<void>;
}

/** The auth package's own texts for the rpctypes errors an admin check can fail with. */
const AUTH_PACKAGE_TEXT: Readonly<Record<string, string>> = {
  'etcdserver: permission denied': 'auth: permission denied',
  'etcdserver: user name is empty': 'auth: user name is empty',
  'etcdserver: invalid auth token': 'auth: invalid auth token',
};

/** A node call whose request is checked first; a refused request becomes a rejected promise, as the call's own. */
function checked<Req, Res>(
  check: (req: Req) => void,
  call: (req: Req, opts?: RequestOptions) => Promise<Res>,
): (req: Req, opts?: RequestOptions) => Promise<Res> {
  return (req, opts) => {
    try {
      check(req);
    } catch (e) {
      return Promise.reject(e);
    }
    return call(req, opts);
  };
}

/**
 * The pipeline in front of `node`. `overrides` are a surface's own limits (its --max-request-bytes option); absent
 * ones are the node's. Every call the pipeline does not check is the node's own (the pipeline delegates to it by
 * prototype, so it stays an EdgeNode whatever the node adds).
 */
export function requestPipeline(node: EdgeNode, overrides: Partial<RequestLimits> = {}): RequestPipeline {
  const limits: RequestLimits = {
    maxRequestBytes: overrides.maxRequestBytes ?? node.limits.maxRequestBytes,
    maxTxnOps: overrides.maxTxnOps ?? node.limits.maxTxnOps,
  };
  const steps: Pick<
    RequestPipeline,
    'limits' | 'admit' | 'authorizeMaintenance' | 'range' | 'rangeStream' | 'put' | 'deleteRange' | 'txn'
  > = {
    limits,
    admit(rpc, admission = {}) {
      const s = node.serving();
      if (s.learner && !learnerMayServe(rpc, !!admission.serializable))
        return errors.notSupportedForLearner();
      if (admission.requireLeader && s.leader === 0n) return errors.noLeader();
      if (admission.bytes !== undefined && admission.bytes > limits.maxRequestBytes && PROPOSED.has(rpc))
        return errors.requestTooLarge();
      return undefined;
    },
    async authorizeMaintenance(opts) {
      try {
        await node.authorizeAdmin(opts);
      } catch (e) {
        const text = e instanceof EtcdError ? AUTH_PACKAGE_TEXT[e.message] : undefined;
        throw text ? EtcdError.unknown(text) : e;
      }
    },
    range: checked(checkRangeRequest, (req, opts) => node.range(req, opts)),
    // A refused request fails the stream's first next(), before any chunk (etcd returns before sending one).
    async *rangeStream(req, opts) {
      checkRangeStreamRequest(req);
      yield* node.rangeStream(req, opts);
    },
    put: checked(checkPutRequest, (req, opts) => node.put(req, opts)),
    deleteRange: checked(checkDeleteRequest, (req, opts) => node.deleteRange(req, opts)),
    txn: checked(
      (req) => checkTxnRequest(req, limits.maxTxnOps),
      (req, opts) => node.txn(req, opts),
    ),
  };
  return Object.assign(Object.create(node) as EdgeNode, steps);
}
