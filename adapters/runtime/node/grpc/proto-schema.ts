// Message schemas for the strict protobuf decoder (decode.ts), built from proto-loader's descriptors: each field's
// kind and wire type, gogo's Go names for error texts, and which fields share a oneof.

import type { PackageDefinition } from '@grpc/proto-loader';

export type Kind =
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
