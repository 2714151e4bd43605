// A distributed mutex over an EdgeNode: concurrency.Mutex's recipe (src/concurrency/lock.ts) on a Session's
// lease, plus fencing tokens (./fencing.ts).
//
//   const session = await Session.create(node, { clock });
//   const mutex = new Mutex(session, 'jobs/lock');
//   const token = await mutex.lock();                    // blocks; token.revision is the fencing token
//   const r = await mutex.guardedTxn([{ requestPut: { key, value } }]);
//   if (!r.succeeded) … the lock was lost: nothing was written
//   await mutex.unlock();

import { lock as acquire, unlock as release } from '../concurrency/lock.ts';
import { toBytes } from '../concurrency/recipe.ts';
import { EtcdError } from '../etcd/errors.ts';
import type { RequestOp, TxnRequest, TxnResponse } from '../etcd/types.ts';
import type { RequestOptions } from '../server/node.ts';
import { type FencingToken, withFencing } from './fencing.ts';
import type { Session } from './session.ts';

export class Mutex {
  private readonly name: Uint8Array;
  private held: FencingToken | undefined;

  readonly session: Session;

  constructor(session: Session, name: string | Uint8Array) {
    this.session = session;
    this.name = toBytes(name);
  }

  /**
   * Waits until this session holds the lock; returns the fencing token. Aborting `opts.signal` while waiting
   * removes this session's place in the queue and rejects with `context canceled`.
   */
  async lock(opts: RequestOptions = {}): Promise<FencingToken> {
    if (!this.session.live) throw EtcdError.unknown('mutex: session is expired');
    const r = await acquire(this.session.node, { name: this.name, lease: this.session.lease }, opts);
    this.held = { key: r.key, revision: r.createRevision };
    return this.held;
  }

  /** Releases the lock (deletes the owner key). A no-op when not held. */
  async unlock(opts: RequestOptions = {}): Promise<void> {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    await release(this.session.node, { key: held.key }, opts);
  }

  /** The owner key while held (`name/<lease hex>`). */
  get key(): Uint8Array | undefined {
    return this.held?.key;
  }

  /** The fencing token of the current holding, undefined when not held. */
  get token(): FencingToken | undefined {
    return this.held;
  }

  /** Asks the cluster (linearizably) whether this holding is still current. */
  async isOwner(): Promise<boolean> {
    const held = this.held;
    if (!held) return false;
    const r = await this.session.node.range({ key: held.key });
    return r.kvs.length === 1 && r.kvs[0].createRevision === held.revision;
  }

  /**
   * Runs `ops` (or a whole txn) only while the lock is still held by this holding: the txn gets the fence
   * `create_revision(key) == token` in front of its compares. `succeeded: false` means a compare failed — with
   * no compares of your own, that the lock was lost and nothing in the success branch was applied.
   */
  async guardedTxn(ops: readonly RequestOp[] | TxnRequest, opts: RequestOptions = {}): Promise<TxnResponse> {
    const held = this.held;
    if (!held) throw EtcdError.unknown('edgecd: mutex is not locked');
    const txn: TxnRequest = isOpList(ops) ? { success: ops } : ops;
    return this.session.node.txn(withFencing(held, txn), opts);
  }
}

function isOpList(ops: readonly RequestOp[] | TxnRequest): ops is readonly RequestOp[] {
  return Array.isArray(ops);
}
