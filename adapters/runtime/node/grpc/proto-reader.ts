// The wire level of the strict protobuf decoder (decode.ts): varints, length-delimited runs, scalars and the skipping
// of unknown fields, each with the error text gogo/protobuf (or, for grpc.health.v1, golang/protobuf) gives for the
// same bytes. Nothing here knows a message schema; decode.ts walks messages with these steps.

import type { Kind } from './proto-schema.ts';

/** A decoding failure, with the text gogo/protobuf gives (grpc-go puts it after its own prefix). */
export class ProtoDecodeError extends Error {
  override readonly name = 'ProtoDecodeError';
}

const ERR_EOF = 'unexpected EOF';
const ERR_OVERFLOW = 'proto: integer overflow';
const ERR_LENGTH = 'proto: negative length found during unmarshaling';
const ERR_END_OF_GROUP = 'proto: unexpected end of group';

// The varint just read, as two unsigned 32-bit halves (module state: no allocation per varint). Importers read
// them, and `value` below, as live bindings right after the call that set them.
export let lo = 0;
export let hi = 0;

export function fail(text: string): never {
  throw new ProtoDecodeError(text);
}

/** Reads a varint at `p` (bound `end`) into lo/hi as gogo does: more than 10 bytes overflow. Returns the new position. */
export function varint(buf: Uint8Array, p: number, end: number): number {
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
export function runEnd(p: number, end: number): number {
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

/** Reads one scalar of `kind` at `p` (its wire type already checked); stores it in `value`. */
export let value: unknown;
export function scalar(kind: Kind, buf: Uint8Array, p: number, end: number): number {
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
export function skip(buf: Uint8Array, p: number, end: number, wt: number): number {
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
export function skipGolang(buf: Uint8Array, p: number, end: number, wt: number): number {
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
