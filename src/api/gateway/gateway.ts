// etcd 3.4's HTTP/JSON gateway (grpc-gateway v1) over an EdgeNode, as a web-standard fetch handler built on
// Hono's core: `(request: Request) => Promise<Response>`, runnable on Node, in a Worker or in a page.
// ETCD-NOTES §2 is the behaviour it matches: POST-only /v3/ paths (/v3beta/ rewritten, /v3alpha/ 404), jsonpb
// bodies (./decode.ts, ./encode.ts), `{"error","message","code"}` errors, NDJSON streams (./streams.ts), and the
// client port's /health, /version and /metrics (./endpoints.ts). Beyond etcd: /edgecd/v1/kv/rangestream
// (KV.RangeStream, which etcd v3.7 serves on gRPC only: ./range-stream.ts) and /edgecd/v1/cluster-state.

import { Hono } from 'hono';
import { getPath } from 'hono/utils/url';
import { campaign, leader, proclaim, resign } from '../../concurrency/election.ts';
import { lock, unlock } from '../../concurrency/lock.ts';
import { asService } from '../../concurrency/recipe.ts';
import type { Clock } from '../../env.ts';
import { EtcdError } from '../../etcd/errors.ts';
import { DEFAULT_MAX_REQUEST_BYTES } from '../../etcd/limits.ts';
import type { ResponseHeader } from '../../etcd/types.ts';
import type { EdgeNode, RequestOptions } from '../../server/node.ts';
import { snapshotChunks } from '../../server/snapshot-file.ts';
import { type Admission, type RequestPipeline, requestPipeline } from '../pipeline.ts';
import { authRoutes } from './auth.ts';
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
  streamRefusal,
} from './http.ts';
import { RANGE_STREAM_PATH, serveRangeStream } from './range-stream.ts';
import { serveKeepAlive, serveWatch } from './streams.ts';

export { DEFAULT_MAX_REQUEST_BYTES };

export interface GatewayOptions {
  /**
   * etcd --max-request-bytes: a larger request body (or streamed message) is `request is too large`. Default: the
   * node's (EdgeNode.limits).
   */
  readonly maxRequestBytes?: number;
  /**
   * Series appended to the gateway's own etcd-named gauges on /metrics: the runtime's (Node: disk, peer, gRPC and
   * process series from prom-client, adapters/runtime/node/metrics.ts).
   */
  readonly extraMetrics?: () => Promise<string>;
  /** Paces the /edgecd/v1/cluster-state feed to ≤ 20 snapshots/s; without it the feed follows the reader. */
  readonly clock?: Clock;
}

/** What the host knows about the caller beyond the request itself: the verified client certificate (mTLS). */
export interface CallerIdentity {
  /** The client certificate's CN: etcd's user name when the request carries no token. */
  readonly commonName?: string;
}

export type FetchHandler = (request: Request, identity?: CallerIdentity) => Promise<Response>;

type Unary = (body: MessageReader, opts: RequestOptions) => Promise<string>;

/**
 * The identity a request carries to the node, as etcd's gateway forwards it: the `Authorization` header (the raw
 * token, no `Bearer`) as gRPC metadata `authorization`, and `Grpc-Metadata-Token` as `token` (which etcd checks
 * first); the client certificate's CN; and the request's abort signal.
 */
export function requestOptions(request: Request, identity?: CallerIdentity): RequestOptions {
  const token = request.headers.get('grpc-metadata-token') ?? request.headers.get('authorization');
  const commonName = identity?.commonName;
  return {
    signal: request.signal,
    ...(token !== null ? { token } : {}),
    ...(commonName ? { commonName } : {}),
  };
}

/**
 * What the request pipeline's admission needs from an HTTP request: grpc-gateway forwards `Grpc-Metadata-*` headers
 * as gRPC metadata, so `Grpc-Metadata-Hasleader: true` is etcd's `hasleader`.
 */
function admission(request: Request, serializable = false): Admission {
  return { serializable, requireLeader: request.headers.get('grpc-metadata-hasleader') === 'true' };
}

/** grpc-go's text for an RPC the server does not implement (gRPC code 12, HTTP 501). */
export function unimplemented(rpc: string): EtcdError {
  return new EtcdError('Unimplemented', `method ${rpc} not implemented`);
}

/** The RPCs of etcd 3.4's gateway by path (under /v3), with the request message's Go type for error texts. */
function rpcTable(
  node: RequestPipeline,
): Record<string, readonly [rpc: string, goType: string, call: Unary]> {
  const m = (rpc: string, goType: string, call: Unary) => [rpc, `etcdserverpb.${goType}`, call] as const;
  const x = (rpc: string, fullGoType: string, call: Unary) => [rpc, fullGoType, call] as const;
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
    '/maintenance/status': m('Status', 'StatusRequest', async (_b, o) =>
      encode.statusResponse(await node.status(o)),
    ),
    // The 3.4 proto maps Hash and HashKV to this one path; the gateway registers Hash last, so Hash answers.
    // edgecd's Hash is HashKV's hash of the whole current key space (revision 0).
    '/maintenance/hash': m('Hash', 'HashRequest', async (_b, o) => {
      await node.authorizeMaintenance(o);
      return encode.hashResponse(await node.hashKV({ revision: 0 }, o));
    }),
    '/maintenance/transfer-leadership': m('MoveLeader', 'MoveLeaderRequest', async (b, o) => {
      // Root only, as etcd since 3.4.42 (GHSA-q8m4-xhhv-38mg; 3.4.23 did not check MoveLeader).
      await node.authorizeAdmin(o);
      await node.moveLeader(decodeMoveLeader(b), o);
      return '{}';
    }),
    '/maintenance/alarm': m('Alarm', 'AlarmRequest', async (b, o) =>
      encode.alarmResponse(await node.alarm(decodeAlarm(b), o)),
    ),
    // A snapshot, then the storage drops the log before it (EdgeNode.defragment); etcd replies `{}` (admins only).
    '/maintenance/defragment': m('Defragment', 'DefragmentRequest', async (_b, o) => {
      await node.authorizeMaintenance(o);
      await node.defragment();
      return '{}';
    }),
    // '/maintenance/snapshot' streams: served below (serveSnapshot).
    // Auth (./auth.ts)
    ...authRoutes(node),
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
  // Every RPC goes through the request pipeline (../pipeline.ts), as gRPC's do; /health, /metrics and the
  // cluster-state feed read the node itself.
  const api = requestPipeline(node, { maxRequestBytes: options.maxRequestBytes });
  const limit = api.limits.maxRequestBytes;
  const leaderChanges = new LeaderChangeCounter(node);
  const app = new Hono<{ Bindings: CallerIdentity }>({ getPath: gatewayPath });

  // etcd answers every OPTIONS (CORS preflight) with 200 and the CORS headers, before routing.
  app.options('*', () => new Response(null, { status: 200, headers: CORS_HEADERS }));

  const known = new Set<string>([
    '/v3/watch',
    '/v3/lease/keepalive',
    '/v3/election/observe',
    '/v3/maintenance/snapshot',
  ]);
  for (const [path, [rpc, goType, call]] of Object.entries(rpcTable(api))) {
    known.add(`/v3${path}`);
    app.post(`/v3${path}`, async (c) => {
      const request = c.req.raw;
      try {
        const value = firstValue(await readBody(request, limit));
        const serializable = value instanceof Map && value.get('serializable') === true;
        const refused = api.admit(rpc, admission(request, serializable));
        if (refused) throw refused;
        const body = MessageReader.of(value, goType);
        return gatewayJson(await call(body, requestOptions(request, c.env)));
      } catch (e) {
        return gatewayError(e);
      }
    });
  }

  // The streams: admitted once their first request has decoded, as grpc-gateway sends it before the stream opens.
  app.post('/v3/watch', (c) =>
    serveWatch(api, c.req.raw, admission(c.req.raw), requestOptions(c.req.raw, c.env)),
  );
  app.post('/v3/lease/keepalive', (c) =>
    serveKeepAlive(api, c.req.raw, admission(c.req.raw), requestOptions(c.req.raw, c.env)),
  );
  app.post('/v3/election/observe', (c) =>
    serveObserve(api, c.req.raw, admission(c.req.raw), requestOptions(c.req.raw, c.env)),
  );
  // edgecd's extension: etcd v3.7 maps KV.RangeStream to no gateway path (./range-stream.ts).
  app.post(RANGE_STREAM_PATH, (c) =>
    serveRangeStream(
      api,
      c.req.raw,
      (serializable) => admission(c.req.raw, serializable),
      requestOptions(c.req.raw, c.env),
    ),
  );
  app.post('/v3/maintenance/snapshot', async (c) => {
    const request = c.req.raw;
    try {
      const opts = requestOptions(request, c.env);
      MessageReader.of(firstValue(await readBody(request, limit)), 'etcdserverpb.SnapshotRequest');
      const refused = api.admit('Snapshot', admission(request));
      if (refused) return streamRefusal(refused);
      try {
        await api.authorizeMaintenance(opts);
      } catch (e) {
        return streamRefusal(e);
      }
      return serveSnapshot(await api.snapshot(opts));
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
  const getOnly = (request: Request, handler: () => Response | Promise<Response>) =>
    request.method === 'GET' || request.method === 'HEAD'
      ? handler()
      : plainText('Method Not Allowed', 405, { Allow: 'GET' });
  app.all('/health', (c) => getOnly(c.req.raw, () => healthResponse(node)));
  app.all('/version', (c) => getOnly(c.req.raw, versionResponse));
  app.all('/metrics', async () =>
    metricsResponse(
      (await metricsText(node, leaderChanges)) + (options.extraMetrics ? await options.extraMetrics() : ''),
    ),
  );
  app.get('/edgecd/v1/cluster-state', (c) => clusterStateResponse(node, c.req.raw, options.clock));

  // Everything else (including /v3alpha/…) is Go's http.NotFound from the client port's mux.
  app.notFound(() => plainText('404 page not found', 404));
  app.onError((e) => gatewayError(e));

  return async (request, identity) => app.fetch(request, identity ?? {});
}
