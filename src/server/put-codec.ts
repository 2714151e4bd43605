// The most common Raft entry, a put, in a fixed binary layout: a msgpack-coded proposal spelled out its field
// names and was decoded on every member (~4% of a member's CPU under a put load). Every other operation stays
// msgpack (./ops.ts); the first byte tells them apart (a msgpack proposal is an array, 0x94).
//
//   u8 0xB3 | u8 flags | u64 member (LE) | f64 nonce | f64 seq | [i64 lease] | u32 key length, key
//   | [u32 value length, value] | [u32 user length, user (UTF-8), f64 auth revision]
// flags: 1 lease, 2 prevKv, 4 ignoreValue, 8 ignoreLease, 16 auth, 32 value.

import type { PutRequest } from '../etcd/types.ts';
import type { OpAuth, Proposal, RequestId } from './ops.ts';

export const PUT_PROPOSAL_TAG = 0xb3;

const LEASE = 1;
const PREV_KV = 2;
const IGNORE_VALUE = 4;
const IGNORE_LEASE = 8;
const AUTH = 16;
const VALUE = 32;
const FIXED = 1 + 1 + 8 + 8 + 8;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

export function encodePutProposal(id: RequestId, request: PutRequest, auth: OpAuth | undefined): Uint8Array {
  let flags = 0;
  let size = FIXED + 4 + request.key.length;
  if (request.lease !== undefined) {
    flags |= LEASE;
    size += 8;
  }
  if (request.prevKv) flags |= PREV_KV;
  if (request.ignoreValue) flags |= IGNORE_VALUE;
  if (request.ignoreLease) flags |= IGNORE_LEASE;
  if (request.value !== undefined) {
    flags |= VALUE;
    size += 4 + request.value.length;
  }
  const user = auth ? utf8.encode(auth.user) : undefined;
  if (user) {
    flags |= AUTH;
    size += 4 + user.length + 8;
  }
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = PUT_PROPOSAL_TAG;
  out[1] = flags;
  view.setBigUint64(2, id.member, true);
  view.setFloat64(10, id.nonce, true);
  view.setFloat64(18, id.seq, true);
  let at = FIXED;
  if (request.lease !== undefined) {
    view.setBigInt64(at, request.lease, true);
    at += 8;
  }
  const bytes = (b: Uint8Array) => {
    view.setUint32(at, b.length, true);
    out.set(b, at + 4);
    at += 4 + b.length;
  };
  bytes(request.key);
  if (request.value !== undefined) bytes(request.value);
  if (user && auth) {
    bytes(user);
    view.setFloat64(at, auth.revision, true);
  }
  return out;
}

/** A put proposal; its key and value view into `data` (the entry's bytes), as msgpack's decoding did. */
export function decodePutProposal(data: Uint8Array): Proposal {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const fail = () => new Error('server: malformed put proposal entry');
  if (data.length < FIXED || data[0] !== PUT_PROPOSAL_TAG) throw fail();
  const flags = data[1];
  const id: RequestId = {
    member: view.getBigUint64(2, true),
    nonce: view.getFloat64(10, true),
    seq: view.getFloat64(18, true),
  };
  let at = FIXED;
  const need = (n: number) => {
    if (at + n > data.length) throw fail();
  };
  let lease: bigint | undefined;
  if (flags & LEASE) {
    need(8);
    lease = view.getBigInt64(at, true);
    at += 8;
  }
  const bytes = () => {
    need(4);
    const n = view.getUint32(at, true);
    need(4 + n);
    const b = data.subarray(at + 4, at + 4 + n);
    at += 4 + n;
    return b;
  };
  const request: { -readonly [K in keyof PutRequest]: PutRequest[K] } = { key: bytes() };
  if (flags & VALUE) request.value = bytes();
  if (lease !== undefined) request.lease = lease;
  if (flags & PREV_KV) request.prevKv = true;
  if (flags & IGNORE_VALUE) request.ignoreValue = true;
  if (flags & IGNORE_LEASE) request.ignoreLease = true;
  let auth: OpAuth | undefined;
  if (flags & AUTH) {
    const user = fromUtf8.decode(bytes());
    need(8);
    auth = { user, revision: view.getFloat64(at, true) };
    at += 8;
  }
  if (at !== data.length) throw fail();
  return { id, op: auth ? { type: 'put', request, auth } : { type: 'put', request } };
}
