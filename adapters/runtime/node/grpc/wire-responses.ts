// Responses out: edgecd's API types → plain objects for proto-loader to encode (see wire.ts), zero values left out.

import type {
  DeleteRangeResponse,
  Event,
  KeyValue,
  Member,
  PutResponse,
  RangeResponse,
  RangeStreamResponse,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnResponse,
  WatchResponse,
} from '../../../../src/etcd/types.ts';
import { i64, optBytes, type WireMessage } from './wire-values.ts';

function flag(v: boolean | undefined): true | undefined {
  return v ? true : undefined;
}

// The last cluster and member IDs as wire values: every response header carries the same two, and converting a
// bigint on each one is a measurable part of a put.
let lastClusterId = 0n;
let lastClusterText: ReturnType<typeof i64>;
let lastMemberId = 0n;
let lastMemberText: ReturnType<typeof i64>;

export function header(h: ResponseHeader | undefined): WireMessage | undefined {
  if (!h) return undefined;
  if (h.clusterId !== lastClusterId) {
    lastClusterId = h.clusterId;
    lastClusterText = i64(h.clusterId);
  }
  if (h.memberId !== lastMemberId) {
    lastMemberId = h.memberId;
    lastMemberText = i64(h.memberId);
  }
  return {
    cluster_id: lastClusterText,
    member_id: lastMemberText,
    revision: i64(h.revision),
    raft_term: i64(h.raftTerm),
  };
}

export function keyValue(kv: KeyValue | undefined): WireMessage | undefined {
  if (!kv) return undefined;
  return {
    key: optBytes(kv.key),
    create_revision: i64(kv.createRevision),
    mod_revision: i64(kv.modRevision),
    version: i64(kv.version),
    value: optBytes(kv.value),
    lease: i64(kv.lease),
  };
}

function keyValues(kvs: readonly KeyValue[] | undefined): WireMessage[] | undefined {
  return kvs && kvs.length > 0 ? kvs.map((kv) => keyValue(kv) as WireMessage) : undefined;
}

export function rangeResponse(r: RangeResponse): WireMessage {
  return { header: header(r.header), kvs: keyValues(r.kvs), more: flag(r.more), count: i64(r.count) };
}

/** One KV.RangeStream chunk: kvs on every chunk, header, more and count on the last one only. */
export function rangeStreamResponse(r: RangeStreamResponse): WireMessage {
  const { kvs, final } = r.rangeResponse;
  if (!final) return { range_response: { kvs: keyValues(kvs) } };
  return { range_response: rangeResponse({ ...final, kvs }) };
}

export function putResponse(r: PutResponse): WireMessage {
  return { header: header(r.header), prev_kv: keyValue(r.prevKv) };
}

export function deleteRangeResponse(r: DeleteRangeResponse): WireMessage {
  return { header: header(r.header), deleted: i64(r.deleted), prev_kvs: keyValues(r.prevKvs) };
}

function responseOp(r: ResponseOp): WireMessage {
  if (r.responseRange) return { response_range: rangeResponse(r.responseRange) };
  if (r.responsePut) return { response_put: putResponse(r.responsePut) };
  if (r.responseDeleteRange) return { response_delete_range: deleteRangeResponse(r.responseDeleteRange) };
  if (r.responseTxn) return { response_txn: txnResponse(r.responseTxn) };
  return {};
}

export function txnResponse(r: TxnResponse): WireMessage {
  return {
    header: header(r.header),
    succeeded: flag(r.succeeded),
    responses: r.responses.length > 0 ? r.responses.map(responseOp) : undefined,
  };
}

function event(e: Event): WireMessage {
  return { type: e.type === 'DELETE' ? 1 : undefined, kv: keyValue(e.kv), prev_kv: keyValue(e.prevKv) };
}

export function watchResponse(r: WatchResponse): WireMessage {
  return {
    header: header(r.header),
    watch_id: i64(r.watchId),
    created: flag(r.created),
    canceled: flag(r.canceled),
    compact_revision: i64(r.compactRevision),
    cancel_reason: r.cancelReason || undefined,
    fragment: flag(r.fragment),
    events: r.events.length > 0 ? r.events.map(event) : undefined,
  };
}

export function member(m: Member): WireMessage {
  return {
    ID: i64(m.ID),
    name: m.name || undefined,
    peerURLs: m.peerURLs.length > 0 ? [...m.peerURLs] : undefined,
    clientURLs: m.clientURLs.length > 0 ? [...m.clientURLs] : undefined,
    isLearner: flag(m.isLearner),
  };
}

export function members(list: readonly Member[]): WireMessage[] | undefined {
  return list.length > 0 ? list.map(member) : undefined;
}

export function statusResponse(r: StatusResponse): WireMessage {
  return {
    header: header(r.header),
    version: r.version || undefined,
    dbSize: i64(r.dbSize),
    leader: i64(r.leader),
    raftIndex: i64(r.raftIndex),
    raftTerm: i64(r.raftTerm),
    raftAppliedIndex: i64(r.raftAppliedIndex),
    errors: r.errors.length > 0 ? [...r.errors] : undefined,
    dbSizeInUse: i64(r.dbSizeInUse),
    isLearner: flag(r.isLearner),
  };
}
