// Backup files: what `Maintenance.Snapshot` streams (and `etcdctl snapshot save` writes to disk), and what
// `edgecd snapshot restore` reads.
//
// edgecd streams etcd 3.4's own format: its backend as a bbolt database (./etcd-snapshot.ts maps the replicated
// state onto etcd's buckets; src/bbolt writes the file) followed by a SHA-256 of it, as etcd's snapshot stream
// ends. `etcdctl snapshot status` and `etcdctl snapshot restore` read it, and a real etcd 3.4 restored from it
// serves the same keyspace (history, tombstones, compaction point, leases; same HashKV).
//
// `edgecd snapshot restore` reads both that format (from edgecd or from a real etcd; detected by bbolt's meta
// magic) and edgecd's earlier format (magic `EDGECDSN`), laid out as follows (integers big-endian):
//
//   offset  size  field
//   0       8     magic "EDGECDSN"
//   8       4     format version (1)
//   12      4     header flags (0; reserved)
//   16      8     cluster ID of the cluster the snapshot was taken from
//   24      8     member ID of the member that served it
//   32      8     MVCC revision at the snapshot
//   40      8     Raft applied index the state covers
//   48      8     data length N
//   56      N     the state machine's snapshot (ServerStateMachine.snapshot(): MVCC, leases, members, dedup,
//                 alarms, applied index; msgpack)
//   56+N    P     zero padding, so that 56 + N + P is a multiple of 512
//   …       32    SHA-256 of every byte before it
//
// Either way the whole file's size % 512 == 32 (bbolt files are whole 4096-byte pages), which is what etcdctl
// 3.4 takes as "has a sha256 trailer" (`hasChecksum`).

import { encode } from '@msgpack/msgpack';
import { AuthStore } from '../auth/index.ts';
import { isBoltFile } from '../bbolt/index.ts';
import { type HardState, NONE, type Snapshot } from '../raft/types.ts';
import { AlarmStore } from './alarms.ts';
import {
  decodeEtcdBackend,
  type EtcdBackendState,
  encodeEtcdBackend,
  keyspaceOf,
  leasesOf,
} from './etcd-snapshot.ts';
import { Members } from './members.ts';
import type { BootstrapMember } from './replica.ts';
import { RequestDedup } from './request-dedup.ts';
import { readStateMachineSnapshot, type StateMachineParts } from './sm-snapshot.ts';

export const SNAPSHOT_MAGIC = 'EDGECDSN';
export const SNAPSHOT_VERSION = 1;
const HEADER_BYTES = 56;
const ALIGN = 512;
const SHA256_BYTES = 32;

export interface SnapshotFileInfo {
  readonly clusterId: bigint;
  readonly memberId: bigint;
  readonly revision: number;
  readonly appliedIndex: number;
}

export interface SnapshotFile extends SnapshotFileInfo {
  /** The state machine's serialized snapshot. */
  readonly data: Uint8Array;
  /** Which format the file was in. */
  readonly format?: 'etcd-bbolt' | 'edgecd';
}

export class SnapshotFileError extends Error {
  override name = 'SnapshotFileError';
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
}

/** Builds the whole file: header, data, padding, SHA-256 trailer (size % 512 == 32). */
export async function encodeSnapshotFile(snapshot: SnapshotFile): Promise<Uint8Array> {
  const body = HEADER_BYTES + snapshot.data.length;
  const padded = Math.ceil(body / ALIGN) * ALIGN;
  const out = new Uint8Array(padded + SHA256_BYTES);
  const view = new DataView(out.buffer);
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) out[i] = SNAPSHOT_MAGIC.charCodeAt(i);
  view.setUint32(8, SNAPSHOT_VERSION);
  view.setUint32(12, 0);
  view.setBigUint64(16, BigInt.asUintN(64, snapshot.clusterId));
  view.setBigUint64(24, BigInt.asUintN(64, snapshot.memberId));
  view.setBigUint64(32, BigInt(snapshot.revision));
  view.setBigUint64(40, BigInt(snapshot.appliedIndex));
  view.setBigUint64(48, BigInt(snapshot.data.length));
  out.set(snapshot.data, HEADER_BYTES);
  out.set(await sha256(out.subarray(0, padded)), padded);
  return out;
}

/** etcd's snapshot stream: the backend's bbolt file followed by its SHA-256 (size % 512 == 32). */
export async function encodeEtcdSnapshotFile(state: EtcdBackendState): Promise<Uint8Array> {
  const db = encodeEtcdBackend(state);
  const out = new Uint8Array(db.length + SHA256_BYTES);
  out.set(db);
  out.set(await sha256(db), db.length);
  return out;
}

export interface ReadSnapshotOptions {
  /** etcdctl's --skip-hash-check: accept a bbolt file without (or with a wrong) SHA-256 trailer. */
  readonly skipHashCheck?: boolean;
}

/**
 * Reads either format: an etcd bbolt snapshot (from etcd or edgecd) or an edgecd `EDGECDSN` file. For bbolt
 * files the data is built in the state machine's snapshot format, so newClusterState treats both alike.
 */
export async function readSnapshotFile(
  file: Uint8Array,
  options: ReadSnapshotOptions = {},
): Promise<SnapshotFile> {
  if (!isBoltFile(file)) return decodeSnapshotFile(file);
  let db = file;
  if (file.length % ALIGN === SHA256_BYTES) {
    db = file.subarray(0, file.length - SHA256_BYTES);
    if (!options.skipHashCheck && !equalBytes(await sha256(db), file.subarray(db.length))) {
      throw new SnapshotFileError('snapshot file is corrupt: sha256 checksum mismatch');
    }
  } else if (!options.skipHashCheck) {
    throw new SnapshotFileError('snapshot missing hash but --skip-hash-check=false');
  }
  let state: EtcdBackendState;
  try {
    state = decodeEtcdBackend(db);
  } catch (err) {
    throw new SnapshotFileError(
      `snapshot file is corrupt: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const data = encode(
    {
      appliedIndex: state.consistentIndex,
      mvcc: keyspaceOf(state),
      lessor: leasesOf(state),
      members: new Members().toJSON(),
      dedup: new RequestDedup().toJSON(),
      alarms: new AlarmStore().toJSON(),
      // Users, roles, the enabled flag and the auth revision carry over, as etcd's restore keeps its auth buckets.
      ...(state.auth ? { auth: AuthStore.fromState(state.auth).export() } : {}),
    },
    { useBigInt64: true },
  );
  return {
    clusterId: 0n,
    memberId: 0n,
    revision: state.currentRev,
    appliedIndex: state.consistentIndex,
    data,
    format: 'etcd-bbolt',
  };
}

/** edgecd's earlier format. Checks the trailer, magic, version and lengths; throws SnapshotFileError otherwise. */
export async function decodeSnapshotFile(file: Uint8Array): Promise<SnapshotFile> {
  if (file.length < HEADER_BYTES + SHA256_BYTES || file.length % ALIGN !== SHA256_BYTES) {
    throw new SnapshotFileError(
      `not an edgecd snapshot: size ${file.length} is not a multiple of ${ALIGN} plus a ${SHA256_BYTES}-byte sha256 trailer`,
    );
  }
  const end = file.length - SHA256_BYTES;
  const expected = file.subarray(end);
  const actual = await sha256(file.subarray(0, end));
  if (!equalBytes(expected, actual)) {
    throw new SnapshotFileError('snapshot file is corrupt: sha256 checksum mismatch');
  }
  let magic = '';
  for (let i = 0; i < SNAPSHOT_MAGIC.length; i++) magic += String.fromCharCode(file[i]);
  if (magic !== SNAPSHOT_MAGIC) {
    throw new SnapshotFileError(
      'not a snapshot file (bad magic): neither an etcd bbolt database nor an edgecd snapshot',
    );
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const version = view.getUint32(8);
  if (version !== SNAPSHOT_VERSION) {
    throw new SnapshotFileError(`unsupported edgecd snapshot version ${version} (this build reads 1)`);
  }
  const length = Number(view.getBigUint64(48));
  if (HEADER_BYTES + length > end) {
    throw new SnapshotFileError('snapshot file is corrupt: data length exceeds the file');
  }
  return {
    clusterId: view.getBigUint64(16),
    memberId: view.getBigUint64(24),
    revision: Number(view.getBigUint64(32)),
    appliedIndex: Number(view.getBigUint64(40)),
    data: file.slice(HEADER_BYTES, HEADER_BYTES + length),
    format: 'edgecd',
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Splits a file into stream chunks with etcd's remaining_bytes (bytes still to come after this chunk). */
export function* snapshotChunks(
  file: Uint8Array,
  chunkBytes = 32 * 1024,
): Generator<{ remainingBytes: number; blob: Uint8Array }> {
  for (let off = 0; off < file.length; off += chunkBytes) {
    const blob = file.subarray(off, Math.min(file.length, off + chunkBytes));
    yield { remainingBytes: file.length - off - blob.length, blob };
  }
}

/**
 * The durable starting point of a member of a NEW cluster restored from a snapshot file (etcd's `snapshot
 * restore`). Every member of the new cluster computes exactly the same thing from the same file and the same
 * --initial-cluster, so they agree without talking:
 *
 * - The state machine keeps the keyspace (same revision, same history, same compaction point) and the leases;
 *   the membership is replaced by the new initial cluster (no client URLs yet: members publish them on start;
 *   no removed IDs); request dedup and alarms start empty (they belong to the old cluster's members).
 * - As if the new cluster had bootstrapped normally, the state covers Raft indexes 1..N (N = number of members:
 *   the bootstrap confChange entries), all at term 1 and committed. Instead of those entries the log holds a
 *   Raft snapshot at index N, term 1, whose ConfState lists the new members as voters and whose data is the
 *   rebuilt state machine (appliedIndex = N). The hard state is {term 1, no vote, commit N}.
 *
 * The first leader is elected at term 2 and appends from N + 1; a member added later receives the snapshot.
 */
export function newClusterState(
  file: SnapshotFile,
  members: readonly BootstrapMember[],
): { snapshot: Snapshot; hardState: HardState } {
  if (members.length === 0) throw new SnapshotFileError('the new initial cluster has no members');
  let state: StateMachineParts;
  try {
    state = readStateMachineSnapshot(file.data);
  } catch {
    throw new SnapshotFileError('snapshot file is corrupt: no keyspace or leases in its data');
  }
  const index = members.length;
  const list = new Members();
  for (const m of members) list.add(m.id, { peerURLs: m.peerURLs, name: m.name }, !!m.isLearner);
  const data = encode(
    {
      ...state,
      appliedIndex: index,
      members: list.toJSON(),
      dedup: new RequestDedup().toJSON(),
      alarms: new AlarmStore().toJSON(),
    },
    { useBigInt64: true },
  );
  return {
    snapshot: {
      metadata: {
        index,
        term: 1,
        confState: {
          voters: members.filter((m) => !m.isLearner).map((m) => m.id),
          learners: members.filter((m) => m.isLearner).map((m) => m.id),
        },
      },
      data,
    },
    hardState: { term: 1, vote: NONE, commit: index },
  };
}
