// The replicated state machine: the keyspace, the leases, the membership and auth, changed only by applying
// committed entries — identically on every member. It also serializes itself into the Raft snapshot (with the
// index it covers, so a restart never applies an entry twice) and restores from one.

import { type AuthInfo, type AuthState, AuthStore } from '../auth/auth-store.ts';
import { EtcdError, errors } from '../etcd/errors.ts';
import type { Event } from '../etcd/types.ts';
import { Lessor } from '../lease/index.ts';
import type { ByteReader } from '../mvcc/byte-reader.ts';
import { MvccStore } from '../mvcc/store.ts';
import { SpillReadError, type ValueStoreOptions } from '../mvcc/value-store.ts';
import { AlarmStore, corruptKeyspaceSnapshot } from './alarms.ts';
import { Members } from './members.ts';
import type { AuthOperation, Operation } from './ops.ts';
import { RequestDedup } from './request-dedup.ts';
import {
  readStateMachineSnapshot,
  type SnapshotInProgress,
  type SnapshotPieces,
  type StateMachineParts,
  streamStateMachineSnapshot,
  writeStateMachineSnapshot,
} from './sm-snapshot.ts';

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
  /** Where each new keyspace (at start, and each restored snapshot) keeps its values; all in memory without. */
  readonly values?: () => ValueStoreOptions;
}

export class ServerStateMachine {
  mvcc: MvccStore;
  lessor: Lessor;
  members = new Members();
  dedup = new RequestDedup();
  alarms = new AlarmStore();
  /** Users, roles, the enabled flag and the auth revision (one instance for life: restore fills it in place). */
  readonly auth = new AuthStore();
  /** Cached lease count for dbSize (recounted after lease operations). */
  private leaseCount: number | undefined;
  /** The last Raft index whose effects this state includes. */
  appliedIndex = 0;

  private readonly options: StateMachineOptions;
  private readonly hooks: StateMachineHooks;

  constructor(options: StateMachineOptions, hooks: StateMachineHooks) {
    this.options = options;
    this.hooks = hooks;
    this.lessor = this.newLessor();
    this.mvcc = this.newStore();
  }

  private newLessor(): Lessor {
    return new Lessor({ minTtl: this.options.minLeaseTtl, keysForLease: (id) => this.mvcc.keysForLease(id) });
  }

  private newStore(bytes?: Uint8Array | ByteReader): MvccStore {
    const opts = {
      maxTxnOps: this.options.maxTxnOps,
      leaseExists: (id: bigint) => this.lessor.get(id) !== undefined,
      values: this.options.values?.(),
    };
    return bytes ? MvccStore.restore(bytes, opts) : new MvccStore(opts);
  }

  /**
   * `now` only feeds leader-local lease deadlines and simple-token TTLs; replicated state never depends on it.
   * `index`: the entry's Raft index (simple tokens name it); defaults to the next one.
   */
  apply(op: Operation, now: number, index = this.appliedIndex + 1): ApplyResult {
    try {
      return { ok: true, value: this.applyOp(op, now, index) };
    } catch (e) {
      if (e instanceof EtcdError) return { ok: false, error: e };
      // The member's own storage failed, not the entry: it must stop (Replica.applyNormal).
      if (e instanceof SpillReadError) throw e;
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

  /**
   * etcd's authApplierV3: the proposer's identity checked against the auth state at this point of the log. Entries
   * without `auth` were proposed by the server itself (or predate auth) and are always allowed.
   */
  private authorize(op: Operation): void {
    const auth = this.auth;
    if (!auth.enabled || !('auth' in op) || op.auth === undefined) return;
    const info: AuthInfo = { user: String(op.auth.user ?? ''), revision: Number(op.auth.revision ?? 0) };
    switch (op.type) {
      case 'put':
        auth.checkPut(info, op.request, this.leaseKeys);
        return;
      case 'deleteRange': {
        const r = op.request;
        auth.checkOp(info, 'WRITE', r.key, r.rangeEnd);
        if (r.prevKv) auth.checkOp(info, 'READ', r.key, r.rangeEnd);
        return;
      }
      case 'txn':
        auth.checkTxn(info, op.request, this.leaseKeys);
        return;
      case 'leaseRevoke':
        // etcd's checkLeasePuts: revoking deletes the lease's keys, so it needs WRITE on every one of them.
        auth.checkKeys(info, 'WRITE', this.leaseKeys(BigInt(op.id)));
        return;
      case 'compact':
        auth.checkAdmin(info);
        return;
      case 'authenticate':
        return;
      default:
        if (isAdminOperation(op)) auth.checkAdmin(info);
    }
  }

  /** The live keys attached to a lease; none when the lease does not exist (etcd's lessor.Lookup → nil). */
  readonly leaseKeys = (id: bigint): Uint8Array[] => (this.lessor.get(id) ? this.mvcc.keysForLease(id) : []);

  private applyAuth(op: AuthOperation, now: number, index: number): unknown {
    const auth = this.auth;
    switch (op.type) {
      case 'authEnable':
        auth.applyEnable();
        break;
      case 'authDisable':
        auth.applyDisable();
        break;
      case 'authenticate': {
        // etcd's authStore.Authenticate: the password was checked by the proposer (at `revision`).
        if (!auth.enabled) throw errors.authNotEnabled();
        const creds = auth.credentials(op.name);
        if (!creds || creds.noPassword) throw errors.authFailed();
        if (op.simpleToken === undefined) return { revision: auth.revision };
        const token = `${op.simpleToken}.${index}`;
        auth.simpleTokens.assign(token, op.name, now);
        return { token, revision: auth.revision };
      }
      case 'userAdd':
        auth.applyUserAdd(op.name, op.hash, !!op.noPassword);
        break;
      case 'userDelete':
        auth.applyUserDelete(op.name);
        break;
      case 'userChangePassword':
        auth.applyUserChangePassword(op.name, op.hash);
        break;
      case 'userGrantRole':
        auth.applyUserGrantRole(op.user, op.role);
        break;
      case 'userRevokeRole':
        auth.applyUserRevokeRole(op.name, op.role);
        break;
      case 'roleAdd':
        auth.applyRoleAdd(op.name);
        break;
      case 'roleDelete':
        auth.applyRoleDelete(op.role);
        break;
      case 'roleGrantPermission':
        auth.applyRoleGrantPermission(op.name, op.perm);
        break;
      case 'roleRevokePermission':
        auth.applyRoleRevokePermission(op.role, op.key, op.rangeEnd);
        break;
    }
    return { revision: auth.revision };
  }

  private applyOp(op: Operation, now: number, index: number): unknown {
    // As etcd's appliers nest: the alarm gates (capped, corrupt) first, then auth.
    this.alarms.check(op);
    this.authorize(op);
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
        // An expiry revoke loses to a keep-alive that committed after the leader decided (see Operation).
        if (
          op.unlessRenewedAfter !== undefined &&
          this.lessor.renewedAfter(id, Number(op.unlessRenewedAfter))
        )
          return {};
        this.revokeLease(id);
        return {};
      }
      case 'leaseRenew': {
        const ttl = this.lessor.applyRenew(BigInt(op.id), now, index);
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
      case 'updateMember': {
        // etcd's ValidateConfigurationChange at apply: the member list may have changed since the proposer checked.
        const id = BigInt(op.id);
        if (!this.members.get(id)) throw errors.memberNotFound();
        for (const m of this.members.list()) {
          if (m.ID !== id && m.peerURLs.some((u) => op.peerURLs.includes(u))) throw errors.peerURLExist();
        }
        this.members.updatePeerURLs(id, op.peerURLs);
        return { members: this.members.list() };
      }
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
      default:
        return this.applyAuth(op, now, index);
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
    const snapshot = this.captureSnapshot();
    snapshot.step(Number.POSITIVE_INFINITY);
    return snapshot.bytes;
  }

  /**
   * The snapshot of this moment, whose keyspace part is written by `step` — all at once, or a bounded number of
   * records per turn while this state machine goes on applying (./sm-snapshot.ts, MvccStore.captureSnapshot).
   */
  captureSnapshot(): SnapshotInProgress {
    return writeStateMachineSnapshot(this.snapshotParts(), this.mvcc.captureSnapshot());
  }

  /** The snapshot of this moment, handed out piece by piece while this state machine goes on (a storage's stream). */
  streamSnapshot(): SnapshotPieces {
    return streamStateMachineSnapshot(this.snapshotParts(), this.mvcc.captureSnapshot());
  }

  private snapshotParts(): Omit<StateMachineParts, 'mvcc'> {
    return {
      appliedIndex: this.appliedIndex,
      lessor: this.lessor.snapshot(),
      members: this.members.toJSON(),
      dedup: this.dedup.toJSON(),
      alarms: this.alarms.toJSON(),
      auth: this.auth.export(),
    };
  }

  restore(data: Uint8Array | ByteReader): void {
    const d = readStateMachineSnapshot(data);
    this.lessor = this.newLessor();
    this.lessor.restore(d.lessor);
    this.mvcc = this.newStore(d.mvcc);
    this.members = Members.fromJSON(d.members);
    this.dedup = RequestDedup.fromJSON(d.dedup);
    this.alarms = AlarmStore.fromJSON(d.alarms);
    this.auth.restore(d.auth ?? EMPTY_AUTH);
    this.leaseCount = undefined;
    this.appliedIndex = Number(d.appliedIndex);
  }
}

const EMPTY_AUTH: AuthState = { enabled: false, revision: 1, users: [], roles: [] };

const ADMIN_OPS: ReadonlySet<string> = new Set([
  'authEnable',
  'authDisable',
  'userAdd',
  'userDelete',
  'userChangePassword',
  'userGrantRole',
  'userRevokeRole',
  'roleAdd',
  'roleDelete',
  'roleGrantPermission',
  'roleRevokePermission',
]);

/** etcd's needAdminPermission: every auth mutation but Authenticate. */
function isAdminOperation(op: Operation): boolean {
  return ADMIN_OPS.has(op.type);
}
