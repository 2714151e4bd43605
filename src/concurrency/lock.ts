// etcd's v3lock service (etcdserver/api/v3lock) over an EdgeNode. etcd's lockServer builds an orphaned
// concurrency.Session on the caller's lease and runs concurrency.Mutex.Lock; Unlock is a plain delete. This file is
// that recipe:
//
//   key = name + "/" + hex(lease)
//   Txn  If create_revision(key) == 0
//        Then put(key, "", lease), get(prefix, first by create revision)
//        Else get(key),            get(prefix, first by create revision)
//   myRev = the key's create revision; if it is the first one, the lock is held.
//   Else wait until no key under the prefix was created before myRev (watching the predecessor's deletion), then
//   check the key still exists (the lease may have expired while waiting).
//
// That last check is etcd 3.5's (`mutex: session is expired`). etcd 3.4.23 does not make it: its Lock then answers
// success with a key that no longer exists (verified against etcd 3.4.23), i.e. hands out a lock nobody holds.
// edgecd deliberately answers the 3.5 error instead.
//
// A wait that fails or is cancelled deletes the key (Mutex.Lock's `m.Unlock` on a wait error), so an abandoned
// waiter does not block later ones until its lease expires.

import { EtcdError } from '../etcd/errors.ts';
import type { ResponseHeader } from '../etcd/types.ts';
import type { EdgeNode, RequestOptions } from '../server/node.ts';
import {
  canceled,
  candidateKey,
  DEFAULT_SESSION_TTL,
  EMPTY,
  firstCreate,
  identity,
  keyPrefix,
  onlyKv,
  waitDeletes,
} from './recipe.ts';

/** v3lockpb.LockRequest. */
export interface LockRequest {
  readonly name: Uint8Array;
  /** The lease the lock key is attached to; 0n = grant a fresh 60 s lease (what etcd's session does). */
  readonly lease: bigint;
}

/** v3lockpb.LockResponse. */
export interface LockResponse {
  readonly header: ResponseHeader;
  /** The owner key, `name/<lease hex>`: pass it to Unlock. */
  readonly key: Uint8Array;
}

/** A LockResponse plus what the caller needs for fencing. */
export interface AcquiredLock extends LockResponse {
  /** The lock key's create revision: a fencing token, larger for every later holder of the same lock. */
  readonly createRevision: number;
  /** The lease the key is attached to (the one granted when the request gave none). */
  readonly lease: bigint;
}

/** v3lockpb.UnlockRequest. */
export interface UnlockRequest {
  readonly key: Uint8Array;
}

/** v3lockpb.UnlockResponse. */
export interface UnlockResponse {
  readonly header: ResponseHeader;
}

/** concurrency.ErrSessionExpired: the lock key vanished (its lease expired or was revoked) while waiting. */
export function sessionExpired(): EtcdError {
  return EtcdError.unknown('mutex: session is expired');
}

/**
 * v3lock Lock: blocks until the caller holds the lock `name` with `lease`. Cancelling through `opts.signal`
 * deletes the waiter's key and rejects with `context canceled`.
 */
export async function lock(
  node: EdgeNode,
  req: LockRequest,
  opts: RequestOptions = {},
): Promise<AcquiredLock> {
  const { signal } = opts;
  if (signal?.aborted) throw canceled();
  let lease = req.lease;
  if (lease === 0n) lease = (await node.leaseGrant({ TTL: DEFAULT_SESSION_TTL }, opts)).ID;

  const prefix = keyPrefix(req.name);
  const key = candidateKey(prefix, lease);
  const getOwner = { requestRange: firstCreate(prefix) };
  const resp = await node.txn(
    {
      compare: [{ result: 'EQUAL', target: 'CREATE', key, createRevision: 0 }],
      success: [{ requestPut: { key, value: EMPTY, lease } }, getOwner],
      failure: [{ requestRange: { key } }, getOwner],
    },
    opts,
  );
  const myRev = resp.succeeded
    ? resp.header.revision
    : onlyKv(resp.responses[0]?.responseRange?.kvs).createRevision;
  const release = () =>
    node.deleteRange({ key }, identity(opts)).then(
      () => undefined,
      () => undefined,
    );

  if (signal?.aborted) {
    // Nobody is waiting for the answer: take back a key this call created.
    if (resp.succeeded) await release();
    throw canceled();
  }
  const owner = resp.responses[1]?.responseRange?.kvs ?? [];
  if (owner.length === 0 || owner[0].createRevision === myRev) {
    return { header: resp.header, key, createRevision: myRev, lease };
  }

  let header: ResponseHeader;
  try {
    await waitDeletes(node, prefix, myRev - 1, opts);
    if (signal?.aborted) throw canceled();
    const own = await node.range({ key }, identity(opts));
    if (own.kvs.length === 0 || own.kvs[0].createRevision !== myRev) throw sessionExpired();
    header = own.header;
  } catch (e) {
    await release();
    throw e;
  }
  if (signal?.aborted) {
    await release();
    throw canceled();
  }
  return { header, key, createRevision: myRev, lease };
}

/** v3lock Unlock: deletes the owner key (whoever holds it; a missing key is not an error). */
export async function unlock(
  node: EdgeNode,
  req: UnlockRequest,
  opts: RequestOptions = {},
): Promise<UnlockResponse> {
  const resp = await node.deleteRange({ key: req.key }, opts);
  return { header: resp.header };
}
