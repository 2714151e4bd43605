// Translation between etcd's protobuf messages as @grpc/proto-loader hands them over (snake_case proto field
// names, int64 as decimal strings, enums as numbers, bytes as Buffer, absent fields undefined) and edgecd's API
// types (camelCase, revisions as numbers, IDs as bigints, Uint8Array bytes). Outgoing messages leave zero values
// out, as proto3 does on the wire (etcdctl's `-w json` omits them either way).

import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  KeyValue,
  Member,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  RequestOp,
  ResponseHeader,
  ResponseOp,
  SortOrder,
  SortTarget,
  StatusResponse,
  TxnRequest,
  TxnResponse,
  WatchFilter,
  WatchRequest,
  WatchResponse,
} from '../../../../src/api/types.ts';

/** proto-loader's int64/uint64 (`longs: String`). */
export type Int64 = string;

export interface WireHeader {
  cluster_id?: Int64;
  member_id?: Int64;
  revision?: Int64;
  raft_term?: Int64;
}

export interface WireKeyValue {
  key?: Uint8Array;
  create_revision?: Int64;
  mod_revision?: Int64;
  version?: Int64;
  value?: Uint8Array;
  lease?: Int64;
}

export interface WireRangeRequest {
  key?: Uint8Array;
  range_end?: Uint8Array;
  limit?: Int64;
  revision?: Int64;
  sort_order?: number;
  sort_target?: number;
  serializable?: boolean;
  keys_only?: boolean;
  count_only?: boolean;
  min_mod_revision?: Int64;
  max_mod_revision?: Int64;
  min_create_revision?: Int64;
  max_create_revision?: Int64;
}

export interface WirePutRequest {
  key?: Uint8Array;
  value?: Uint8Array;
  lease?: Int64;
  prev_kv?: boolean;
  ignore_value?: boolean;
  ignore_lease?: boolean;
}

export interface WireDeleteRangeRequest {
  key?: Uint8Array;
  range_end?: Uint8Array;
  prev_kv?: boolean;
}

export interface WireCompare {
  result?: number;
  target?: number;
  key?: Uint8Array;
  version?: Int64;
  create_revision?: Int64;
  mod_revision?: Int64;
  value?: Uint8Array;
  lease?: Int64;
  range_end?: Uint8Array;
}

export interface WireRequestOp {
  request_range?: WireRangeRequest;
  request_put?: WirePutRequest;
  request_delete_range?: WireDeleteRangeRequest;
  request_txn?: WireTxnRequest;
}

export interface WireTxnRequest {
  compare?: WireCompare[];
  success?: WireRequestOp[];
  failure?: WireRequestOp[];
}

export interface WireWatchRequest {
  create_request?: {
    key?: Uint8Array;
    range_end?: Uint8Array;
    start_revision?: Int64;
    progress_notify?: boolean;
    filters?: number[];
    prev_kv?: boolean;
    watch_id?: Int64;
    fragment?: boolean;
  };
  cancel_request?: { watch_id?: Int64 };
  progress_request?: Record<string, never>;
}

/** Any outgoing message: a plain object tree proto-loader's `fromObject` accepts. */
export type WireMessage = { [field: string]: unknown };

const EMPTY = new Uint8Array(0);

// Enums by number (the etcd3 package's protos renamed the values; numbers are what travel).
const SORT_ORDERS: readonly SortOrder[] = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGETS: readonly SortTarget[] = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];
const COMPARE_RESULTS: readonly CompareResult[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];
const COMPARE_TARGETS: readonly CompareTarget[] = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'];
const WATCH_FILTERS: readonly WatchFilter[] = ['NOPUT', 'NODELETE'];

/** An int64 field as a number (revisions, versions, TTLs, limits: all < 2^53 in practice). */
export function num(v: Int64 | number | undefined): number {
  return v === undefined || v === '' ? 0 : Number(v);
}

/** An int64/uint64 ID field as a bigint (lease, member and cluster IDs). */
export function big(v: Int64 | undefined): bigint {
  return v === undefined || v === '' ? 0n : BigInt(v);
}

function bytes(v: Uint8Array | undefined): Uint8Array {
  return v ?? EMPTY;
}

function optBytes(v: Uint8Array | undefined): Uint8Array | undefined {
  return v && v.length > 0 ? v : undefined;
}

/**
 * An outgoing int64 or uint64 as protobufjs takes it fastest: a number when exact, else its 64 bits as a Long-like
 * object (Long.fromValue reads `low`/`high`; a decimal string costs a Long.fromString per field, which was a tenth
 * of a member's CPU fanning out watch events). Omitted when zero.
 */
export interface LongBits {
  readonly low: number;
  readonly high: number;
  readonly unsigned: boolean;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function i64(v: number | bigint | undefined): number | LongBits | undefined {
  if (v === undefined || v === 0 || v === 0n) return undefined;
  if (typeof v === 'number') return v;
  if (v <= MAX_SAFE && v >= -MAX_SAFE) return Number(v);
  const bits = BigInt.asUintN(64, v);
  return { low: Number(bits & 0xffffffffn) | 0, high: Number(bits >> 32n) | 0, unsigned: v > 0n };
}

function flag(v: boolean | undefined): true | undefined {
  return v ? true : undefined;
}

/**
 * Drops properties whose value is undefined: requests are encoded into Raft proposals, and an encoder may turn
 * an undefined field into null (which the store does not expect).
 */
function defined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function enumName<T extends string>(names: readonly T[], v: number | undefined): T | undefined {
  return v === undefined ? undefined : names[v];
}

// Requests in.

export function rangeRequest(w: WireRangeRequest): RangeRequest {
  return defined({
    key: bytes(w.key),
    rangeEnd: optBytes(w.range_end),
    limit: num(w.limit),
    revision: num(w.revision),
    sortOrder: enumName(SORT_ORDERS, w.sort_order),
    sortTarget: enumName(SORT_TARGETS, w.sort_target),
    serializable: w.serializable ?? false,
    keysOnly: w.keys_only ?? false,
    countOnly: w.count_only ?? false,
    minModRevision: num(w.min_mod_revision),
    maxModRevision: num(w.max_mod_revision),
    minCreateRevision: num(w.min_create_revision),
    maxCreateRevision: num(w.max_create_revision),
  });
}

export function putRequest(w: WirePutRequest): PutRequest {
  return {
    key: bytes(w.key),
    value: bytes(w.value),
    lease: big(w.lease),
    prevKv: w.prev_kv ?? false,
    ignoreValue: w.ignore_value ?? false,
    ignoreLease: w.ignore_lease ?? false,
  };
}

export function deleteRangeRequest(w: WireDeleteRangeRequest): DeleteRangeRequest {
  return defined({ key: bytes(w.key), rangeEnd: optBytes(w.range_end), prevKv: w.prev_kv ?? false });
}

function compare(w: WireCompare): Compare {
  return defined({
    result: enumName(COMPARE_RESULTS, w.result ?? 0) ?? 'EQUAL',
    target: enumName(COMPARE_TARGETS, w.target ?? 0) ?? 'VERSION',
    key: bytes(w.key),
    rangeEnd: optBytes(w.range_end),
    version: num(w.version),
    createRevision: num(w.create_revision),
    modRevision: num(w.mod_revision),
    value: bytes(w.value),
    lease: big(w.lease),
  });
}

function requestOp(w: WireRequestOp): RequestOp {
  if (w.request_range) return { requestRange: rangeRequest(w.request_range) };
  if (w.request_put) return { requestPut: putRequest(w.request_put) };
  if (w.request_delete_range) return { requestDeleteRange: deleteRangeRequest(w.request_delete_range) };
  if (w.request_txn) return { requestTxn: txnRequest(w.request_txn) };
  return {};
}

export function txnRequest(w: WireTxnRequest): TxnRequest {
  return {
    compare: (w.compare ?? []).map(compare),
    success: (w.success ?? []).map(requestOp),
    failure: (w.failure ?? []).map(requestOp),
  };
}

/** undefined for an empty WatchRequest (no oneof member set): etcd ignores those. */
export function watchRequest(w: WireWatchRequest): WatchRequest | undefined {
  const c = w.create_request;
  if (c) {
    return {
      createRequest: defined({
        key: bytes(c.key),
        rangeEnd: optBytes(c.range_end),
        startRevision: num(c.start_revision),
        progressNotify: c.progress_notify ?? false,
        filters: (c.filters ?? []).map((f) => WATCH_FILTERS[f]).filter((f) => f !== undefined),
        prevKv: c.prev_kv ?? false,
        watchId: num(c.watch_id),
        fragment: c.fragment ?? false,
      }),
    };
  }
  if (w.cancel_request) return { cancelRequest: { watchId: num(w.cancel_request.watch_id) } };
  if (w.progress_request) return { progressRequest: {} };
  return undefined;
}

// Responses out.

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
