// The few protobuf messages etcd 3.4 stores in its bbolt backend, by hand: mvccpb.KeyValue (the "key" bucket),
// leasepb.Lease ("lease"), authpb.User / Role / Permission ("authUsers", "authRoles") and etcdserverpb.AlarmMember
// ("alarm"). Encoding follows gogoproto's Marshal: fields in number order, proto3 zero values left out. Decoding
// accepts any field order and skips unknown fields.

import type { KeyValue } from '../etcd/kv.ts';
import type { Permission, PermissionType } from '../etcd/types.ts';
import { encodeKeyValue } from '../mvcc/hash.ts';

export { encodeKeyValue };

export class ProtoError extends Error {
  override name = 'ProtoError';
}

// ---- Wire format --------------------------------------------------------------------------------------------

class ProtoWriter {
  private readonly out: number[] = [];

  varint(field: number, value: bigint | number | boolean): this {
    const v = typeof value === 'boolean' ? (value ? 1n : 0n) : BigInt(value);
    if (v === 0n) return this;
    this.tag(field, 0);
    this.raw(v);
    return this;
  }

  bytes(field: number, value: Uint8Array, keepEmpty = false): this {
    if (value.length === 0 && !keepEmpty) return this;
    this.tag(field, 2);
    this.raw(BigInt(value.length));
    for (let i = 0; i < value.length; i++) this.out.push(value[i]);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }

  private tag(field: number, wire: number): void {
    this.raw(BigInt((field << 3) | wire));
  }

  /** Base-128 varint; negative int64s as their 64-bit two's complement (10 bytes). */
  private raw(value: bigint): void {
    let v = BigInt.asUintN(64, value);
    while (v >= 0x80n) {
      this.out.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.out.push(Number(v));
  }
}

type Field =
  | { readonly field: number; readonly varint: bigint }
  | { readonly field: number; readonly bytes: Uint8Array };

/** The fields of one message, in wire order; length-delimited values are views into `buf`. */
function* fields(buf: Uint8Array): Generator<Field> {
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (i >= buf.length || shift > 63n) throw new ProtoError('truncated or overlong varint');
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return BigInt.asUintN(64, v);
    }
  };
  while (i < buf.length) {
    const tag = varint();
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      yield { field, varint: varint() };
    } else if (wire === 2) {
      const n = Number(varint());
      if (i + n > buf.length) throw new ProtoError('length-delimited field runs past the message');
      yield { field, bytes: buf.subarray(i, i + n) };
      i += n;
    } else if (wire === 1 || wire === 5) {
      i += wire === 1 ? 8 : 4; // fixed64 / fixed32: none of our messages has one; skip
      if (i > buf.length) throw new ProtoError('truncated fixed-width field');
    } else {
      throw new ProtoError(`unsupported wire type ${wire}`);
    }
  }
}

const int64 = (f: Field): bigint => ('varint' in f ? BigInt.asIntN(64, f.varint) : bad(f));
const uint64 = (f: Field): bigint => ('varint' in f ? f.varint : bad(f));
const bytesOf = (f: Field): Uint8Array => ('bytes' in f ? f.bytes.slice() : bad(f));
const textOf = (f: Field): string => new TextDecoder().decode('bytes' in f ? f.bytes : bad(f));

function bad(f: Field): never {
  throw new ProtoError(`field ${f.field} has the wrong wire type`);
}

function safe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new ProtoError(`${what} ${v} is out of range`);
  }
  return Number(v);
}

// ---- mvccpb.KeyValue ----------------------------------------------------------------------------------------

export function decodeKeyValue(buf: Uint8Array): KeyValue {
  let key: Uint8Array = new Uint8Array(0);
  let value: Uint8Array = new Uint8Array(0);
  let createRevision = 0;
  let modRevision = 0;
  let version = 0;
  let lease = 0n;
  for (const f of fields(buf)) {
    if (f.field === 1) key = bytesOf(f);
    else if (f.field === 2) createRevision = safe(int64(f), 'create_revision');
    else if (f.field === 3) modRevision = safe(int64(f), 'mod_revision');
    else if (f.field === 4) version = safe(int64(f), 'version');
    else if (f.field === 5) value = bytesOf(f);
    else if (f.field === 6) lease = int64(f);
  }
  return { key, createRevision, modRevision, version, value, lease };
}

// ---- leasepb.Lease ------------------------------------------------------------------------------------------

export interface LeaseRecord {
  readonly id: bigint;
  readonly ttl: number;
  /** Checkpointed remaining TTL; 0 = none. */
  readonly remainingTtl: number;
}

export function encodeLease(lease: LeaseRecord): Uint8Array {
  return new ProtoWriter().varint(1, lease.id).varint(2, lease.ttl).varint(3, lease.remainingTtl).finish();
}

export function decodeLease(buf: Uint8Array): LeaseRecord {
  let id = 0n;
  let ttl = 0;
  let remainingTtl = 0;
  for (const f of fields(buf)) {
    if (f.field === 1) id = int64(f);
    else if (f.field === 2) ttl = safe(int64(f), 'TTL');
    else if (f.field === 3) remainingTtl = safe(int64(f), 'RemainingTTL');
  }
  return { id, ttl, remainingTtl };
}

// ---- authpb.User, Role, Permission --------------------------------------------------------------------------

const PERM_TYPES: readonly PermissionType[] = ['READ', 'WRITE', 'READWRITE'];

export interface UserRecord {
  readonly name: string;
  /** The bcrypt hash as etcd stores it (empty for a user without password). */
  readonly password: string;
  readonly roles: readonly string[];
  readonly noPassword: boolean;
}

export interface RoleRecord {
  readonly name: string;
  readonly permissions: readonly Permission[];
}

const utf8 = new TextEncoder();

export function encodeUser(user: UserRecord): Uint8Array {
  const w = new ProtoWriter().bytes(1, utf8.encode(user.name)).bytes(2, utf8.encode(user.password));
  for (const role of user.roles) w.bytes(3, utf8.encode(role), true);
  // etcd stores the UserAddOptions it was given; etcdctl always sends one.
  return w.bytes(4, new ProtoWriter().varint(1, user.noPassword).finish(), true).finish();
}

export function decodeUser(buf: Uint8Array): UserRecord {
  let name = '';
  let password = '';
  const roles: string[] = [];
  let noPassword = false;
  for (const f of fields(buf)) {
    if (f.field === 1) name = textOf(f);
    else if (f.field === 2) password = textOf(f);
    else if (f.field === 3) roles.push(textOf(f));
    else if (f.field === 4) {
      for (const o of fields(bytesOf(f))) if (o.field === 1) noPassword = uint64(o) !== 0n;
    }
  }
  return { name, password, roles, noPassword };
}

export function encodeRole(role: RoleRecord): Uint8Array {
  const w = new ProtoWriter().bytes(1, utf8.encode(role.name));
  for (const p of role.permissions) {
    const perm = new ProtoWriter()
      .varint(1, PERM_TYPES.indexOf(p.permType))
      .bytes(2, p.key)
      .bytes(3, p.rangeEnd ?? new Uint8Array(0))
      .finish();
    w.bytes(2, perm, true);
  }
  return w.finish();
}

export function decodeRole(buf: Uint8Array): RoleRecord {
  let name = '';
  const permissions: Permission[] = [];
  for (const f of fields(buf)) {
    if (f.field === 1) name = textOf(f);
    else if (f.field === 2) {
      let permType: PermissionType = 'READ';
      let key: Uint8Array = new Uint8Array(0);
      let rangeEnd: Uint8Array | undefined;
      for (const p of fields(bytesOf(f))) {
        if (p.field === 1) permType = PERM_TYPES[Number(uint64(p))] ?? bad(p);
        else if (p.field === 2) key = bytesOf(p);
        else if (p.field === 3) rangeEnd = bytesOf(p);
      }
      permissions.push(rangeEnd && rangeEnd.length > 0 ? { permType, key, rangeEnd } : { permType, key });
    }
  }
  return { name, permissions };
}

// ---- etcdserverpb.AlarmMember -------------------------------------------------------------------------------

export type AlarmKind = 'NONE' | 'NOSPACE' | 'CORRUPT';
const ALARM_KINDS: readonly AlarmKind[] = ['NONE', 'NOSPACE', 'CORRUPT'];

export function encodeAlarmMember(memberId: bigint, alarm: AlarmKind): Uint8Array {
  return new ProtoWriter()
    .varint(1, BigInt.asUintN(64, memberId))
    .varint(2, ALARM_KINDS.indexOf(alarm))
    .finish();
}
