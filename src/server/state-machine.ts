// The replicated state machine: the keyspace, the leases and the membership, changed only by applying
// committed entries — identically on every member. It also serializes itself into the Raft snapshot (with the
// index it covers, so a restart never applies an entry twice) and restores from one.

import { decode, encode } from '@msgpack/msgpack';
import { EtcdError, errors } from '../api/errors.ts';
import type { Event } from '../api/types.ts';
import { Lessor } from '../lease/index.ts';
import { MvccStore } from '../mvcc/store.ts';
import { Members } from './members.ts';
import type { Operation } from './ops.ts';
import { RequestDedup } from './request-dedup.ts';

export type ApplyResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly error: EtcdError };

export interface StateMachineHooks {
  /** Events of one write (one revision), for watchers. */
  onEvents(events: readonly Event[], revision: number): void;
  onCompacted(revision: number): void;
}

export interface StateMachineOptions {
  readonly maxTxnOps?: number;
  /** Minimum lease TTL in seconds (etcd: ceil(1.5 × election timeout)); the same on every member. */
  readonly minLeaseTtl: number;
}

export class ServerStateMachine {
  mvcc: MvccStore;
  lessor: Lessor;
  members = new Members();
  dedup = new RequestDedup();
  /** The last Raft index whose effects this state includes. */
  appliedIndex = 0;

  constructor(
    private readonly options: StateMachineOptions,
    private readonly hooks: StateMachineHooks,
  ) {
    this.lessor = this.newLessor();
    this.mvcc = this.newStore();
  }

  private newLessor(): Lessor {
    return new Lessor({ minTtl: this.options.minLeaseTtl, keysForLease: (id) => this.mvcc.keysForLease(id) });
  }

  private newStore(bytes?: Uint8Array): MvccStore {
    const opts = {
      maxTxnOps: this.options.maxTxnOps,
      leaseExists: (id: bigint) => this.lessor.get(id) !== undefined,
    };
    return bytes ? MvccStore.restore(bytes, opts) : new MvccStore(opts);
  }

  /** `now` only feeds leader-local lease deadlines; replicated state never depends on it. */
  apply(op: Operation, now: number): ApplyResult {
    try {
      return { ok: true, value: this.applyOp(op, now) };
    } catch (e) {
      if (e instanceof EtcdError) return { ok: false, error: e };
      // A bug or a malformed entry. Every member applies the same entry the same way, so answering with an error
      // keeps them in step; crashing would crash every member again on every replay of this entry.
      return {
        ok: false,
        error: new EtcdError('Internal', `etcdserver: apply failed: ${(e as Error).message}`),
      };
    }
  }

  private applyOp(op: Operation, now: number): unknown {
    switch (op.type) {
      case 'put': {
        const r = this.mvcc.put(op.request);
        this.emit(r.events);
        return r.response;
      }
      case 'deleteRange': {
        const r = this.mvcc.deleteRange(op.request);
        this.emit(r.events);
        return r.response;
      }
      case 'txn': {
        const r = this.mvcc.txn(op.request);
        this.emit(r.events);
        return r.response;
      }
      case 'compact': {
        const r = this.mvcc.compact(Number(op.request.revision));
        this.hooks.onCompacted(Number(op.request.revision));
        return r;
      }
      case 'leaseGrant': {
        const lease = this.lessor.applyGrant(BigInt(op.request.ID), Number(op.request.TTL), now);
        return { ID: lease.id, TTL: lease.ttl };
      }
      case 'leaseRevoke': {
        const id = BigInt(op.id);
        if (!this.lessor.get(id)) throw errors.leaseNotFound();
        this.revokeLease(id);
        return {};
      }
      case 'leaseRenew': {
        const ttl = this.lessor.applyRenew(BigInt(op.id), now);
        return { ID: BigInt(op.id), TTL: ttl };
      }
      case 'leaseCheckpoint':
        for (const c of op.checkpoints) {
          if (this.lessor.get(BigInt(c.id)))
            this.lessor.applyCheckpoint(BigInt(c.id), Number(c.remainingTtl));
        }
        return {};
      case 'publishMember':
        this.members.publish(BigInt(op.id), op.name, op.clientURLs);
        return {};
      case 'noop':
        return {};
    }
  }

  /** Revoking a lease deletes all its keys in one revision (etcd: one txn). */
  private revokeLease(id: bigint): void {
    const keys = this.lessor.applyRevoke(id);
    if (keys.length === 0) return;
    this.emit(this.mvcc.deleteKeys(keys).events);
  }

  private emit(events: readonly Event[]): void {
    if (events.length > 0) this.hooks.onEvents(events, this.mvcc.revision);
  }

  snapshot(): Uint8Array {
    return encode(
      {
        appliedIndex: this.appliedIndex,
        mvcc: this.mvcc.snapshot(),
        lessor: this.lessor.snapshot(),
        members: this.members.toJSON(),
        dedup: this.dedup.toJSON(),
      },
      { useBigInt64: true },
    );
  }

  restore(data: Uint8Array): void {
    const d = decode(data, { useBigInt64: true }) as {
      appliedIndex: number;
      mvcc: Uint8Array;
      lessor: Uint8Array;
      members: unknown;
      dedup: unknown;
    };
    this.lessor = this.newLessor();
    this.lessor.restore(d.lessor);
    this.mvcc = this.newStore(d.mvcc);
    this.members = Members.fromJSON(d.members);
    this.dedup = RequestDedup.fromJSON(d.dedup);
    this.appliedIndex = Number(d.appliedIndex);
  }
}
