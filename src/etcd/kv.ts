// The KV service's request and response shapes, named after etcd's rpc.proto and mvccpb (v3.4), with camelCase
// fields. Keys and values are bytes; revisions, versions and terms are numbers (< 2^53); lease IDs are bigints
// (0n = no lease). Optional request fields default to the proto3 zero value.

/** mvccpb.KeyValue. */
export interface KeyValue {
  readonly key: Uint8Array;
  /** Revision of the put that created this incarnation of the key (a delete starts a new one). */
  readonly createRevision: number;
  /** Revision of the last modification. */
  readonly modRevision: number;
  /** 1 on creation, +1 per put; reset by a delete. */
  readonly version: number;
  readonly value: Uint8Array;
  /** Attached lease, 0n for none. */
  readonly lease: bigint;
}

export type EventType = 'PUT' | 'DELETE';

/** mvccpb.Event. A DELETE event's kv carries only the key and the deletion revision as modRevision. */
export interface Event {
  readonly type: EventType;
  readonly kv: KeyValue;
  /** The key's value just before this event, when it had one. */
  readonly prevKv?: KeyValue;
}

/** The store fills only `revision`; the server fills the rest on top-level responses (etcd: nested = 0). */
export interface ResponseHeader {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: number;
  readonly raftTerm: number;
}

export type SortOrder = 'NONE' | 'ASCEND' | 'DESCEND';
export type SortTarget = 'KEY' | 'VERSION' | 'CREATE' | 'MOD' | 'VALUE';

export interface RangeRequest {
  readonly key: Uint8Array;
  /** Empty: the single key. `\0`: every key ≥ key. Otherwise: [key, rangeEnd). */
  readonly rangeEnd?: Uint8Array;
  /** 0 = no limit. */
  readonly limit?: number;
  /** ≤ 0 = current revision. */
  readonly revision?: number;
  readonly sortOrder?: SortOrder;
  readonly sortTarget?: SortTarget;
  /** Consistency choice for the server's read path; the store ignores it. */
  readonly serializable?: boolean;
  readonly keysOnly?: boolean;
  readonly countOnly?: boolean;
  /** Filters applied after fetching; 0 = no bound. */
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
  readonly minCreateRevision?: number;
  readonly maxCreateRevision?: number;
}

export interface RangeResponse {
  readonly header: ResponseHeader;
  readonly kvs: readonly KeyValue[];
  /** True when `limit` cut the result short. */
  readonly more: boolean;
  /** Number of keys in the range at the revision, ignoring limit and the min/max filters. */
  readonly count: number;
}

/**
 * etcdserverpb.RangeStreamResponse (etcd v3.7, KV.RangeStream): one chunk of a range. Every chunk carries a disjoint,
 * in-order slice of the result's kvs; only the last carries `header`, `more` and `count` (so that merging all
 * chunks gives Range's answer). docs/range-stream.md.
 */
export interface RangeStreamResponse {
  readonly rangeResponse: RangeStreamChunk;
}

/** A RangeResponse as one RangeStream chunk carries it: the last chunk's `final` is set. */
export interface RangeStreamChunk {
  readonly kvs: readonly KeyValue[];
  /** Only on the last chunk: the header (revision = the one the stream read at), `more` and `count` as Range's. */
  readonly final?: Omit<RangeResponse, 'kvs'>;
}

export interface PutRequest {
  readonly key: Uint8Array;
  readonly value?: Uint8Array;
  readonly lease?: bigint;
  readonly prevKv?: boolean;
  /** Keep the current value (the key must exist; `value` must be empty). */
  readonly ignoreValue?: boolean;
  /** Keep the current lease (the key must exist; `lease` must be 0). */
  readonly ignoreLease?: boolean;
}

export interface PutResponse {
  readonly header: ResponseHeader;
  readonly prevKv?: KeyValue;
}

export interface DeleteRangeRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  readonly prevKv?: boolean;
}

export interface DeleteRangeResponse {
  readonly header: ResponseHeader;
  readonly deleted: number;
  /** Only when `prevKv` was asked for. */
  readonly prevKvs: readonly KeyValue[];
}

export type CompareResult = 'EQUAL' | 'GREATER' | 'LESS' | 'NOT_EQUAL';
export type CompareTarget = 'VERSION' | 'CREATE' | 'MOD' | 'VALUE' | 'LEASE';

/**
 * etcdserverpb.Compare. The proto's `target_union` oneof is flattened: the field matching `target` is used and a
 * missing one counts as its zero value, as in etcd.
 */
export interface Compare {
  readonly result: CompareResult;
  readonly target: CompareTarget;
  readonly key: Uint8Array;
  /** When set, the compare must hold for every key in [key, rangeEnd) (`\0` = every key ≥ key). */
  readonly rangeEnd?: Uint8Array;
  readonly version?: number;
  readonly createRevision?: number;
  readonly modRevision?: number;
  readonly value?: Uint8Array;
  readonly lease?: bigint;
}

/** The proto oneof: exactly one field is set (none set is etcd's "key not found"). */
export interface RequestOp {
  readonly requestRange?: RangeRequest;
  readonly requestPut?: PutRequest;
  readonly requestDeleteRange?: DeleteRangeRequest;
  readonly requestTxn?: TxnRequest;
}

export interface ResponseOp {
  readonly responseRange?: RangeResponse;
  readonly responsePut?: PutResponse;
  readonly responseDeleteRange?: DeleteRangeResponse;
  readonly responseTxn?: TxnResponse;
}

export interface TxnRequest {
  readonly compare?: readonly Compare[];
  readonly success?: readonly RequestOp[];
  readonly failure?: readonly RequestOp[];
}

export interface TxnResponse {
  readonly header: ResponseHeader;
  readonly succeeded: boolean;
  readonly responses: readonly ResponseOp[];
}

export interface CompactionRequest {
  readonly revision: number;
  /** Wait for physical compaction; the in-memory store always compacts at once. */
  readonly physical?: boolean;
}

export interface CompactionResponse {
  readonly header: ResponseHeader;
}

export interface HashKVResponse {
  readonly header: ResponseHeader;
  /** CRC-32C over the key space up to the revision, as etcd's HashKV computes it. */
  readonly hash: number;
  readonly compactRevision: number;
}
