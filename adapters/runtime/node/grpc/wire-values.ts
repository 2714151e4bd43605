// The scalar conversions every message translation in wire.ts shares: proto-loader's int64 strings in, numbers or
// Long-like bits out, and empty bytes as absent.

/** proto-loader's int64/uint64 (`longs: String`). */
export type Int64 = string;

/** Any outgoing message: a plain object tree proto-loader's `fromObject` accepts. */
export type WireMessage = { [field: string]: unknown };

/** An int64 field as a number (revisions, versions, TTLs, limits: all < 2^53 in practice). */
export function num(v: Int64 | number | undefined): number {
  return v === undefined || v === '' ? 0 : Number(v);
}

/** An int64/uint64 ID field as a bigint (lease, member and cluster IDs). */
export function big(v: Int64 | undefined): bigint {
  return v === undefined || v === '' ? 0n : BigInt(v);
}

export function optBytes(v: Uint8Array | undefined): Uint8Array | undefined {
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
