// `edgecd snapshot restore FILE --name … --data-dir … --initial-cluster … --initial-cluster-token …
// --initial-advertise-peer-urls … [--skip-hash-check]` (etcdctl 3.4's restore flags): turns a snapshot file into
// the data dir of one member of a NEW cluster. The file is either etcd 3.4's (a bbolt backend + sha256 trailer,
// from `etcdctl snapshot save` against a real etcd or against edgecd) or edgecd's earlier `EDGECDSN` format
// (src/server/snapshot-file.ts). Run it once per member with the same file and the same --initial-cluster /
// --initial-cluster-token; every member then holds the same Raft snapshot (index = member count, term 1, the
// new members as voters; see newClusterState) and they start as a cluster with the old keyspace (history,
// compaction point, leases) at its old revision. Start the members with the same --initial-cluster and
// --initial-cluster-token (the member and cluster IDs derive from them).

import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../../src/env.ts';
import { silentLogger } from '../../../src/env.ts';
import type { BootstrapMember } from '../../../src/server/replica.ts';
import {
  newClusterState,
  readSnapshotFile,
  type SnapshotFile,
  SnapshotFileError,
} from '../../../src/server/snapshot-file.ts';
import { ServerStateMachine } from '../../../src/server/state-machine.ts';
import { FileWalStorage } from '../../storage/file-wal/index.ts';
import { computeClusterId, computeMemberId, parseInitialCluster } from './config.ts';

export interface RestoreOptions {
  readonly snapshotPath: string;
  readonly name: string;
  readonly dataDir: string;
  /** name → peer URLs. */
  readonly initialCluster: ReadonlyMap<string, readonly string[]>;
  readonly initialClusterToken: string;
  readonly initialAdvertisePeerUrls: readonly string[];
  /** Accept a bbolt file without its sha256 trailer (e.g. a copy of an etcd member's db). */
  readonly skipHashCheck?: boolean;
}

export interface RestoreResult {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly revision: number;
  readonly index: number;
}

/** etcdctl's flag names and defaults; `--flag value` or `--flag=value`. */
export function parseRestoreArgs(argv: readonly string[]): RestoreOptions {
  let snapshotPath: string | undefined;
  let skipHashCheck = false;
  const values: Record<string, string> = {
    name: 'default',
    'initial-cluster-token': 'etcd-cluster',
    'initial-advertise-peer-urls': 'http://localhost:2380',
  };
  const known = new Set([
    'name',
    'data-dir',
    'initial-cluster',
    'initial-cluster-token',
    'initial-advertise-peer-urls',
    'wal-dir',
    'skip-hash-check',
  ]);
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) {
      if (snapshotPath !== undefined) throw new Error(`unexpected argument "${arg}"`);
      snapshotPath = arg;
      continue;
    }
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const flag = eq >= 0 ? body.slice(0, eq) : body;
    if (!known.has(flag)) throw new Error(`unknown flag: --${flag}`);
    if (flag === 'skip-hash-check') {
      // A boolean flag: `--skip-hash-check`, `--skip-hash-check=false`, `--skip-hash-check true`.
      let value = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (eq < 0 && argv[i + 1] !== undefined && /^(true|false)$/.test(argv[i + 1])) value = argv[++i];
      skipHashCheck = value !== 'false';
      continue;
    }
    values[flag] = eq >= 0 ? body.slice(eq + 1) : (argv[++i] ?? '');
  }
  if (snapshotPath === undefined) throw new Error('snapshot restore requires exactly one argument');
  const name = values.name;
  const peerUrls = values['initial-advertise-peer-urls']
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    snapshotPath,
    name,
    dataDir: values['data-dir'] ?? `${name}.etcd`,
    initialCluster: values['initial-cluster']
      ? parseInitialCluster(values['initial-cluster'])
      : new Map([[name, peerUrls]]),
    initialClusterToken: values['initial-cluster-token'],
    initialAdvertisePeerUrls: peerUrls,
    skipHashCheck,
  };
}

/**
 * The snapshot file read whole and turned into the new cluster's first state, then loaded into a state machine as
 * a trial: a file whose data is not a keyspace (a forger's, or a bug's; its sha256 may still match) is refused
 * here, before the data dir exists, not when the member starts. Every failure is a SnapshotFileError saying the
 * file is corrupt (a damaged lease record once surfaced as 'etcdserver: requested lease not found').
 */
export async function readSnapshotForRestore(
  bytes: Uint8Array,
  members: readonly BootstrapMember[],
  options: { readonly skipHashCheck?: boolean } = {},
): Promise<{ file: SnapshotFile } & ReturnType<typeof newClusterState>> {
  try {
    const file = await readSnapshotFile(bytes, { skipHashCheck: options.skipHashCheck });
    const state = newClusterState(file, members);
    new ServerStateMachine({ minLeaseTtl: 1 }, { onEvents() {}, onCompacted() {} }).restore(
      state.snapshot.data,
    );
    return { file, ...state };
  } catch (err) {
    if (err instanceof SnapshotFileError) throw err;
    throw new SnapshotFileError(
      `snapshot file is corrupt: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

export async function restoreSnapshot(
  options: RestoreOptions,
  logger: Logger = silentLogger,
): Promise<RestoreResult> {
  const token = options.initialClusterToken;
  const members: BootstrapMember[] = [...options.initialCluster].map(([name, peerURLs]) => ({
    id: computeMemberId(peerURLs, token),
    name,
    peerURLs,
  }));
  const self = members.find((m) => m.name === options.name);
  if (!self) {
    throw new Error(`couldn't find local name "${options.name}" in the initial cluster configuration`);
  }
  // etcd's check: the advertised peer URLs must be this member's URLs in --initial-cluster.
  const mine = [...self.peerURLs].sort().join(',');
  if ([...options.initialAdvertisePeerUrls].sort().join(',') !== mine) {
    throw new Error(
      `--initial-cluster has ${options.name}=${self.peerURLs.join(',')} but missing from --initial-advertise-peer-urls=${options.initialAdvertisePeerUrls.join(',')}`,
    );
  }
  if (existsSync(options.dataDir) && readdirSync(options.dataDir).length > 0) {
    throw new Error(`data-dir "${options.dataDir}" exists`);
  }
  const bytes = new Uint8Array(readFileSync(options.snapshotPath));
  const { file, snapshot, hardState } = await readSnapshotForRestore(bytes, members, options);
  // Nothing is written before the file has been read and checked whole; a write that fails after that (a full
  // disk) removes what it made, so a failed restore never leaves a data dir a member would start from.
  const existed = existsSync(options.dataDir);
  try {
    const storage = await FileWalStorage.open(join(options.dataDir, 'member'), { logger });
    try {
      await storage.load(); // empty: the data dir is new
      await storage.save({ snapshot, entries: [], hardState });
    } finally {
      await storage.close();
    }
  } catch (err) {
    rmSync(existed ? join(options.dataDir, 'member') : options.dataDir, { recursive: true, force: true });
    throw err;
  }
  const result = {
    memberId: self.id,
    clusterId: computeClusterId(members.map((m) => m.id)),
    revision: file.revision,
    index: snapshot.metadata.index,
  };
  logger.info('restored snapshot', {
    path: options.snapshotPath,
    'data-dir': options.dataDir,
    name: options.name,
    memberId: result.memberId.toString(16),
    clusterId: result.clusterId.toString(16),
    revision: result.revision,
    format: file.format,
    ...(file.format === 'edgecd' ? { 'from-cluster': file.clusterId.toString(16) } : {}),
  });
  return result;
}
