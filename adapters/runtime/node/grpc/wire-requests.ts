// Requests in: etcd's request messages as proto-loader hands them over (see wire.ts) → edgecd's API types.

import type {
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  WatchFilter,
  WatchRequest,
} from '../../../../src/etcd/types.ts';
import { big, type Int64, num, optBytes } from './wire-values.ts';

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

const EMPTY = new Uint8Array(0);

// Enums by number (the etcd3 package's protos renamed the values; numbers are what travel).
const SORT_ORDERS: readonly SortOrder[] = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGETS: readonly SortTarget[] = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];
const COMPARE_RESULTS: readonly CompareResult[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];
const COMPARE_TARGETS: readonly CompareTarget[] = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'];
const WATCH_FILTERS: readonly WatchFilter[] = ['NOPUT', 'NODELETE'];

function bytes(v: Uint8Array | undefined): Uint8Array {
  return v ?? EMPTY;
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
