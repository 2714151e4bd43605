// Fencing tokens for locks and leaderships.
//
// Why: a lease-based lock does not by itself guarantee mutual exclusion. A holder can pause (GC, a stalled VM, a
// slow network) past its lease's TTL; the lease expires, the key is deleted, the next waiter acquires the lock, and
// the first holder wakes up still believing it holds it. Jepsen's analysis of etcd 3.4.3 (2020) showed exactly
// this with etcd's lock service: two clients inside the "same" critical section at once. etcd's own advice is to
// make every protected write conditional on the lock still being held.
//
// How: every acquisition gets a token, the lock key's create revision. It is unique and strictly larger for every
// later holder of the same lock (the next holder's key is created after this one's). Use it in two ways:
//  - writes to etcd itself: run them in a txn that also compares `create_revision(lockKey) == token`
//    (`withFencing(token, txn)` or `mutex.guardedTxn(txn)`); once the lock is lost the key is gone or re-created,
//    the compare fails and nothing is written (`succeeded: false`);
//  - writes to another system: send the token along and have that system refuse any token lower than the highest
//    it has seen.

import type { Compare, TxnRequest } from '../etcd/types.ts';

/** Identifies one holding of a lock (or one leadership): the owner key and its create revision. */
export interface FencingToken {
  readonly key: Uint8Array;
  /** The key's create revision; larger for each later holder. */
  readonly revision: number;
}

/** The compare that holds only while `token`'s key still exists with that create revision. */
export function fencingCompare(token: FencingToken): Compare {
  return { result: 'EQUAL', target: 'CREATE', key: token.key, createRevision: token.revision };
}

/**
 * `txn` with the fence added to its compares: its success branch runs only while the lock (or leadership) that
 * `token` names is still held. A failed fence makes the txn take its failure branch, like any failed compare.
 */
export function withFencing(token: FencingToken, txn: TxnRequest = {}): TxnRequest {
  return { ...txn, compare: [fencingCompare(token), ...(txn.compare ?? [])] };
}
