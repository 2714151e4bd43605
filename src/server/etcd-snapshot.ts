// etcd 3.4's backend (its bbolt database; what `etcdctl snapshot save` stores and `snapshot status/restore` read)
// ↔ edgecd's replicated state. The buckets and their encodings (etcd v3.4.23 mvcc/kvstore.go, lease/lessor.go,
// auth/store.go, etcdserver/api/membership/store.go, etcdserver/api/v3alarm):
//
//   key              revision bytes (8-byte BE main, '_', 8-byte BE sub; + 't' for a tombstone) → mvccpb.KeyValue
//                    (a tombstone's value holds only the key): every record still held, history included
//   meta             consistent_index → u64 BE applied index; scheduledCompactRev, finishedCompactRev → revision
//                    bytes of the compaction point (only once compacted)
//   lease            8-byte BE lease ID → leasepb.Lease{ID, TTL, RemainingTTL}
//   members          member ID in hex → JSON {id, peerURLs, isLearner?, name?, clientURLs?}
//   members_removed  member ID in hex → "removed"
//   cluster          clusterVersion → "3.4.0"
//   alarm            etcdserverpb.AlarmMember → empty
//   auth             authEnabled → [1] / [0]; authRevision → u64 BE
//   authUsers        name → authpb.User;   authRoles   name → authpb.Role
//
// A real etcd opening such a file rebuilds its index from "key" exactly as edgecd's keyspace snapshot does
// (src/mvcc/snapshot.ts), so both hold the same records and agree on HashKV (the same CRC-32C over this bucket).

import type { AuthState } from '../auth/index.ts';
import {
  type BoltBucket,
  type BoltItem,
  bucketEntries,
  bucketValue,
  childBucket,
  readBolt,
  writeBolt,
} from '../bbolt/index.ts';
import type { AlarmMember, Member } from '../etcd/types.ts';
import { Lessor } from '../lease/index.ts';
import { revisionBytes } from '../mvcc/hash.ts';
import { decodeSnapshotRecords, encodeSnapshotRecords, type SnapshotRecord } from '../mvcc/snapshot.ts';
import { MvccStore } from '../mvcc/store.ts';
import {
  decodeKeyValue,
  decodeLease,
  decodeRole,
  decodeUser,
  encodeAlarmMember,
  encodeKeyValue,
  encodeLease,
  encodeRole,
  encodeUser,
  type LeaseRecord,
} from './etcd-proto.ts';

/** The cluster version etcd 3.4 records in the "cluster" bucket. */
export const ETCD_CLUSTER_VERSION = '3.4.0';

/** The auth buckets' contents: the auth store's replicated state (src/auth). */
export type EtcdAuthState = AuthState;

/** What an etcd 3.4 backend holds, as plain data. */
export interface EtcdBackendState {
  /** meta/consistent_index: the last applied Raft index. */
  readonly consistentIndex: number;
  /** The store's revision: the newest record's, or the compaction point if that is newer (etcd's restore). */
  readonly currentRev: number;
  /** meta/finishedCompactRev; -1 = never compacted. */
  readonly compactRev: number;
  /** meta/scheduledCompactRev when a compaction was scheduled but had not finished (etcd resumes it). */
  readonly scheduledCompactRev?: number;
  /** Every record of the "key" bucket, in revision order. */
  readonly records: readonly SnapshotRecord[];
  /** Ascending by ID. */
  readonly leases: readonly LeaseRecord[];
  readonly members: readonly Member[];
  readonly removedMembers: readonly bigint[];
  readonly alarms: readonly AlarmMember[];
  /** Absent: auth never used (a fresh etcd's auth buckets). */
  readonly auth?: EtcdAuthState;
}

export class EtcdBackendError extends Error {
  override name = 'EtcdBackendError';
}

const utf8 = new TextEncoder();
const text = new TextDecoder();
const b = (s: string) => utf8.encode(s);

function u64(v: bigint | number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(v)));
  return out;
}

function readU64(v: Uint8Array | undefined, what: string): bigint | undefined {
  if (v === undefined) return undefined;
  if (v.length < 8) throw new EtcdBackendError(`meta value ${what} is ${v.length} bytes, expected 8`);
  return new DataView(v.buffer, v.byteOffset, v.byteLength).getBigUint64(0);
}

function bucket(name: string, items: BoltItem[]): BoltItem {
  return { key: b(name), bucket: { items } };
}

// ---- edgecd → etcd -------------------------------------------------------------------------------------------

/** The bbolt database etcd 3.4 would hold for this state (no sha256 trailer). */
export function encodeEtcdBackend(state: EtcdBackendState): Uint8Array {
  const keys: BoltItem[] = state.records.map((r) => ({
    key: revisionBytes(r.main, r.sub, r.tombstone),
    value: encodeKeyValue(
      r.tombstone
        ? {
            key: r.kv.key,
            createRevision: 0,
            modRevision: 0,
            version: 0,
            value: new Uint8Array(0),
            lease: 0n,
          }
        : r.kv,
    ),
  }));
  const meta: BoltItem[] = [{ key: b('consistent_index'), value: u64(state.consistentIndex) }];
  if (state.compactRev > 0) {
    const rev = revisionBytes(state.compactRev, 0, false);
    meta.push({ key: b('finishedCompactRev'), value: rev });
    meta.push({
      key: b('scheduledCompactRev'),
      value: revisionBytes(state.scheduledCompactRev ?? state.compactRev, 0, false),
    });
  }
  const leases: BoltItem[] = state.leases.map((l) => ({ key: u64(l.id), value: encodeLease(l) }));
  const members: BoltItem[] = state.members.map((m) => ({
    key: b(m.ID.toString(16)),
    value: b(memberJson(m)),
  }));
  const removed: BoltItem[] = state.removedMembers.map((id) => ({
    key: b(id.toString(16)),
    value: b('removed'),
  }));
  const alarms: BoltItem[] = state.alarms.map((a) => ({
    key: encodeAlarmMember(a.memberID, a.alarm),
    value: new Uint8Array(0),
  }));
  // A fresh etcd's auth store commits revision 1 at start; authEnabled is written by the first enable/disable.
  const auth: BoltItem[] = state.auth
    ? [
        { key: b('authEnabled'), value: Uint8Array.of(state.auth.enabled ? 1 : 0) },
        { key: b('authRevision'), value: u64(state.auth.revision) },
      ]
    : [{ key: b('authRevision'), value: u64(1) }];
  const users: BoltItem[] = (state.auth?.users ?? []).map((u) => ({ key: b(u.name), value: encodeUser(u) }));
  const roles: BoltItem[] = (state.auth?.roles ?? []).map((r) => ({ key: b(r.name), value: encodeRole(r) }));
  return writeBolt({
    items: [
      bucket('alarm', alarms),
      bucket('auth', auth),
      bucket('authRoles', roles),
      bucket('authUsers', users),
      bucket('cluster', [{ key: b('clusterVersion'), value: b(ETCD_CLUSTER_VERSION) }]),
      bucket('key', keys),
      bucket('lease', leases),
      bucket('members', members),
      bucket('members_removed', removed),
      bucket('meta', meta),
    ],
  });
}

/** etcd's Member JSON (Go encoding/json of membership.Member: the ID as a number, omitempty fields left out). */
function memberJson(m: Member): string {
  let s = `{"id":${BigInt.asUintN(64, m.ID)},"peerURLs":${JSON.stringify(m.peerURLs)}`;
  if (m.isLearner) s += ',"isLearner":true';
  if (m.name) s += `,"name":${JSON.stringify(m.name)}`;
  if (m.clientURLs.length > 0) s += `,"clientURLs":${JSON.stringify(m.clientURLs)}`;
  return `${s}}`;
}

/** The parts of the replicated state machine a backup covers. */
export interface BackupSource {
  readonly appliedIndex: number;
  readonly mvcc: { snapshot(): Uint8Array };
  readonly lessor: { leases(): readonly { id: bigint; ttl: number; remainingTtl: number }[] };
  readonly members: { list(): Member[]; toJSON(): unknown };
  readonly alarms: { list(): AlarmMember[] };
  readonly auth?: { export(): AuthState };
}

/** The etcd backend state of a state machine: its keyspace, leases, members, alarms and auth. */
export function etcdStateOf(sm: BackupSource): EtcdBackendState {
  const { currentRev, compactRev, records } = decodeSnapshotRecords(sm.mvcc.snapshot());
  const removed = (sm.members.toJSON() as { removed?: (bigint | number)[] }).removed ?? [];
  return {
    consistentIndex: sm.appliedIndex,
    currentRev,
    compactRev,
    records,
    leases: sm.lessor.leases().map((l) => ({ id: l.id, ttl: l.ttl, remainingTtl: l.remainingTtl })),
    members: sm.members.list(),
    removedMembers: removed.map((id) => BigInt(id)),
    alarms: sm.alarms.list(),
    auth: sm.auth?.export(),
  };
}

// ---- etcd → edgecd -------------------------------------------------------------------------------------------

/** Reads an etcd 3.4 backend (a bbolt file without trailer). */
export function decodeEtcdBackend(file: Uint8Array): EtcdBackendState {
  const root = readBolt(file).root;
  const keyBucket = childBucket(root, 'key');
  const metaBucket = childBucket(root, 'meta');
  if (keyBucket === undefined || metaBucket === undefined) {
    throw new EtcdBackendError('not an etcd backend: no "key" or "meta" bucket');
  }
  const records: SnapshotRecord[] = [];
  for (const { key, value } of bucketEntries(keyBucket)) {
    if ((key.length !== 17 && key.length !== 18) || key[8] !== 0x5f) {
      throw new EtcdBackendError(`bad revision key in the "key" bucket (${key.length} bytes)`);
    }
    const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const main = toSafe(view.getBigUint64(0), 'revision');
    const sub = toSafe(view.getBigUint64(9), 'sub revision');
    const tombstone = key.length === 18;
    if (tombstone && key[17] !== 0x74) throw new EtcdBackendError('bad tombstone mark in the "key" bucket');
    const kv = decodeKeyValue(value);
    records.push({ main, sub, tombstone, kv: { ...kv, modRevision: main } });
  }
  const compactAt = (name: string) => {
    const v = bucketValue(metaBucket, name);
    return v === undefined ? undefined : toSafe(readU64(v, name) ?? 0n, name);
  };
  const finished = compactAt('finishedCompactRev');
  const scheduled = compactAt('scheduledCompactRev');
  const compactRev = finished ?? -1;
  const last = records.at(-1)?.main ?? 1;
  const leases: LeaseRecord[] = [];
  for (const { value } of bucketEntries(childBucket(root, 'lease') ?? { items: [] }))
    leases.push(decodeLease(value));
  leases.sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  const members: Member[] = [];
  for (const { key, value } of bucketEntries(childBucket(root, 'members') ?? { items: [] })) {
    const m = JSON.parse(text.decode(value)) as {
      peerURLs?: string[];
      isLearner?: boolean;
      name?: string;
      clientURLs?: string[];
    };
    members.push({
      ID: BigInt(`0x${text.decode(key)}`),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      clientURLs: m.clientURLs ?? [],
      isLearner: !!m.isLearner,
    });
  }
  const removedMembers = [...bucketEntries(childBucket(root, 'members_removed') ?? { items: [] })].map(
    ({ key }) => BigInt(`0x${text.decode(key)}`),
  );
  return {
    consistentIndex: toSafe(
      readU64(bucketValue(metaBucket, 'consistent_index'), 'consistent_index') ?? 0n,
      'index',
    ),
    currentRev: Math.max(last, compactRev, 1),
    compactRev,
    scheduledCompactRev: scheduled !== undefined && scheduled > compactRev ? scheduled : undefined,
    records,
    leases,
    members,
    removedMembers,
    alarms: [],
    auth: decodeAuth(root),
  };
}

function decodeAuth(root: BoltBucket): EtcdAuthState | undefined {
  const auth = childBucket(root, 'auth');
  if (auth === undefined) return undefined;
  const users = [...bucketEntries(childBucket(root, 'authUsers') ?? { items: [] })].map(({ value }) =>
    decodeUser(value),
  );
  const roles = [...bucketEntries(childBucket(root, 'authRoles') ?? { items: [] })].map(({ value }) =>
    decodeRole(value),
  );
  const enabled = bucketValue(auth, 'authEnabled');
  return {
    enabled: enabled !== undefined && enabled.length === 1 && enabled[0] === 1,
    revision: toSafe(readU64(bucketValue(auth, 'authRevision'), 'authRevision') ?? 0n, 'authRevision'),
    users,
    roles,
  };
}

function toSafe(v: bigint, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new EtcdBackendError(`${what} ${v} is out of range`);
  return Number(v);
}

/** The keyspace snapshot bytes (src/mvcc/snapshot.ts) of an etcd backend, resuming a scheduled compaction. */
export function keyspaceOf(state: EtcdBackendState): Uint8Array {
  const bytes = encodeSnapshotRecords(state.currentRev, state.compactRev, state.records);
  if (state.scheduledCompactRev === undefined) return bytes;
  const store = MvccStore.restore(bytes);
  store.compact(state.scheduledCompactRev);
  return store.snapshot();
}

/** The lessor snapshot bytes (src/lease) of an etcd backend's leases. */
export function leasesOf(state: EtcdBackendState): Uint8Array {
  const lessor = new Lessor({ minTtl: 1 });
  for (const l of state.leases) {
    lessor.applyGrant(l.id, l.ttl, 0);
    if (l.remainingTtl > 0) lessor.applyCheckpoint(l.id, l.remainingTtl);
  }
  return lessor.snapshot();
}
