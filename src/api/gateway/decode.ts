// JSON request bodies → edgecd request objects, with jsonpb's rules as etcd 3.4's gateway applies them:
// a field may be spelled with its proto name (`range_end`) or its JSON name (`rangeEnd`); unknown fields and
// `null` values are ignored; bytes are standard base64; int64/uint64 accept numbers or decimal strings; enums
// accept names or numbers. A value of the wrong type fails with Go's text, gRPC code 3 (HTTP 400).

import { EtcdError } from '../../etcd/errors.ts';
import type {
  AlarmType,
  CompactionRequest,
  Compare,
  CompareResult,
  CompareTarget,
  DeleteRangeRequest,
  LeaseGrantRequest,
  LeaseTimeToLiveRequest,
  MemberAddRequest,
  PutRequest,
  RangeRequest,
  RequestOp,
  SortOrder,
  SortTarget,
  TxnRequest,
  WatchCreateRequest,
  WatchFilter,
  WatchRequest,
} from '../../etcd/types.ts';
import { Base64Error, decodeBase64 } from './base64.ts';
import { JsonNumber, type JsonObject, JsonSyntaxError, type JsonValue, scanValue } from './json-scan.ts';

export function invalidArgument(message: string): EtcdError {
  return new EtcdError('InvalidArgument', message);
}

/** encoding/json's name for the JSON type of a value, as in `cannot unmarshal string into …`. */
function jsonKind(v: JsonValue): string {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'string') return 'string';
  if (v instanceof JsonNumber) return `number ${v.text}`;
  if (Array.isArray(v)) return 'array';
  return 'object';
}

function typeError(v: JsonValue, goType: string): EtcdError {
  const kind = v instanceof JsonNumber ? 'number' : jsonKind(v);
  return invalidArgument(`json: cannot unmarshal ${kind} into Go value of type ${goType}`);
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

type IntType = 'int64' | 'uint64' | 'int32' | 'uint32';
const INT_BOUNDS: Record<IntType, readonly [bigint, bigint]> = {
  int64: [INT64_MIN, INT64_MAX],
  uint64: [0n, UINT64_MAX],
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
};

/** jsonpb: integers arrive as numbers or as decimal strings (the quotes are stripped, then parsed as JSON). */
function parseInteger(v: JsonValue, type: IntType): bigint {
  let num: JsonValue;
  if (v instanceof JsonNumber) num = v;
  else if (typeof v === 'string') num = reparse(v);
  else throw typeError(v, type);
  if (!(num instanceof JsonNumber)) throw typeError(num, type);
  const text = num.text;
  const [min, max] = INT_BOUNDS[type];
  if (!/^-?(0|[1-9]\d*)$/.test(text) || BigInt(text) < min || BigInt(text) > max)
    throw invalidArgument(`json: cannot unmarshal number ${text} into Go value of type ${type}`);
  return BigInt(text);
}

/** json.Unmarshal of a quoted integer's inner text, with Go's errors. */
function reparse(text: string): JsonValue {
  const bytes = new TextEncoder().encode(text);
  let r: ReturnType<typeof scanValue>;
  try {
    r = scanValue(bytes, 0, true);
  } catch (e) {
    if (e instanceof JsonSyntaxError && e.message === 'unexpected EOF')
      throw invalidArgument('unexpected end of JSON input');
    if (e instanceof JsonSyntaxError) throw invalidArgument(e.message);
    throw e;
  }
  if (r.kind !== 'value') throw invalidArgument('unexpected end of JSON input');
  let i = r.end;
  while (i < bytes.length && ' \t\r\n'.includes(String.fromCharCode(bytes[i]))) i++;
  if (i < bytes.length)
    throw invalidArgument(`invalid character '${String.fromCharCode(bytes[i])}' after top-level value`);
  return r.value;
}

/** camelCase JSON name of a proto field name (protoc's lowerCamel: `range_end` → `rangeEnd`, `ID` → `ID`). */
function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** One JSON object read as a proto message. */
export class MessageReader {
  private readonly obj: JsonObject;
  /** The Go type of the message, for error texts (`etcdserverpb.RangeRequest`). */
  readonly goType: string;

  constructor(obj: JsonObject, goType: string) {
    this.obj = obj;
    this.goType = goType;
  }

  static of(v: JsonValue | undefined, goType: string): MessageReader {
    if (v === undefined || v === null) return new MessageReader(new Map(), goType);
    if (!(v instanceof Map)) throw typeError(v, `map[string]json.RawMessage`);
    return new MessageReader(v, goType);
  }

  /** The raw value of a field by proto name or JSON name; null counts as absent. */
  raw(name: string): JsonValue | undefined {
    let v = this.obj.get(name);
    if (v === undefined || v === null) {
      const alt = jsonName(name);
      if (alt !== name) v = this.obj.get(alt);
    }
    return v === null ? undefined : v;
  }

  bytes(name: string): Uint8Array | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return bytesValue(v);
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw typeError(v, 'string');
    return v;
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw typeError(v, 'bool');
    return v;
  }

  /** An integer field carried as a JS number (revisions, counts, TTLs: all < 2^53 in practice). */
  number(name: string, type: IntType = 'int64'): number | undefined {
    const v = this.raw(name);
    return v === undefined ? undefined : Number(parseInteger(v, type));
  }

  /** An int64/uint64 field carried as a bigint (lease and member IDs). */
  bigint(name: string, type: 'int64' | 'uint64' = 'int64'): bigint | undefined {
    const v = this.raw(name);
    return v === undefined ? undefined : parseInteger(v, type);
  }

  enumValue<N extends string>(name: string, names: readonly N[], enumType: string): N | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    return enumOf(v, names, enumType);
  }

  message(name: string, goType: string): MessageReader | undefined {
    const v = this.raw(name);
    return v === undefined ? undefined : MessageReader.of(v, goType);
  }

  list(name: string, goElemType: string): JsonValue[] {
    const v = this.raw(name);
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw typeError(v, `[]${goElemType}`);
    return v;
  }

  messages(name: string, goType: string): MessageReader[] {
    return this.list(name, `*${goType}`).map((e) => MessageReader.of(e, goType));
  }
}

function bytesValue(v: JsonValue): Uint8Array {
  if (typeof v !== 'string') throw typeError(v, '[]uint8');
  try {
    return decodeBase64(v);
  } catch (e) {
    if (e instanceof Base64Error) throw invalidArgument(e.message);
    throw e;
  }
}

function enumOf<N extends string>(v: JsonValue, names: readonly N[], enumType: string): N {
  if (typeof v === 'string') {
    if ((names as readonly string[]).includes(v)) return v as N;
    throw invalidArgument(`unknown value ${JSON.stringify(v)} for enum ${enumType}`);
  }
  const n = Number(parseInteger(v, 'int32'));
  const name = names[n];
  // Numbers outside the enum are legal proto3 but have no name here; reject them rather than guess.
  if (name === undefined) throw invalidArgument(`unknown value ${n} for enum ${enumType}`);
  return name;
}

// Enums in proto value order (index = number).
const SORT_ORDERS: readonly SortOrder[] = ['NONE', 'ASCEND', 'DESCEND'];
const SORT_TARGETS: readonly SortTarget[] = ['KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE'];
const COMPARE_RESULTS: readonly CompareResult[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL'];
const COMPARE_TARGETS: readonly CompareTarget[] = ['VERSION', 'CREATE', 'MOD', 'VALUE', 'LEASE'];
const FILTER_TYPES: readonly WatchFilter[] = ['NOPUT', 'NODELETE'];
export const ALARM_ACTIONS = ['GET', 'ACTIVATE', 'DEACTIVATE'] as const;
export const ALARM_TYPES: readonly AlarmType[] = ['NONE', 'NOSPACE', 'CORRUPT'];

const EMPTY = new Uint8Array(0);

/**
 * Drops absent (undefined) fields. Requests travel through the Raft log, whose encoding turns `undefined` into
 * `null`, and the apply path treats only `undefined` as "not set".
 */
function defined<T extends object>(obj: T): T {
  for (const key of Object.keys(obj) as (keyof T)[]) if (obj[key] === undefined) delete obj[key];
  return obj;
}

// Requests. Absent fields stay undefined (the proto3 zero value) unless the edgecd type requires them.

export function decodeRange(m: MessageReader): RangeRequest {
  return defined({
    key: m.bytes('key') ?? EMPTY,
    rangeEnd: m.bytes('range_end'),
    limit: m.number('limit'),
    revision: m.number('revision'),
    sortOrder: m.enumValue('sort_order', SORT_ORDERS, 'etcdserverpb.RangeRequest_SortOrder'),
    sortTarget: m.enumValue('sort_target', SORT_TARGETS, 'etcdserverpb.RangeRequest_SortTarget'),
    serializable: m.bool('serializable'),
    keysOnly: m.bool('keys_only'),
    countOnly: m.bool('count_only'),
    minModRevision: m.number('min_mod_revision'),
    maxModRevision: m.number('max_mod_revision'),
    minCreateRevision: m.number('min_create_revision'),
    maxCreateRevision: m.number('max_create_revision'),
  });
}

export function decodePut(m: MessageReader): PutRequest {
  return defined({
    key: m.bytes('key') ?? EMPTY,
    value: m.bytes('value'),
    lease: m.bigint('lease'),
    prevKv: m.bool('prev_kv'),
    ignoreValue: m.bool('ignore_value'),
    ignoreLease: m.bool('ignore_lease'),
  });
}

export function decodeDeleteRange(m: MessageReader): DeleteRangeRequest {
  return defined({ key: m.bytes('key') ?? EMPTY, rangeEnd: m.bytes('range_end'), prevKv: m.bool('prev_kv') });
}

function decodeCompare(m: MessageReader): Compare {
  return defined({
    result: m.enumValue('result', COMPARE_RESULTS, 'etcdserverpb.Compare_CompareResult') ?? 'EQUAL',
    target: m.enumValue('target', COMPARE_TARGETS, 'etcdserverpb.Compare_CompareTarget') ?? 'VERSION',
    key: m.bytes('key') ?? EMPTY,
    rangeEnd: m.bytes('range_end'),
    version: m.number('version'),
    createRevision: m.number('create_revision'),
    modRevision: m.number('mod_revision'),
    value: m.bytes('value'),
    lease: m.bigint('lease'),
  });
}

function decodeRequestOp(m: MessageReader): RequestOp {
  // The proto oneof: jsonpb keeps the last member set; etcd treats none as an empty op.
  const range = m.message('request_range', 'etcdserverpb.RangeRequest');
  const put = m.message('request_put', 'etcdserverpb.PutRequest');
  const del = m.message('request_delete_range', 'etcdserverpb.DeleteRangeRequest');
  const txn = m.message('request_txn', 'etcdserverpb.TxnRequest');
  if (txn) return { requestTxn: decodeTxn(txn) };
  if (del) return { requestDeleteRange: decodeDeleteRange(del) };
  if (put) return { requestPut: decodePut(put) };
  if (range) return { requestRange: decodeRange(range) };
  return {};
}

export function decodeTxn(m: MessageReader): TxnRequest {
  return defined({
    compare: m.messages('compare', 'etcdserverpb.Compare').map(decodeCompare),
    success: m.messages('success', 'etcdserverpb.RequestOp').map(decodeRequestOp),
    failure: m.messages('failure', 'etcdserverpb.RequestOp').map(decodeRequestOp),
  });
}

export function decodeCompaction(m: MessageReader): CompactionRequest {
  return defined({ revision: m.number('revision') ?? 0, physical: m.bool('physical') });
}

/** A WatchRequest; undefined for one with no member of the oneof set (etcd ignores those). */
export function decodeWatch(m: MessageReader): WatchRequest | undefined {
  const create = m.message('create_request', 'etcdserverpb.WatchCreateRequest');
  if (create) return { createRequest: decodeWatchCreate(create) };
  const cancel = m.message('cancel_request', 'etcdserverpb.WatchCancelRequest');
  if (cancel) return { cancelRequest: { watchId: cancel.number('watch_id') ?? 0 } };
  const progress = m.message('progress_request', 'etcdserverpb.WatchProgressRequest');
  if (progress) return { progressRequest: {} };
  return undefined;
}

function decodeWatchCreate(m: MessageReader): WatchCreateRequest {
  return defined({
    key: m.bytes('key') ?? EMPTY,
    rangeEnd: m.bytes('range_end'),
    startRevision: m.number('start_revision'),
    progressNotify: m.bool('progress_notify'),
    filters: m
      .list('filters', 'etcdserverpb.WatchCreateRequest_FilterType')
      .map((v) => enumOf(v, FILTER_TYPES, 'etcdserverpb.WatchCreateRequest_FilterType')),
    prevKv: m.bool('prev_kv'),
    watchId: m.number('watch_id'),
    fragment: m.bool('fragment'),
  });
}

export function decodeLeaseGrant(m: MessageReader): LeaseGrantRequest {
  return defined({ TTL: m.number('TTL') ?? 0, ID: m.bigint('ID') });
}

/** LeaseRevoke, LeaseKeepAlive: `{ID}`. */
export function decodeLeaseId(m: MessageReader): { ID: bigint } {
  return { ID: m.bigint('ID') ?? 0n };
}

export function decodeLeaseTimeToLive(m: MessageReader): LeaseTimeToLiveRequest {
  return defined({ ID: m.bigint('ID') ?? 0n, keys: m.bool('keys') });
}

export function decodeMemberAdd(m: MessageReader): MemberAddRequest {
  return defined({
    peerURLs: m.list('peerURLs', 'string').map((v) => {
      if (typeof v !== 'string') throw typeError(v, 'string');
      return v;
    }),
    isLearner: m.bool('isLearner'),
  });
}

/** MemberRemove, MemberPromote: `{ID}` (uint64). */
export function decodeMemberId(m: MessageReader): { ID: bigint } {
  return { ID: m.bigint('ID', 'uint64') ?? 0n };
}

export function decodeMoveLeader(m: MessageReader): { targetID: bigint } {
  return { targetID: m.bigint('targetID', 'uint64') ?? 0n };
}

export function decodeHashKV(m: MessageReader): { revision: number } {
  return { revision: m.number('revision') ?? 0 };
}

export function decodeAlarm(m: MessageReader): {
  action: (typeof ALARM_ACTIONS)[number];
  memberID: bigint;
  alarm: AlarmType;
} {
  return {
    action: m.enumValue('action', ALARM_ACTIONS, 'etcdserverpb.AlarmRequest_AlarmAction') ?? 'GET',
    memberID: m.bigint('memberID', 'uint64') ?? 0n,
    alarm: m.enumValue('alarm', ALARM_TYPES, 'etcdserverpb.AlarmType') ?? 'NONE',
  };
}
