// Txn execution with etcd 3.4's order (applierV3backend.Txn): every compare, nested ones included, is evaluated
// first against the store as it was before the txn; then the chosen ops are checked (ignore_value/ignore_lease
// need an existing key, range revisions must be readable, leases must exist) so a failing txn changes
// nothing; then the ops run in order inside one write txn, each seeing the earlier ones.

import { errors } from '../etcd/errors.ts';
import type {
  DeleteRangeRequest,
  DeleteRangeResponse,
  PutRequest,
  PutResponse,
  RequestOp,
  ResponseOp,
  TxnRequest,
  TxnResponse,
} from '../etcd/kv.ts';
import { applyCompares } from './compare.ts';
import { keyRange } from './key-range.ts';
import type { ReadView } from './kv-state.ts';
import { applyRange } from './range.ts';
import { header } from './response.ts';
import type { WriteTxn } from './write-txn.ts';

/** Which branch each txn took, decided up front: etcd's txnPath, as a tree instead of a flat slice. */
export interface TxnPath {
  readonly succeeded: boolean;
  /** One entry per nested txn in the chosen branch, in order. */
  readonly nested: readonly TxnPath[];
}

export function compareToPath(view: ReadView, req: TxnRequest): TxnPath {
  const succeeded = applyCompares(view, req.compare ?? []);
  const nested: TxnPath[] = [];
  for (const op of chosenOps(req, succeeded)) {
    if (op.requestTxn) nested.push(compareToPath(view, op.requestTxn));
  }
  return { succeeded, nested };
}

/** True when no branch at any depth writes: such a txn never moves the revision. */
export function isTxnReadOnly(req: TxnRequest): boolean {
  const ops = [...(req.success ?? []), ...(req.failure ?? [])];
  return ops.every(
    (op) => !op.requestPut && !op.requestDeleteRange && (!op.requestTxn || isTxnReadOnly(op.requestTxn)),
  );
}

export interface TxnChecks {
  readonly leaseExists?: (lease: bigint) => boolean;
}

/** Checks the ops that will run, against the pre-txn view; throws the first error (etcd checkRequests). */
/**
 * etcd 3.4's applierV3backend.Txn checks the chosen branches before running them: first every put (recursing into
 * nested txns; for each, a missing key under ignore_value/ignore_lease, then an unknown lease), then every range's
 * revision. The order decides which error a bad txn gets (found by the differential test against etcd).
 */
export function checkTxnOps(view: ReadView, req: TxnRequest, path: TxnPath, checks: TxnChecks): void {
  checkTxnPuts(view, req, path, checks);
  checkTxnRanges(view, req, path);
}

function checkTxnPuts(view: ReadView, req: TxnRequest, path: TxnPath, checks: TxnChecks): void {
  let nested = 0;
  for (const op of chosenOps(req, path.succeeded)) {
    if (op.requestTxn) checkTxnPuts(view, op.requestTxn, path.nested[nested++], checks);
    else if (op.requestPut) {
      const p = op.requestPut;
      if ((p.ignoreValue || p.ignoreLease) && view.rangeKeys(keyRange(p.key, undefined)).kvs.length === 0) {
        throw errors.keyNotFound();
      }
      const lease = p.lease ?? 0n;
      if (lease !== 0n && checks.leaseExists !== undefined && !checks.leaseExists(lease)) {
        throw errors.leaseNotFound();
      }
    }
  }
}

function checkTxnRanges(view: ReadView, req: TxnRequest, path: TxnPath): void {
  let nested = 0;
  for (const op of chosenOps(req, path.succeeded)) {
    if (op.requestTxn) checkTxnRanges(view, op.requestTxn, path.nested[nested++]);
    else if (op.requestRange) {
      const rev = op.requestRange.revision ?? 0;
      if (rev > view.rev) throw errors.futureRev();
      if (rev !== 0 && rev < view.firstRev) throw errors.compacted();
    }
  }
}

export function checkPutOp(view: ReadView, req: PutRequest, checks: TxnChecks): void {
  const lease = req.lease ?? 0n;
  if (lease !== 0n && checks.leaseExists !== undefined && !checks.leaseExists(lease)) {
    throw errors.leaseNotFound();
  }
  if ((req.ignoreValue || req.ignoreLease) && view.rangeKeys(keyRange(req.key, undefined)).kvs.length === 0) {
    throw errors.keyNotFound();
  }
}

/** Runs the chosen branches inside `txn`. The nested TxnResponse header stays zero, as in etcd 3.4. */
export function applyTxnOps(txn: WriteTxn, req: TxnRequest, path: TxnPath): TxnResponse {
  let nested = 0;
  const responses: ResponseOp[] = chosenOps(req, path.succeeded).map((op): ResponseOp => {
    if (op.requestRange) return { responseRange: applyRange(txn, op.requestRange) };
    if (op.requestPut) return { responsePut: applyPut(txn, op.requestPut) };
    if (op.requestDeleteRange) return { responseDeleteRange: applyDeleteRange(txn, op.requestDeleteRange) };
    if (op.requestTxn) return { responseTxn: applyTxnOps(txn, op.requestTxn, path.nested[nested++]) };
    return {};
  });
  return { header: header(0), succeeded: path.succeeded, responses };
}

/** A put inside a write txn, after checkPutOp passed (etcd applierV3backend.Put). */
export function applyPut(txn: WriteTxn, req: PutRequest): PutResponse {
  let value = req.value ?? new Uint8Array(0);
  let lease = req.lease ?? 0n;
  const needPrev = req.ignoreValue || req.ignoreLease || req.prevKv;
  const prev = needPrev ? txn.rangeKeys(keyRange(req.key, undefined)).kvs[0] : undefined;
  if ((req.ignoreValue || req.ignoreLease) && prev === undefined) throw errors.keyNotFound();
  if (req.ignoreValue && prev) value = prev.value;
  if (req.ignoreLease && prev) lease = prev.lease;
  const revision = txn.put(req.key, value, lease);
  return req.prevKv && prev ? { header: header(revision), prevKv: prev } : { header: header(revision) };
}

/** A delete inside a write txn (etcd applierV3backend.DeleteRange). */
export function applyDeleteRange(txn: WriteTxn, req: DeleteRangeRequest): DeleteRangeResponse {
  const range = keyRange(req.key, req.rangeEnd);
  const prevKvs = req.prevKv ? txn.rangeKeys(range).kvs : [];
  const { deleted, revision } = txn.deleteRange(range);
  return { header: header(revision), deleted, prevKvs };
}

function chosenOps(req: TxnRequest, succeeded: boolean): readonly RequestOp[] {
  return (succeeded ? req.success : req.failure) ?? [];
}
