// HashKV (etcd mvcc store.HashByRev): CRC-32C over the bucket name "key", then each record up to the revision in
// revision order, as etcd stores it: the 17-byte revision key (main, '_', sub; +'t' for a tombstone) followed by
// the protobuf-encoded mvccpb.KeyValue (a tombstone stores only its key). Equal histories hash equal on every
// member; built the same way as etcd's, the hash of the same history should match a real etcd's.

import { errors } from '../etcd/errors.ts';
import type { KeyValue } from '../etcd/kv.ts';
import type { KvState } from './kv-state.ts';
import { toKeyValue } from './record.ts';

const CASTAGNOLI_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** Incremental CRC-32C (Castagnoli), as Go's hash/crc32 with crc32.Castagnoli. */
export class Crc32c {
  private crc = 0xffffffff;

  update(bytes: Uint8Array): this {
    let c = this.crc;
    for (let i = 0; i < bytes.length; i++) c = CASTAGNOLI_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
    this.crc = c;
    return this;
  }

  digest(): number {
    return (this.crc ^ 0xffffffff) >>> 0;
  }
}

export function crc32c(bytes: Uint8Array): number {
  return new Crc32c().update(bytes).digest();
}

export interface HashResult {
  readonly hash: number;
  /** The store's current revision (HashKV's header revision). */
  readonly revision: number;
  readonly compactRevision: number;
}

const KEY_BUCKET = new Uint8Array([0x6b, 0x65, 0x79]); // "key"

export function hashKV(state: KvState, rev: number): HashResult {
  const { compactRev, currentRev } = state;
  if (rev > 0 && rev <= compactRev) throw errors.compacted();
  if (rev > currentRev) throw errors.futureRev();
  if (rev === 0) rev = currentRev;
  // Records at or below the compact revision count only if a compaction at `rev` would keep them, so members
  // that compacted and members that did not yet agree (etcd's kvindex.Keep).
  const keep = state.index.keep(rev);
  const h = new Crc32c().update(KEY_BUCKET);
  for (const record of state.history.entries()) {
    const main = record.main;
    if (main > rev) break;
    if (main <= compactRev && keep.size > 0 && !keep.has(record)) continue;
    h.update(revisionBytes(main, record.sub, record.tombstone));
    h.update(
      encodeKeyValue(
        record.tombstone ? { ...ZERO, key: record.key } : toKeyValue(record, record.peekValue()),
      ),
    );
  }
  return { hash: h.digest(), revision: currentRev, compactRevision: compactRev };
}

const ZERO: KeyValue = {
  key: new Uint8Array(0),
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: new Uint8Array(0),
  lease: 0n,
};

/** etcd's revToBytes: 8-byte big-endian main, '_', 8-byte big-endian sub, then 't' for a tombstone. */
export function revisionBytes(main: number, sub: number, tombstone: boolean): Uint8Array {
  const bytes = new Uint8Array(tombstone ? 18 : 17);
  const view = new DataView(bytes.buffer);
  view.setBigUint64(0, BigInt(main));
  bytes[8] = 0x5f;
  view.setBigUint64(9, BigInt(sub));
  if (tombstone) bytes[17] = 0x74;
  return bytes;
}

/** mvccpb.KeyValue in protobuf wire format, fields in number order, zero values left out (gogoproto Marshal). */
export function encodeKeyValue(kv: KeyValue): Uint8Array {
  const out: number[] = [];
  if (kv.key.length > 0) bytesField(out, 1, kv.key);
  if (kv.createRevision !== 0) varintField(out, 2, BigInt(kv.createRevision));
  if (kv.modRevision !== 0) varintField(out, 3, BigInt(kv.modRevision));
  if (kv.version !== 0) varintField(out, 4, BigInt(kv.version));
  if (kv.value.length > 0) bytesField(out, 5, kv.value);
  if (kv.lease !== 0n) varintField(out, 6, kv.lease);
  return Uint8Array.from(out);
}

function bytesField(out: number[], field: number, bytes: Uint8Array): void {
  out.push((field << 3) | 2);
  varint(out, BigInt(bytes.length));
  for (let i = 0; i < bytes.length; i++) out.push(bytes[i]);
}

function varintField(out: number[], field: number, value: bigint): void {
  out.push(field << 3);
  varint(out, value);
}

/** Base-128 varint; a negative int64 is sent as its 64-bit two's complement (10 bytes), as protobuf does. */
function varint(out: number[], value: bigint): void {
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}
