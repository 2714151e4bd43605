// The replicated state machine: the keyspace, the leases and the membership, changed only by applying
// committed entries — identically on every member. It also serializes itself into the Raft snapshot (with the
// index it covers, so a restart never applies an entry twice) and restores from one.

import { decode, encode } from '@msgpack/msgpack';
import { EtcdError, errors } from '../api/errors.ts';
import type { Event } from '../api/types.ts';
import { Lessor } from '../lease/index.ts';
import { MvccStore } from '../mvcc/store.ts';
import { AlarmStore, corruptKeyspaceSnapshot } from './alarms.ts';
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
  /** A `hashCheck` entry found this member's keyspace differing from the leader's (it raises CORRUPT). */
  onHashMismatch?(revision: number): void;
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
  alarms = new AlarmStore();
  /** Cached lease count for dbSize (recounted after lease operations). */
  private leaseCount: number | undefined;
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

  /**
   * Status' dbSize: the keyspace's serialized size (kept incrementally, no serialization) plus a small amount per
   * lease. The space quota applies to it; compaction shrinks it at once (there is nothing to defragment).
   */
  dbSize(): number {
    if (this.leaseCount === undefined) this.leaseCount = this.lessor.leases().length;
    return this.mvcc.sizeBytes + this.leaseCount * 32;
  }

  private applyOp(op: Operation, now: number): unknown {
    this.alarms.check(op);
    if (op.type === 'leaseGrant' || op.type === 'leaseRevoke') this.leaseCount = undefined;
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
      case 'updateMember':
        this.members.updatePeerURLs(BigInt(op.id), op.peerURLs);
        return { members: this.members.list() };
      case 'noop':
        return {};
      case 'alarm':
        return {
          alarms:
            op.action === 'ACTIVATE'
              ? this.alarms.activate(BigInt(op.memberID), op.alarm)
              : this.alarms.deactivate(BigInt(op.memberID), op.alarm),
        };
      case 'hashCheck': {
        // Every member applies this at the same point of the log, so each compares the same revision.
        const rev = Number(op.revision);
        if (rev <= this.mvcc.compactRevision || rev > this.mvcc.revision) return { checked: false };
        const mismatch = this.mvcc.hashKV(rev).hash !== Number(op.hash);
        if (mismatch) this.hooks.onHashMismatch?.(rev);
        return { checked: true, mismatch };
      }
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

  /** Test hook: changes one stored value behind Raft's back, as a disk fault would (the corruption check's prey). */
  testingCorruptKeyspace(): void {
    this.mvcc = this.newStore(corruptKeyspaceSnapshot(this.mvcc.snapshot()));
  }

  snapshot(): Uint8Array {
    return encode(
      {
        appliedIndex: this.appliedIndex,
        mvcc: this.mvcc.snapshot(),
        lessor: this.lessor.snapshot(),
        members: this.members.toJSON(),
        dedup: this.dedup.toJSON(),
        alarms: this.alarms.toJSON(),
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
      alarms?: unknown;
    };
    this.lessor = this.newLessor();
    this.lessor.restore(d.lessor);
    this.mvcc = this.newStore(d.mvcc);
    this.members = Members.fromJSON(d.members);
    this.dedup = RequestDedup.fromJSON(d.dedup);
    this.alarms = AlarmStore.fromJSON(d.alarms);
    this.leaseCount = undefined;
    this.appliedIndex = Number(d.appliedIndex);
  }
}
