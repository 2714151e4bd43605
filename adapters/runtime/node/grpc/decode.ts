// Request decoding as etcd 3.4 does it, byte for byte: etcd's messages are gogo/protobuf generated code
// (`(*PutRequest).Unmarshal` in rpc.pb.go), grpc.health.v1 is golang/protobuf's table-driven decoder. Both refuse a
// known field sent with the wrong wire type (gogo) or skip it (golang), refuse tag 0 and wire types 4, 6, 7,
// truncated varints and lengths past the end, and skip unknown fields of every valid wire type (groups included).
// protobufjs, which @grpc/proto-loader uses, reads such bytes as something else, so requests are decoded here,
// in one pass driven by the loaded message descriptors, into the object shape proto-loader produces (proto field
// names, int64 as decimal strings, enums as numbers, bytes as Buffer views, fields present only when sent).
//
// gogo quirks kept on purpose so that the same bytes get the same answer: a field number is `int32(tag >> 3)`
// (2^29..2^31-1 are unknown fields and skipped; 2^31 is "illegal tag -2147483648"; 2^32+1 is field 1); a packed
// run is read up to the buffer's end, not its own; a oneof member replaces the others; a bool is any nonzero varint.
// One deliberate difference: etcd 3.4.23 panics on a length whose end overflows int64 (its generated code lacks
// the check later gogo versions add); here that is "proto: negative length found during unmarshaling", as etcd 3.5.

import type { PackageDefinition } from '@grpc/proto-loader';

/** A decoding failure, with the text gogo/protobuf gives (grpc-go puts it after its own prefix). */
export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
}

const ERR_EOF = 'unexpected EOF';
const ERR_OVERFLOW = 'proto: integer overflow';
const ERR_LENGTH = 'proto: negative length found during unmarshaling';
const ERR_END_OF_GROUP = 'proto: unexpected end of group';

/**
 * Messages nested deeper than this are refused. etcd's decoder has no limit, but its Txn check allows at most
 * max-txn-ops (128) levels of nested Txn (two messages each: TxnRequest, RequestOp), refused after decoding with
 * "too many operations in txn request"; this bound leaves that answer to the same check here while a 2 MiB request
 * of nested messages cannot overflow the JavaScript stack (here or in the recursive steps after decoding).
 */
export const MAX_DEPTH = 1000;

type Kind =
  | 'int64'
  | 'uint64'
  | 'int32'
  | 'uint32'
  | 'sint32'
  | 'sint64'
  | 'bool'
  | 'enum'
  | 'fixed64'
  | 'sfixed64'
  | 'double'
  | 'fixed32'
  | 'sfixed32'
  | 'float'
  | 'string'
  | 'bytes'
  | 'message';

const WIRE_TYPE: Record<Kind, number> = {
  int64: 0,
  uint64: 0,
  int32: 0,
  uint32: 0,
  sint32: 0,
  sint64: 0,
  bool: 0,
  enum: 0,
  fixed64: 1,
  sfixed64: 1,
  double: 1,
  fixed32: 5,
  sfixed32: 5,
  float: 5,
  string: 2,
  bytes: 2,
  message: 2,
};

export interface FieldSchema {
  readonly name: string;
  /** gogo's Go field name, as its "wrong wireType" error names it. */
  readonly goName: string;
  readonly kind: Kind;
  readonly wireType: number;
  readonly repeated: boolean;
  /** The other members of this field's oneof: setting this field clears them, as gogo's oneof wrapper does. */
  readonly oneofSiblings: readonly string[];
  message?: MessageSchema;
}

export interface MessageSchema {
  /** Full protobuf name, e.g. `etcdserverpb.PutRequest`. */
  readonly fullName: string;
  /** The name gogo's "illegal tag" error uses (`PutRequest`; golang/protobuf: `grpc_health_v1.HealthCheckRequest`). */
  readonly goName: string;
  /** golang/protobuf treats a field with the wrong wire type as unknown; gogo refuses it. */
  readonly flavor: 'gogo' | 'golang';
  readonly fields: ReadonlyMap<number, FieldSchema>;
}

/**
 * Which fields are oneof members. proto-loader's descriptor objects lose `oneof_index` (every field says 0), so the
 * few oneofs of etcd's request messages are listed here; a test checks this against every `oneofDecl`.
 */
export const ONEOFS: Readonly<Record<string, readonly (readonly string[])[]>> = {
  'etcdserverpb.RequestOp': [['request_range', 'request_put', 'request_delete_range', 'request_txn']],
  'etcdserverpb.ResponseOp': [['response_range', 'response_put', 'response_delete_range', 'response_txn']],
  'etcdserverpb.Compare': [['version', 'create_revision', 'mod_revision', 'value', 'lease']],
  'etcdserverpb.WatchRequest': [['create_request', 'cancel_request', 'progress_request']],
};

const KINDS: Record<string, Kind> = {
  TYPE_INT64: 'int64',
  TYPE_UINT64: 'uint64',
  TYPE_INT32: 'int32',
  TYPE_UINT32: 'uint32',
  TYPE_SINT32: 'sint32',
  TYPE_SINT64: 'sint64',
  TYPE_BOOL: 'bool',
  TYPE_ENUM: 'enum',
  TYPE_FIXED64: 'fixed64',
  TYPE_SFIXED64: 'sfixed64',
  TYPE_DOUBLE: 'double',
  TYPE_FIXED32: 'fixed32',
  TYPE_SFIXED32: 'sfixed32',
  TYPE_FLOAT: 'float',
  TYPE_STRING: 'string',
  TYPE_BYTES: 'bytes',
  TYPE_MESSAGE: 'message',
};

/** gogo's generator.CamelCase: `range_end` → `RangeEnd`, `peerURLs` → `PeerURLs`, `ID` → `ID`. */
export function goCamelCase(s: string): string {
  let out = '';
  let i = 0;
  const lower = (c: string | undefined) => c !== undefined && c >= 'a' && c <= 'z';
  if (s[0] === '_') {
    out += 'X';
    i++;
  }
  for (; i < s.length; i++) {
    const c = s[i] as string;
    if (c === '_' && lower(s[i + 1])) continue;
    if (c >= '0' && c <= '9') {
      out += c;
      continue;
    }
    out += lower(c) ? c.toUpperCase() : c;
    while (lower(s[i + 1])) out += s[++i];
  }
  return out;
}

interface DescriptorField {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName: string;
}

interface DescriptorMessage {
  name: string;
  field: DescriptorField[];
  oneofDecl?: unknown[];
}

/** Message schemas for every message type in a proto-loader package definition, by full name. */
export function messageSchemas(pkg: PackageDefinition): Map<string, MessageSchema> {
  const descriptors = new Map<string, DescriptorMessage>();
  for (const [name, def] of Object.entries(pkg)) {
    if ('format' in def && def.format === 'Protocol Buffer 3 DescriptorProto')
      descriptors.set(name, def.type as DescriptorMessage);
  }
  const schemas = new Map<string, MessageSchema>();
  const pending: [FieldSchema, string, string][] = [];
  for (const [fullName, d] of descriptors) {
    const dot = fullName.lastIndexOf('.');
    const pkgName = fullName.slice(0, dot);
    const golang = pkgName === 'grpc.health.v1';
    const oneofs = ONEOFS[fullName] ?? [];
    const fields = new Map<number, FieldSchema>();
    for (const f of d.field) {
      const kind = KINDS[f.type];
      if (!kind)
        throw new Error(`edgecd: ${fullName}.${f.name} has a field type the decoder lacks (${f.type})`);
      const siblings = oneofs.find((o) => o.includes(f.name))?.filter((n) => n !== f.name) ?? [];
      const field: FieldSchema = {
        name: f.name,
        goName: goCamelCase(f.name),
        kind,
        wireType: WIRE_TYPE[kind],
        repeated: f.label === 'LABEL_REPEATED',
        oneofSiblings: siblings,
      };
      fields.set(f.number, field);
      if (kind === 'message') pending.push([field, fullName, f.typeName]);
    }
    schemas.set(fullName, {
      fullName,
      // Nested messages are Outer_Inner in Go; etcd's request messages are all top level.
      goName: golang
        ? `grpc_health_v1.${fullName.slice(dot + 1)}`
        : fullName.slice(pkgName.length + 1).replace(/\./g, '_'),
      flavor: golang ? 'golang' : 'gogo',
      fields,
    });
  }
  // Resolve message field types as protobuf scoping does: innermost scope first.
  for (const [field, owner, typeName] of pending) {
    let target: MessageSchema | undefined;
    if (typeName.startsWith('.')) target = schemas.get(typeName.slice(1));
    else {
      let scope = owner;
      while (!target) {
        target = schemas.get(scope ? `${scope}.${typeName}` : typeName);
        if (!scope) break;
        const dot = scope.lastIndexOf('.');
        scope = dot < 0 ? '' : scope.slice(0, dot);
      }
    }
    if (!target) throw new Error(`edgecd: ${owner}.${field.name}: message type ${typeName} not found`);
    field.message = target;
  }
  return schemas;
}

// The varint just read, as two unsigned 32-bit halves (module state: no allocation per varint).
let lo = 0;
let hi = 0;

function fail(text: string): never {
  throw new ProtoDecodeError(text);
}

/** Reads a varint at `p` (bound `end`) into lo/hi as gogo does: more than 10 bytes overflow. Returns the new position. */
function varint(buf: Uint8Array, p: number, end: number): number {
  if (p >= end) fail(ERR_EOF);
  let b = buf[p++] as number;
  if (b < 0x80) {
    lo = b;
    hi = 0;
    return p;
  }
  let l = b & 0x7f;
  let h = 0;
  for (let shift = 7; ; shift += 7) {
    if (shift >= 64) fail(ERR_OVERFLOW);
    if (p >= end) fail(ERR_EOF);
    b = buf[p++] as number;
    if (shift < 28) l |= (b & 0x7f) << shift;
    else if (shift === 28) {
      l |= (b & 0x0f) << 28;
      h = (b & 0x7f) >>> 4;
    } else h |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) break;
  }
  lo = l >>> 0;
  hi = h >>> 0;
  return p;
}

const TWO_32 = 0x1_0000_0000;

/**
 * The end of a length-delimited run whose length (lo/hi) starts at `p`: gogo's `byteLen < 0`, `postIndex < 0` and
 * `postIndex > l` checks, without ever computing a huge number.
 */
function runEnd(p: number, end: number): number {
  if (hi >= 0x8000_0000) fail(ERR_LENGTH);
  if (hi === 0) {
    const e = p + lo;
    if (e > end) fail(ERR_EOF);
    return e;
  }
  // ≥ 2^32: past the end, or past 2^63 (negative in Go's int).
  if (hi === 0x7fff_ffff && lo + p >= TWO_32) fail(ERR_LENGTH);
  return fail(ERR_EOF);
}

function int64Text(signed: boolean): string {
  if (hi === 0) return String(lo);
  if (hi < 0x20_0000) return String(hi * TWO_32 + lo);
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  return (signed ? BigInt.asIntN(64, v) : v).toString();
}

const utf8 = new TextDecoder();

/** Reads one scalar of `kind` at `p` (its wire type already checked); stores it in `value`. */
let value: unknown;
function scalar(kind: Kind, buf: Uint8Array, p: number, end: number): number {
  switch (kind) {
    case 'int64':
    case 'uint64':
      p = varint(buf, p, end);
      value = int64Text(kind === 'int64');
      return p;
    case 'int32':
    case 'enum':
      p = varint(buf, p, end);
      value = lo | 0;
      return p;
    case 'uint32':
      p = varint(buf, p, end);
      value = lo;
      return p;
    case 'bool':
      p = varint(buf, p, end);
      value = lo !== 0 || hi !== 0;
      return p;
    case 'sint32':
      p = varint(buf, p, end);
      value = (lo >>> 1) ^ -(lo & 1);
      return p;
    case 'sint64': {
      p = varint(buf, p, end);
      const neg = lo & 1;
      const l = ((lo >>> 1) | (hi << 31)) >>> 0;
      const h = hi >>> 1;
      lo = neg ? ~l >>> 0 : l;
      hi = neg ? ~h >>> 0 : h;
      value = int64Text(true);
      return p;
    }
    case 'fixed64':
    case 'sfixed64':
    case 'double': {
      if (p + 8 > end) fail(ERR_EOF);
      const view = new DataView(buf.buffer, buf.byteOffset + p, 8);
      if (kind === 'double') value = view.getFloat64(0, true);
      else value = (kind === 'fixed64' ? view.getBigUint64(0, true) : view.getBigInt64(0, true)).toString();
      return p + 8;
    }
    case 'fixed32':
    case 'sfixed32':
    case 'float': {
      if (p + 4 > end) fail(ERR_EOF);
      const view = new DataView(buf.buffer, buf.byteOffset + p, 4);
      value =
        kind === 'float'
          ? view.getFloat32(0, true)
          : kind === 'fixed32'
            ? view.getUint32(0, true)
            : view.getInt32(0, true);
      return p + 4;
    }
    default:
      throw new Error(`edgecd: ${kind} is not a scalar`);
  }
}

/**
 * Skips one unknown field whose tag (wire type `wt`) ended at `p`, as gogo's skipRpc (with group depth). Returns
 * the position after it.
 */
function skip(buf: Uint8Array, p: number, end: number, wt: number): number {
  let depth = 0;
  for (;;) {
    switch (wt) {
      case 0:
        for (let shift = 0; ; shift += 7) {
          if (shift >= 64) fail(ERR_OVERFLOW);
          if (p >= end) fail(ERR_EOF);
          if ((buf[p++] as number) < 0x80) break;
        }
        break;
      case 1:
        p += 8;
        break;
      case 2:
        p = varint(buf, p, end);
        if (hi >= 0x8000_0000) fail(ERR_LENGTH);
        if (hi !== 0) {
          if (hi === 0x7fff_ffff && lo + p >= TWO_32) fail(ERR_LENGTH);
          fail(ERR_EOF);
        }
        p += lo;
        break;
      case 3:
        depth++;
        break;
      case 4:
        if (depth === 0) fail(ERR_END_OF_GROUP);
        depth--;
        break;
      case 5:
        p += 4;
        break;
      default:
        fail(`proto: illegal wireType ${wt}`);
    }
    if (depth === 0) {
      if (p > end) fail(ERR_EOF);
      return p;
    }
    if (p >= end) fail(ERR_EOF);
    p = varint(buf, p, end);
    wt = lo & 7;
  }
}

/** golang/protobuf's skipField: no group depth beyond matching, other texts. */
function skipGolang(buf: Uint8Array, p: number, end: number, wt: number): number {
  switch (wt) {
    case 0:
      for (let i = 0; ; i++) {
        if (i >= 10 || p >= end) fail(ERR_EOF);
        if ((buf[p++] as number) < 0x80) return p;
      }
    case 1:
      if (p + 8 > end) fail(ERR_EOF);
      return p + 8;
    case 5:
      if (p + 4 > end) fail(ERR_EOF);
      return p + 4;
    case 2: {
      let q: number;
      try {
        q = varint(buf, p, end);
      } catch {
        return fail(ERR_EOF);
      }
      if (hi !== 0 || q + lo > end) fail(ERR_EOF);
      return q + lo;
    }
    case 3:
      for (;;) {
        if (p >= end) fail(ERR_EOF);
        try {
          p = varint(buf, p, end);
        } catch {
          return fail(ERR_EOF);
        }
        const inner = lo & 7;
        if (inner === 4) return p;
        p = skipGolang(buf, p, end, inner);
      }
    default:
      return fail(`proto: can't skip unknown wire type ${wt}`);
  }
}

type Decoded = Record<string, unknown>;

function decodeInto(
  schema: MessageSchema,
  buf: Uint8Array,
  start: number,
  end: number,
  out: Decoded,
  depth: number,
): Decoded {
  if (depth > MAX_DEPTH) fail(`proto: ${schema.goName}: nested deeper than ${MAX_DEPTH} messages`);
  const gogo = schema.flavor === 'gogo';
  let p = start;
  while (p < end) {
    p = varint(buf, p, end);
    const wt = lo & 7;
    // gogo: fieldNum := int32(wire >> 3).
    const num = (lo >>> 3) | (hi << 29) | 0;
    if (gogo) {
      if (wt === 4) fail(`proto: ${schema.goName}: wiretype end group for non-group`);
      if (num <= 0) {
        const wire = hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
        fail(`proto: ${schema.goName}: illegal tag ${num} (wire type ${wire})`);
      }
    } else if (hi === 0 && lo >>> 3 === 0) {
      fail(`proto: ${schema.goName}: illegal tag 0 (wire type ${wt})`);
    }
    const field = schema.fields.get(num);
    if (field === undefined || (!gogo && (hi !== 0 || field.wireType !== wt))) {
      p = gogo ? skip(buf, p, end, wt) : skipGolang(buf, p, end, wt);
      continue;
    }
    if (field.wireType !== wt) {
      // Repeated scalars may come packed (wire type 2) or one by one.
      if (field.repeated && wt === 2 && field.wireType !== 2) {
        p = varint(buf, p, end);
        const runStop = runEnd(p, end);
        let list = out[field.name] as unknown[] | undefined;
        if (!list) out[field.name] = list = [];
        // gogo reads the run's elements with the buffer's end as the bound, not the run's.
        while (p < runStop) {
          p = scalar(field.kind, buf, p, end);
          list.push(value);
        }
        continue;
      }
      fail(`proto: wrong wireType = ${wt} for field ${field.goName}`);
    }

    let v: unknown;
    if (wt === 2) {
      p = varint(buf, p, end);
      const stop = runEnd(p, end);
      if (field.kind === 'bytes') {
        v = buf.subarray(p, stop);
      } else if (field.kind === 'string') {
        v = utf8.decode(buf.subarray(p, stop));
      } else {
        const message = field.message as MessageSchema;
        // A set message field merges a repeat of itself (gogo); a oneof member starts afresh.
        const existing =
          !field.repeated && field.oneofSiblings.length === 0
            ? (out[field.name] as Decoded | undefined)
            : undefined;
        v = decodeInto(message, buf, p, stop, existing ?? {}, depth + 1);
      }
      p = stop;
    } else {
      p = scalar(field.kind, buf, p, end);
      v = value;
    }
    if (field.repeated) {
      const list = out[field.name] as unknown[] | undefined;
      if (list) list.push(v);
      else out[field.name] = [v];
    } else {
      for (const sibling of field.oneofSiblings) delete out[sibling];
      out[field.name] = v;
    }
  }
  return out;
}

/** Decodes one message of `schema`; throws ProtoDecodeError with gogo's text for what etcd refuses. */
export function decodeMessage(schema: MessageSchema, buf: Uint8Array): Decoded {
  return decodeInto(schema, buf, 0, buf.length, {}, 0);
}
