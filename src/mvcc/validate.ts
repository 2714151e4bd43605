// Request checks etcd makes before proposing (etcdserver/api/v3rpc/key.go). Every API surface runs them through
// src/api/pipeline.ts, so a bad request is refused before it is replicated; the store runs them again on apply:
// they are cheap and deterministic, and a request that reaches the store by another road (an embedder calling
// EdgeNode directly) is still refused, identically on every member.

import { errors } from '../etcd/errors.ts';
import type { DeleteRangeRequest, PutRequest, RangeRequest, RequestOp, TxnRequest } from '../etcd/kv.ts';
import { DEFAULT_MAX_TXN_OPS } from '../etcd/limits.ts';
import { bytesToMapKey, compareBytes } from './bytes.ts';

export { DEFAULT_MAX_TXN_OPS };

export function checkRangeRequest(r: RangeRequest): void {
  if (r.key.length === 0) throw errors.emptyKey();
}

/**
 * etcd v3.7's checkRangeStreamRequest: Range's checks, then what a stream of chunks cannot serve. etcd's
 * txn.IsDefaultOrdering counts every NONE order as default (a non-KEY target with NONE sorts ascending by that
 * target), so only ASCEND on another target than KEY, and DESCEND, are refused.
 */
export function checkRangeStreamRequest(r: RangeRequest): void {
  checkRangeRequest(r);
  const order = r.sortOrder ?? 'NONE';
  if (order !== 'NONE' && !(order === 'ASCEND' && (r.sortTarget ?? 'KEY') === 'KEY'))
    throw errors.rangeStreamSortOrder();
  if (hasRevisionFilters(r)) throw errors.rangeStreamRevisionFilters();
}

/** etcd's txn.HasRevisionFilters. */
export function hasRevisionFilters(r: RangeRequest): boolean {
  return !!(r.minModRevision || r.maxModRevision || r.minCreateRevision || r.maxCreateRevision);
}

export function checkPutRequest(r: PutRequest): void {
  if (r.key.length === 0) throw errors.emptyKey();
  if (r.ignoreValue && (r.value?.length ?? 0) !== 0) throw errors.valueProvided();
  if (r.ignoreLease && (r.lease ?? 0n) !== 0n) throw errors.leaseProvided();
}

export function checkDeleteRequest(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw errors.emptyKey();
}

/**
 * Op counts (the largest of compares, success ops, failure ops; a nested txn gets what its parent left), empty
 * keys, empty ops, then overlapping writes in either branch.
 */
export function checkTxnRequest(r: TxnRequest, maxTxnOps = DEFAULT_MAX_TXN_OPS): void {
  checkTxnShape(r, maxTxnOps);
  checkIntervals(r.success ?? []);
  checkIntervals(r.failure ?? []);
}

function checkTxnShape(r: TxnRequest, maxTxnOps: number): void {
  const compare = r.compare ?? [];
  const success = r.success ?? [];
  const failure = r.failure ?? [];
  const opc = Math.max(compare.length, success.length, failure.length);
  if (opc > maxTxnOps) throw errors.tooManyOps();
  for (const c of compare) if (c.key.length === 0) throw errors.emptyKey();
  for (const op of success) checkRequestOp(op, maxTxnOps - opc);
  for (const op of failure) checkRequestOp(op, maxTxnOps - opc);
}

function checkRequestOp(op: RequestOp, maxTxnOps: number): void {
  if (op.requestRange) checkRangeRequest(op.requestRange);
  else if (op.requestPut) checkPutRequest(op.requestPut);
  else if (op.requestDeleteRange) checkDeleteRequest(op.requestDeleteRange);
  else if (op.requestTxn) checkTxnShape(op.requestTxn, maxTxnOps);
  // An empty oneof: etcd answers "key not found".
  else throw errors.keyNotFound();
}

/** A deleted point or range: `end` undefined = the single key, else [key, end) taken literally (as etcd). */
interface DeleteInterval {
  readonly key: Uint8Array;
  readonly end: Uint8Array | undefined;
}

function intersects(dels: readonly DeleteInterval[], k: Uint8Array): boolean {
  return dels.some((d) => {
    const c = compareBytes(k, d.key);
    if (d.end === undefined) return c === 0;
    return c >= 0 && compareBytes(k, d.end) < 0;
  });
}

/**
 * etcd's checkIntervals: within one list of ops (recursing into nested txns), no key may be put twice or be
 * both put and deleted. Overlapping deletes are fine, and a nested txn's then/else branches may put the same key
 * since only one of them runs.
 */
function checkIntervals(reqs: readonly RequestOp[]): { puts: Set<string>; dels: DeleteInterval[] } {
  const dels: DeleteInterval[] = [];
  for (const op of reqs) {
    const d = op.requestDeleteRange;
    if (d === undefined) continue;
    const rangeEnd = d.rangeEnd;
    if (rangeEnd === undefined || rangeEnd.length === 0) dels.push({ key: d.key, end: undefined });
    // etcd's interval check takes range_end literally, so a delete with range_end "\0" (every key ≥ key) is the
    // empty interval [key, "\0") here and conflicts with nothing (the differential test against etcd 3.4.23).
    else dels.push({ key: d.key, end: rangeEnd });
  }

  const puts = new Map<string, Uint8Array>();
  const childDels: DeleteInterval[] = [];
  for (const op of reqs) {
    const t = op.requestTxn;
    if (t === undefined) continue;
    const then = checkIntervals(t.success ?? []);
    const otherwise = checkIntervals(t.failure ?? []);
    const all = [...dels, ...childDels];
    for (const k of then.puts) {
      if (puts.has(k) || intersects(all, keyBytes(k))) throw errors.duplicateKey();
      puts.set(k, keyBytes(k));
    }
    for (const k of otherwise.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw errors.duplicateKey();
      if (intersects(all, keyBytes(k))) throw errors.duplicateKey();
      puts.set(k, keyBytes(k));
    }
    childDels.push(...then.dels, ...otherwise.dels);
  }
  dels.push(...childDels);

  for (const op of reqs) {
    const p = op.requestPut;
    if (p === undefined) continue;
    const k = bytesToMapKey(p.key);
    if (puts.has(k) || intersects(dels, p.key)) throw errors.duplicateKey();
    puts.set(k, p.key);
  }
  return { puts: new Set(puts.keys()), dels };
}

function keyBytes(mapKey: string): Uint8Array {
  const bytes = new Uint8Array(mapKey.length);
  for (let i = 0; i < mapKey.length; i++) bytes[i] = mapKey.charCodeAt(i);
  return bytes;
}
