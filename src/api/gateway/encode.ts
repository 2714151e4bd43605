// edgecd response objects → JSON exactly as etcd 3.4's gateway writes them (jsonpb, OrigName=true,
// EmitDefaults=false): proto field names in field-number order, bytes as padded standard base64, int64/uint64 as
// decimal strings, int32/uint32 as numbers, enums by name, and every zero value (0, false, "", empty list, the
// first enum value) left out. A set but empty message is `{}`.

import type {
  AlarmMember,
  DeleteRangeResponse,
  Event,
  KeyValue,
  LeaseGrantResponse,
  LeaseKeepAliveResponse,
  LeaseLeasesResponse,
  LeaseTimeToLiveResponse,
  Member,
  MemberAddResponse,
  MembersResponse,
  PutResponse,
  RangeResponse,
  ResponseHeader,
  ResponseOp,
  StatusResponse,
  TxnResponse,
  WatchResponse,
} from '../../etcd/types.ts';
import { encodeBase64 } from './base64.ts';

/** Builds one JSON object, skipping proto3 zero values. */
export class JsonWriter {
  private readonly parts: string[] = [];

  private add(name: string, json: string): this {
    this.parts.push(`${JSON.stringify(name)}:${json}`);
    return this;
  }

  /** int64/uint64: a decimal string. */
  int64(name: string, v: number | bigint | undefined): this {
    return v === undefined || v === 0 || v === 0n ? this : this.add(name, `"${v}"`);
  }

  /** int32/uint32: a number. */
  int32(name: string, v: number | undefined): this {
    return v === undefined || v === 0 ? this : this.add(name, String(v));
  }

  bool(name: string, v: boolean | undefined): this {
    return v ? this.add(name, 'true') : this;
  }

  string(name: string, v: string | undefined): this {
    return v ? this.add(name, JSON.stringify(v)) : this;
  }

  bytes(name: string, v: Uint8Array | undefined): this {
    return v && v.length > 0 ? this.add(name, `"${encodeBase64(v)}"`) : this;
  }

  /** An enum: omitted when it is the first (zero) value. */
  enumName(name: string, v: string | undefined, zero: string): this {
    return v === undefined || v === zero ? this : this.add(name, JSON.stringify(v));
  }

  /** A message field: present (possibly `{}`) whenever set. */
  message(name: string, json: string | undefined): this {
    return json === undefined ? this : this.add(name, json);
  }

  list(name: string, items: readonly string[] | undefined): this {
    return items && items.length > 0 ? this.add(name, `[${items.join(',')}]`) : this;
  }

  strings(name: string, items: readonly string[] | undefined): this {
    return this.list(
      name,
      items?.map((s) => JSON.stringify(s)),
    );
  }

  toString(): string {
    return `{${this.parts.join(',')}}`;
  }
}

export function header(h: ResponseHeader | undefined): string {
  if (!h) return '{}';
  return new JsonWriter()
    .int64('cluster_id', h.clusterId)
    .int64('member_id', h.memberId)
    .int64('revision', h.revision)
    .int64('raft_term', h.raftTerm)
    .toString();
}

/** Responses nested in a Txn carry only the revision (etcd fills the rest on the top-level header only). */
function nestedHeader(h: ResponseHeader | undefined): string {
  return new JsonWriter().int64('revision', h?.revision).toString();
}

export function keyValue(kv: KeyValue): string {
  return new JsonWriter()
    .bytes('key', kv.key)
    .int64('create_revision', kv.createRevision)
    .int64('mod_revision', kv.modRevision)
    .int64('version', kv.version)
    .bytes('value', kv.value)
    .int64('lease', kv.lease)
    .toString();
}

export function event(e: Event): string {
  return new JsonWriter()
    .enumName('type', e.type, 'PUT')
    .message('kv', keyValue(e.kv))
    .message('prev_kv', e.prevKv && keyValue(e.prevKv))
    .toString();
}

type HeaderFn = (h: ResponseHeader | undefined) => string;

export function rangeResponse(r: RangeResponse, hdr: HeaderFn = header): string {
  return new JsonWriter()
    .message('header', hdr(r.header))
    .list('kvs', r.kvs.map(keyValue))
    .bool('more', r.more)
    .int64('count', r.count)
    .toString();
}

export function putResponse(r: PutResponse, hdr: HeaderFn = header): string {
  return new JsonWriter()
    .message('header', hdr(r.header))
    .message('prev_kv', r.prevKv && keyValue(r.prevKv))
    .toString();
}

export function deleteRangeResponse(r: DeleteRangeResponse, hdr: HeaderFn = header): string {
  return new JsonWriter()
    .message('header', hdr(r.header))
    .int64('deleted', r.deleted)
    .list('prev_kvs', r.prevKvs.map(keyValue))
    .toString();
}

function responseOp(op: ResponseOp): string {
  const w = new JsonWriter();
  if (op.responseRange) w.message('response_range', rangeResponse(op.responseRange, nestedHeader));
  else if (op.responsePut) w.message('response_put', putResponse(op.responsePut, nestedHeader));
  else if (op.responseDeleteRange)
    w.message('response_delete_range', deleteRangeResponse(op.responseDeleteRange, nestedHeader));
  else if (op.responseTxn) w.message('response_txn', txnResponse(op.responseTxn, nestedHeader));
  return w.toString();
}

export function txnResponse(r: TxnResponse, hdr: HeaderFn = header): string {
  return new JsonWriter()
    .message('header', hdr(r.header))
    .bool('succeeded', r.succeeded)
    .list('responses', r.responses.map(responseOp))
    .toString();
}

/** CompactionResponse, LeaseRevokeResponse, HashResponse's header-only part, …: `{header}`. */
export function headerOnly(r: { readonly header: ResponseHeader }): string {
  return new JsonWriter().message('header', header(r.header)).toString();
}

export function watchResponse(r: WatchResponse): string {
  return new JsonWriter()
    .message('header', header(r.header))
    .int64('watch_id', r.watchId)
    .bool('created', r.created)
    .bool('canceled', r.canceled)
    .int64('compact_revision', r.compactRevision)
    .string('cancel_reason', r.cancelReason)
    .bool('fragment', r.fragment)
    .list('events', r.events.map(event))
    .toString();
}

export function leaseGrantResponse(r: LeaseGrantResponse): string {
  return new JsonWriter()
    .message('header', header(r.header))
    .int64('ID', r.ID)
    .int64('TTL', r.TTL)
    .string('error', r.error)
    .toString();
}

export function leaseKeepAliveResponse(r: LeaseKeepAliveResponse): string {
  return new JsonWriter()
    .message('header', header(r.header))
    .int64('ID', r.ID)
    .int64('TTL', r.TTL)
    .toString();
}

export function leaseTimeToLiveResponse(r: LeaseTimeToLiveResponse): string {
  return new JsonWriter()
    .message('header', header(r.header))
    .int64('ID', r.ID)
    .int64('TTL', r.TTL)
    .int64('grantedTTL', r.grantedTTL)
    .list(
      'keys',
      r.keys.map((k) => `"${encodeBase64(k)}"`),
    )
    .toString();
}

export function leaseLeasesResponse(r: LeaseLeasesResponse): string {
  return new JsonWriter()
    .message('header', header(r.header))
    .list(
      'leases',
      r.leases.map((l) => new JsonWriter().int64('ID', l.ID).toString()),
    )
    .toString();
}

export function member(m: Member): string {
  return new JsonWriter()
    .int64('ID', m.ID)
    .string('name', m.name)
    .strings('peerURLs', m.peerURLs)
    .strings('clientURLs', m.clientURLs)
    .bool('isLearner', m.isLearner)
    .toString();
}

/** Member* headers carry no revision (etcd fills cluster_id, member_id and raft_term only). */
function memberHeader(h: ResponseHeader): string {
  return header({ ...h, revision: 0 });
}

export function membersResponse(r: MembersResponse): string {
  return new JsonWriter()
    .message('header', memberHeader(r.header))
    .list('members', r.members.map(member))
    .toString();
}

export function memberAddResponse(r: MemberAddResponse): string {
  return new JsonWriter()
    .message('header', memberHeader(r.header))
    .message('member', member(r.member))
    .list('members', r.members.map(member))
    .toString();
}

export function statusResponse(r: StatusResponse): string {
  return new JsonWriter()
    .message('header', header(r.header))
    .string('version', r.version)
    .int64('dbSize', r.dbSize)
    .int64('leader', r.leader)
    .int64('raftIndex', r.raftIndex)
    .int64('raftTerm', r.raftTerm)
    .int64('raftAppliedIndex', r.raftAppliedIndex)
    .strings('errors', r.errors)
    .int64('dbSizeInUse', r.dbSizeInUse)
    .bool('isLearner', r.isLearner)
    .toString();
}

/** Alarm: etcd sets no header, so with no alarms the reply is `{}`. */
export function alarmResponse(r: { readonly alarms: readonly AlarmMember[] }): string {
  return new JsonWriter()
    .list(
      'alarms',
      r.alarms.map((a) =>
        new JsonWriter().int64('memberID', a.memberID).enumName('alarm', a.alarm, 'NONE').toString(),
      ),
    )
    .toString();
}

export function hashResponse(r: { readonly header: ResponseHeader; readonly hash: number }): string {
  return new JsonWriter().message('header', header(r.header)).int32('hash', r.hash).toString();
}
