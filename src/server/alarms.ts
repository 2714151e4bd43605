// etcd's alarms (v3 Maintenance.Alarm, etcd 3.4 semantics). The set of active alarms {memberID, alarm} is
// replicated state: it changes only by applying an `alarm` operation (ACTIVATE / DEACTIVATE) from the log, is part
// of the state-machine snapshot, and gates what every member applies:
//
// - NOSPACE (etcd's applierV3Capped): puts, txns that contain a put, and lease grants are refused with
//   `etcdserver: mvcc: database space exceeded`; deletes, compaction, lease revokes and reads still work.
//   A member raises it for itself when a write it is asked to propose would take its dbSize (the keyspace's
//   serialized size) past the quota — checked before proposing, as etcd's quotaKVServer does.
// - CORRUPT (etcd's applierV3Corrupt): puts, deletes, txns with writes, compactions, lease grants and revokes are
//   refused with `etcdserver: corrupt cluster`; reads still work. Raised by the corruption check: the leader
//   periodically proposes a `hashCheck` entry carrying its HashKV at its current revision; every member applying
//   it compares with its own HashKV at that revision (skipped if compacted past it) and, if they differ, raises
//   CORRUPT for itself through Raft. (etcd's leader asks its peers for HashKV over HTTP instead; edgecd has no
//   such peer request, and the log gives every member the same comparison point.)

import { errors } from '../etcd/errors.ts';
import type { AlarmMember, AlarmType, RequestOp, TxnRequest } from '../etcd/types.ts';
import { decodeSnapshotRecords, encodeSnapshotRecords } from '../mvcc/snapshot.ts';
import type { Operation } from './ops.ts';

export type AlarmAction = 'GET' | 'ACTIVATE' | 'DEACTIVATE';

/** etcd's DefaultQuotaBytes: what a quota of 0 means. */
export const DEFAULT_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;

// etcd's quota costs (etcdserver/quota.go): a put costs its key and value plus overhead, a lease grant a fixed amount.
const KV_OVERHEAD = 256;
const LEASE_OVERHEAD = 64;

/** The active alarms, replicated. Listed by member ID, then alarm type (etcd keeps a map per type). */
export class AlarmStore {
  private readonly active = new Map<string, AlarmMember>();

  private static key(memberID: bigint, alarm: AlarmType): string {
    return `${alarm}:${memberID}`;
  }

  /** All active alarms (`alarm` NONE) or those of one type. */
  list(alarm: AlarmType = 'NONE'): AlarmMember[] {
    const all = [...this.active.values()].filter((a) => alarm === 'NONE' || a.alarm === alarm);
    return all.sort((a, b) =>
      a.memberID === b.memberID ? a.alarm.localeCompare(b.alarm) : a.memberID < b.memberID ? -1 : 1,
    );
  }

  get size(): number {
    return this.active.size;
  }

  has(alarm: AlarmType, memberID?: bigint): boolean {
    if (memberID !== undefined) return this.active.has(AlarmStore.key(memberID, alarm));
    for (const a of this.active.values()) if (a.alarm === alarm) return true;
    return false;
  }

  /** Returns the alarm (new or already active); nothing for NONE, as etcd. */
  activate(memberID: bigint, alarm: AlarmType): AlarmMember[] {
    if (alarm === 'NONE') return [];
    const k = AlarmStore.key(memberID, alarm);
    let m = this.active.get(k);
    if (!m) {
      m = { memberID, alarm };
      this.active.set(k, m);
    }
    return [m];
  }

  /**
   * Returns the alarms deactivated. etcd deactivates exactly {memberID, alarm}; edgecd also lets memberID 0 mean
   * every member and alarm NONE every type (what clientv3's AlarmDisarm does client-side with a list first).
   */
  deactivate(memberID: bigint, alarm: AlarmType): AlarmMember[] {
    const gone: AlarmMember[] = [];
    for (const [k, a] of this.active) {
      if ((memberID === 0n || a.memberID === memberID) && (alarm === 'NONE' || a.alarm === alarm)) {
        this.active.delete(k);
        gone.push(a);
      }
    }
    return gone;
  }

  /** Refuses what etcd's capped / corrupt appliers refuse; throws the etcd error. */
  check(op: Operation): void {
    if (this.active.size === 0) return;
    if (this.has('CORRUPT') && refusedWhenCorrupt(op)) throw errors.corrupt();
    if (this.has('NOSPACE') && quotaCost(op) > 0) throw errors.noSpace();
  }

  toJSON(): [bigint, AlarmType][] {
    return this.list().map((a) => [a.memberID, a.alarm]);
  }

  static fromJSON(data: unknown): AlarmStore {
    const s = new AlarmStore();
    if (Array.isArray(data)) {
      for (const entry of data as [bigint | number, AlarmType][]) s.activate(BigInt(entry[0]), entry[1]);
    }
    return s;
  }

  /** Status.errors: etcd appends each alarm's proto text form, e.g. `memberID:123 alarm:NOSPACE `. */
  statusErrors(): string[] {
    return this.list().map((a) => `memberID:${a.memberID} alarm:${a.alarm} `);
  }
}

function refusedWhenCorrupt(op: Operation): boolean {
  switch (op.type) {
    case 'put':
    case 'deleteRange':
    case 'txn':
    case 'compact':
    case 'leaseGrant':
    case 'leaseRevoke':
      return true;
    default:
      return false;
  }
}

/**
 * etcd's backendQuota.Cost: what a request adds to the backend. Zero for requests that add nothing (deletes,
 * compaction, revokes, txns without puts) — those pass the quota check and are allowed under NOSPACE.
 */
export function quotaCost(op: Operation): number {
  switch (op.type) {
    case 'put':
      return KV_OVERHEAD + op.request.key.length + (op.request.value?.length ?? 0);
    case 'txn':
      return txnCost(op.request);
    case 'leaseGrant':
      return LEASE_OVERHEAD;
    default:
      return 0;
  }
}

/** The costlier branch. Unlike etcd 3.4, puts inside nested txns count too. */
function txnCost(req: TxnRequest): number {
  const branch = (ops: readonly RequestOp[] | undefined) => {
    let cost = 0;
    for (const op of ops ?? []) {
      if (op.requestPut) cost += KV_OVERHEAD + op.requestPut.key.length + (op.requestPut.value?.length ?? 0);
      else if (op.requestTxn) cost += txnCost(op.requestTxn);
    }
    return cost;
  };
  return Math.max(branch(req.success), branch(req.failure));
}

/**
 * Test hook: the keyspace snapshot `bytes` with one stored value changed (the newest record's value gets one more
 * byte), as a disk fault might leave it. Restoring from it gives a store whose HashKV differs from its peers'.
 */
export function corruptKeyspaceSnapshot(bytes: Uint8Array): Uint8Array {
  const { currentRev, compactRev, records } = decodeSnapshotRecords(bytes);
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i];
    if (r.tombstone) continue; // a tombstone has no value
    const changed = new Uint8Array(r.kv.value.length + 1);
    changed.set(r.kv.value);
    changed[r.kv.value.length] = 0x21;
    records[i] = { ...r, kv: { ...r.kv, value: changed } };
    return encodeSnapshotRecords(currentRev, compactRev, records);
  }
  throw new Error('testingCorrupt: the keyspace holds no value to corrupt');
}
