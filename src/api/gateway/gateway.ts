// etcd 3.4's HTTP/JSON gateway (grpc-gateway v1) over an EdgeNode, as a web-standard fetch handler built on
// Hono's core: `(request: Request) => Promise<Response>`, runnable on Node, in a Worker or in a page.
// ETCD-NOTES §2 is the behaviour it matches: POST-only /v3/ paths (/v3beta/ rewritten, /v3alpha/ 404), jsonpb
// bodies (./decode.ts, ./encode.ts), `{"error","message","code"}` errors, NDJSON streams (./streams.ts), and the
// client port's /health, /version and /metrics (./endpoints.ts).

import { Hono } from 'hono';
import { getPath } from 'hono/utils/url';
import { campaign, leader, proclaim, resign } from '../../concurrency/election.ts';
import { lock, unlock } from '../../concurrency/lock.ts';
import { asService } from '../../concurrency/recipe.ts';
import type { Clock } from '../../env.ts';
import type { EdgeNode, RequestOptions } from '../../server/node.ts';
import { snapshotChunks } from '../../server/snapshot-file.ts';
import { EtcdError } from '../errors.ts';
import type { ResponseHeader } from '../types.ts';
import {
  campaignResponse,
  decodeCampaign,
  decodeLeader,
  decodeLock,
  decodeProclaim,
  decodeResign,
  decodeUnlock,
  leaderResponse,
  lockResponse,
  serveObserve,
} from './concurrency.ts';
import {
  decodeAlarm,
  decodeCompaction,
  decodeDeleteRange,
  decodeLeaseGrant,
  decodeLeaseId,
  decodeLeaseTimeToLive,
  decodeMemberAdd,
  decodeMemberId,
  decodeMoveLeader,
  decodePut,
  decodeRange,
  decodeTxn,
  MessageReader,
} from './decode.ts';
import * as encode from './encode.ts';
import {
  clusterStateResponse,
  healthResponse,
  LeaderChangeCounter,
  metricsResponse,
  metricsText,
  versionResponse,
} from './endpoints.ts';
import {
  CORS_HEADERS,
  firstValue,
  gatewayError,
  gatewayJson,
  gatewayStream,
  plainText,
  readBody,
  resultLine,
} from './http.ts';
import { serveKeepAlive, serveWatch } from './streams.ts';

/** etcd --max-request-bytes default: 1.5 MiB. */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** What an RPC handler knows about its caller. */
export interface CallContext {
  /** The gRPC method name, e.g. `Range`, `LeaseGrant`. */
  readonly rpc: string;
  /** The `Authorization` header: etcd's raw auth token (no `Bearer`), undefined when absent. */
  readonly token: string | undefined;
  readonly signal: AbortSignal;
}

/**
 * Hook point for auth (etcd checks the token before serving each RPC). Throw an EtcdError (e.g.
 * `errors.invalidAuthToken()`, `errors.userEmpty()`) to refuse the call. The default accepts everything.
 */
export type Authorize = (ctx: CallContext) => void | Promise<void>;

export interface GatewayOptions {
  /** etcd --max-request-bytes: a larger request body (or streamed message) is `request is too large`. */
  readonly maxRequestBytes?: number;
  /** Supplies the whole /metrics text instead of the gateway's own etcd-named gauges. */
  readonly metrics?: () => string;
  /** Paces the /edgecd/v1/cluster-state feed to ≤ 20 snapshots/s; without it the feed follows the reader. */
  readonly clock?: Clock;
  readonly authorize?: Authorize;
}

export type FetchHandler = (request: Request) => Promise<Response>;

type Unary = (body: MessageReader, opts: RequestOptions, ctx: CallContext) => Promise<string>;

/** grpc-go's text for an RPC the server does not implement (gRPC code 12, HTTP 501). */
export function unimplemented(rpc: string): EtcdError {
  return new EtcdError('Unimplemented', `method ${rpc} not implemented`);
}

/** The RPCs of etcd 3.4's gateway by path (under /v3), with the request message's Go type for error texts. */
function rpcTable(node: EdgeNode): Record<string, readonly [rpc: string, goType: string, call: Unary]> {
  const m = (rpc: string, goType: string, call: Unary) => [rpc, `etcdserverpb.${goType}`, call] as const;
  const x = (rpc: string, fullGoType: string, call: Unary) => [rpc, fullGoType, call] as const;
  const none = (rpc: string, goType: string) =>
    m(rpc, goType, async () => {
      throw unimplemented(rpc);
    });
  const leaseRevoke = m('LeaseRevoke', 'LeaseRevokeRequest', async (b, o) =>
    encode.headerOnly(await node.leaseRevoke(decodeLeaseId(b), o)),
  );
  const leaseTimeToLive = m('LeaseTimeToLive', 'LeaseTimeToLiveRequest', async (b, o) =>
    encode.leaseTimeToLiveResponse(await node.leaseTimeToLive(decodeLeaseTimeToLive(b), o)),
  );
  const leaseLeases = m('LeaseLeases', 'LeaseLeasesRequest', async (_b, o) =>
    encode.leaseLeasesResponse(await node.leaseLeases(o)),
  );
  return {
    // KV
    '/kv/range': m('Range', 'RangeRequest', async (b, o) =>
      encode.rangeResponse(await node.range(decodeRange(b), o)),
    ),
    '/kv/put': m('Put', 'PutRequest', async (b, o) => encode.putResponse(await node.put(decodePut(b), o))),
    '/kv/deleterange': m('DeleteRange', 'DeleteRangeRequest', async (b, o) =>
      encode.deleteRangeResponse(await node.deleteRange(decodeDeleteRange(b), o)),
    ),
    '/kv/txn': m('Txn', 'TxnRequest', async (b, o) => encode.txnResponse(await node.txn(decodeTxn(b), o))),
    '/kv/compaction': m('Compact', 'CompactionRequest', async (b, o) =>
      encode.headerOnly(await node.compact(decodeCompaction(b), o)),
    ),
    // Lease (plus the /v3/kv/lease/* aliases of the 3.4 proto)
    '/lease/grant': m('LeaseGrant', 'LeaseGrantRequest', async (b, o) =>
      encode.leaseGrantResponse(await node.leaseGrant(decodeLeaseGrant(b), o)),
    ),
    '/lease/revoke': leaseRevoke,
    '/kv/lease/revoke': leaseRevoke,
    '/lease/timetolive': leaseTimeToLive,
    '/kv/lease/timetolive': leaseTimeToLive,
    '/lease/leases': leaseLeases,
    '/kv/lease/leases': leaseLeases,
    // Cluster
    '/cluster/member/list': m('MemberList', 'MemberListRequest', async (_b, o) =>
      encode.membersResponse(await node.memberList(o)),
    ),
    '/cluster/member/add': m('MemberAdd', 'MemberAddRequest', async (b, o) =>
      encode.memberAddResponse(await node.memberAdd(decodeMemberAdd(b), o)),
    ),
    '/cluster/member/remove': m('MemberRemove', 'MemberRemoveRequest', async (b, o) =>
      encode.membersResponse(await node.memberRemove(decodeMemberId(b), o)),
    ),
    '/cluster/member/promote': m('MemberPromote', 'MemberPromoteRequest', async (b, o) =>
      encode.membersResponse(await node.memberPromote(decodeMemberId(b), o)),
    ),
    '/cluster/member/update': m('MemberUpdate', 'MemberUpdateRequest', async (b, o) =>
      encode.membersResponse(
        await node.memberUpdate(
          {
            ...decodeMemberId(b),
            peerURLs: b.list('peerURLs', 'string').filter((v): v is string => typeof v === 'string'),
          },
          o,
        ),
      ),
    ),
    // Maintenance
    '/maintenance/status': m('Status', 'StatusRequest', async () =>
      encode.statusResponse(await node.status()),
    ),
    // The 3.4 proto maps Hash and HashKV to this one path; the gateway registers Hash last, so Hash answers.
    // edgecd's Hash is HashKV's hash of the whole current key space (revision 0).
    '/maintenance/hash': m('Hash', 'HashRequest', async (_b, o) =>
      encode.hashResponse(await node.hashKV({ revision: 0 }, o)),
    ),
    '/maintenance/transfer-leadership': m('MoveLeader', 'MoveLeaderRequest', async (b, o) => {
      await node.moveLeader(decodeMoveLeader(b), o);
      return '{}';
    }),
    '/maintenance/alarm': m('Alarm', 'AlarmRequest', async (b, o) =>
      encode.alarmResponse(await node.alarm(decodeAlarm(b), o)),
    ),
    // The in-memory key space has nothing to defragment; etcd replies `{}` on success.
    '/maintenance/defragment': m('Defragment', 'DefragmentRequest', async () => '{}'),
    // '/maintenance/snapshot' streams: served below (serveSnapshot).
    // Auth (arrives later)
    '/auth/enable': none('AuthEnable', 'AuthEnableRequest'),
    '/auth/disable': none('AuthDisable', 'AuthDisableRequest'),
    '/auth/authenticate': none('Authenticate', 'AuthenticateRequest'),
    '/auth/user/add': none('UserAdd', 'AuthUserAddRequest'),
    '/auth/user/get': none('UserGet', 'AuthUserGetRequest'),
    '/auth/user/list': none('UserList', 'AuthUserListRequest'),
    '/auth/user/delete': none('UserDelete', 'AuthUserDeleteRequest'),
    '/auth/user/changepw': none('UserChangePassword', 'AuthUserChangePasswordRequest'),
    '/auth/user/grant': none('UserGrantRole', 'AuthUserGrantRoleRequest'),
    '/auth/user/revoke': none('UserRevokeRole', 'AuthUserRevokeRoleRequest'),
    '/auth/role/add': none('RoleAdd', 'AuthRoleAddRequest'),
    '/auth/role/get': none('RoleGet', 'AuthRoleGetRequest'),
    '/auth/role/list': none('RoleList', 'AuthRoleListRequest'),
    '/auth/role/delete': none('RoleDelete', 'AuthRoleDeleteRequest'),
    '/auth/role/grant': none('RoleGrantPermission', 'AuthRoleGrantPermissionRequest'),
    '/auth/role/revoke': none('RoleRevokePermission', 'AuthRoleRevokePermissionRequest'),
    // v3lock / v3election (src/concurrency/: etcd's server-side recipes); /election/observe streams (below)
    '/lock/lock': x('Lock', 'v3lockpb.LockRequest', async (b, o) => {
      const req = decodeLock(b);
      return lockResponse(await asService(lock(node, req, o)));
    }),
    '/lock/unlock': x('Unlock', 'v3lockpb.UnlockRequest', async (b, o) => {
      const req = decodeUnlock(b);
      return encode.headerOnly(await asService(unlock(node, req, o)));
    }),
    '/election/campaign': x('Campaign', 'v3electionpb.CampaignRequest', async (b, o) => {
      const req = decodeCampaign(b);
      return campaignResponse(await asService(campaign(node, req, o)));
    }),
    '/election/proclaim': x('Proclaim', 'v3electionpb.ProclaimRequest', async (b, o) => {
      const req = decodeProclaim(b);
      return encode.headerOnly(await asService(proclaim(node, req, o)));
    }),
    '/election/leader': x('Leader', 'v3electionpb.LeaderRequest', async (b, o) => {
      const req = decodeLeader(b);
      return leaderResponse(await asService(leader(node, req, o)));
    }),
    '/election/resign': x('Resign', 'v3electionpb.ResignRequest', async (b, o) => {
      const req = decodeResign(b);
      return encode.headerOnly(await asService(resign(node, req, o)));
    }),
  };
}

/**
 * POST /v3/maintenance/snapshot: etcd's server stream as grpc-gateway writes it, one
 * `{"result":{"header":…,"remaining_bytes":"…","blob":"<base64>"}}` line per 32 KiB chunk of the snapshot file.
 */
function serveSnapshot(snap: { readonly header: ResponseHeader; readonly file: Uint8Array }): Response {
  const chunks = snapshotChunks(snap.file);
  const header = encode.header(snap.header);
  return gatewayStream(
    new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          const next = chunks.next();
          if (next.done) return controller.close();
          const { remainingBytes, blob } = next.value;
          controller.enqueue(
            resultLine(
              new encode.JsonWriter()
                .message('header', header)
                .int64('remaining_bytes', remainingBytes)
                .bytes('blob', blob)
                .toString(),
            ),
          );
        },
      },
      { highWaterMark: 0 },
    ),
  );
}

/** /v3beta/… is served as /v3/… (etcd's accessController rewrites the prefix before routing). */
function gatewayPath(request: Request): string {
  const path = getPath(request);
  return path.startsWith('/v3beta/') ? `/v3/${path.slice('/v3beta/'.length)}` : path;
}

/**
 * The client port's HTTP side of an EdgeNode: etcd 3.4's JSON gateway plus /health, /version, /metrics and
 * edgecd's /edgecd/v1/cluster-state feed. Hand it every request that is not gRPC.
 */
export function createGateway(node: EdgeNode, options: GatewayOptions = {}): FetchHandler {
  const limit = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
  const authorize: Authorize = options.authorize ?? (() => {});
  const leaderChanges = new LeaderChangeCounter(node);
  const app = new Hono({ getPath: gatewayPath });

  const context = (request: Request, rpc: string): CallContext => ({
    rpc,
    token: request.headers.get('authorization') ?? undefined,
    signal: request.signal,
  });

  // etcd answers every OPTIONS (CORS preflight) with 200 and the CORS headers, before routing.
  app.options('*', () => new Response(null, { status: 200, headers: CORS_HEADERS }));

  const known = new Set<string>([
    '/v3/watch',
    '/v3/lease/keepalive',
    '/v3/election/observe',
    '/v3/maintenance/snapshot',
  ]);
  for (const [path, [rpc, goType, call]] of Object.entries(rpcTable(node))) {
    known.add(`/v3${path}`);
    app.post(`/v3${path}`, async (c) => {
      const request = c.req.raw;
      try {
        const ctx = context(request, rpc);
        await authorize(ctx);
        const body = MessageReader.of(firstValue(await readBody(request, limit)), goType);
        return gatewayJson(await call(body, { signal: request.signal }, ctx));
      } catch (e) {
        return gatewayError(e);
      }
    });
  }

  const streaming = (rpc: string, serve: typeof serveWatch) => async (request: Request) => {
    try {
      await authorize(context(request, rpc));
    } catch (e) {
      return gatewayError(e);
    }
    return serve(node, request, limit);
  };
  const watch = streaming('Watch', serveWatch);
  const keepAlive = streaming('LeaseKeepAlive', serveKeepAlive);
  app.post('/v3/watch', (c) => watch(c.req.raw));
  app.post('/v3/lease/keepalive', (c) => keepAlive(c.req.raw));
  app.post('/v3/election/observe', (c) => serveObserve(node, c.req.raw, limit, authorize));
  app.post('/v3/maintenance/snapshot', async (c) => {
    const request = c.req.raw;
    try {
      await authorize(context(request, 'Snapshot'));
      MessageReader.of(firstValue(await readBody(request, limit)), 'etcdserverpb.SnapshotRequest');
      return serveSnapshot(await node.snapshot({ signal: request.signal }));
    } catch (e) {
      return gatewayError(e);
    }
  });

  // grpc-gateway: a known path with another method is 405, an unknown /v3/ path 404 (both http.Error text).
  app.all('/v3/*', (c) => {
    return known.has(gatewayPath(c.req.raw))
      ? plainText('Method Not Allowed', 405)
      : plainText('Not Found', 404);
  });

  // etcdhttp: GET only, `Allow: GET` on a 405.
  const getOnly = (request: Request, handler: () => Response) =>
    request.method === 'GET' || request.method === 'HEAD'
      ? handler()
      : plainText('Method Not Allowed', 405, { Allow: 'GET' });
  app.all('/health', (c) => getOnly(c.req.raw, () => healthResponse(node)));
  app.all('/version', (c) => getOnly(c.req.raw, versionResponse));
  app.all('/metrics', async () =>
    metricsResponse(options.metrics ? options.metrics() : await metricsText(node, leaderChanges)),
  );
  app.get('/edgecd/v1/cluster-state', (c) => clusterStateResponse(node, c.req.raw, options.clock));

  // Everything else (including /v3alpha/…) is Go's http.NotFound from the client port's mux.
  app.notFound(() => plainText('404 page not found', 404));
  app.onError((e) => gatewayError(e));

  return async (request) => app.fetch(request);
}
