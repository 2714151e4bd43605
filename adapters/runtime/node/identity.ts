// Who a member is: its member ID and its cluster's ID. etcd fixes both when the data directory is created and
// reads them back from its WAL's metadata on every later start, so the --initial-cluster* flags only matter for a
// new data directory (restarting with other flags, e.g. a changed --initial-cluster-token or an --initial-cluster
// that no longer lists removed members, still restarts the same member). Here they are kept in
// `member/identity.json` beside the WAL; a member that joined an existing cluster keeps them in join.json (./join.ts).

import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { BootstrapMember } from '../../../src/server/replica.ts';
import { computeClusterId, computeMemberId, type MemberConfig } from './config.ts';
import { JOIN_FILE, resolveExistingMember } from './join.ts';

const IDENTITY_FILE = 'identity.json';

export interface MemberIdentity {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  /** The members a new cluster starts with (used only while the data directory holds nothing yet). */
  readonly bootstrap: readonly BootstrapMember[] | undefined;
  /** Peers to dial before the log names them (a joining member's). */
  readonly peers: readonly { readonly id: bigint; readonly url: string }[];
  /** Records the identity in the data directory if it is not there yet (call once the directory is locked). */
  persist(): void;
}

export async function memberIdentity(
  config: MemberConfig,
  opts: { readonly tls?: ConnectionOptions },
): Promise<MemberIdentity> {
  const members: BootstrapMember[] = [...config.initialCluster].map(([name, peerURLs]) => ({
    id: computeMemberId(peerURLs, config.initialClusterToken),
    name,
    peerURLs,
  }));
  const bootstrap = config.initialClusterState === 'new' ? members : undefined;
  const dir = `${config.dataDir}/member`;
  const file = `${dir}/${IDENTITY_FILE}`;
  // A member that joined keeps its identity in join.json, whatever --initial-cluster-state says now.
  const stored =
    readIdentity(file) ??
    (config.initialClusterState === 'new' ? readIdentity(`${dir}/${JOIN_FILE}`) : undefined);
  if (stored !== undefined) return { ...stored, bootstrap, peers: [], persist: () => {} };
  if (config.initialClusterState === 'existing') {
    // The ID MemberAdd chose and the cluster ID come from the cluster itself, and so do the other members' IDs.
    const joined = await resolveExistingMember(config, opts);
    const peers = joined.members
      .filter((m) => m.peerURLs.length > 0)
      .map((m) => ({ id: m.ID, url: m.peerURLs[0] }));
    return { memberId: joined.memberId, clusterId: joined.clusterId, bootstrap, peers, persist: () => {} };
  }
  const self = members.find((m) => m.name === config.name);
  if (!self) {
    throw new Error(`couldn't find local name "${config.name}" in the initial cluster configuration`);
  }
  const memberId = self.id;
  const clusterId = computeClusterId(members.map((m) => m.id));
  return {
    memberId,
    clusterId,
    bootstrap,
    peers: members.map((m) => ({ id: m.id, url: m.peerURLs[0] })),
    persist: () => {
      if (!existsSync(file)) writeIdentity(dir, file, memberId, clusterId);
    },
  };
}

function readIdentity(file: string): { memberId: bigint; clusterId: bigint } | undefined {
  if (!existsSync(file)) return undefined;
  const d = JSON.parse(readFileSync(file, 'utf8')) as { memberId?: unknown; clusterId?: unknown };
  if (typeof d.memberId !== 'string' || typeof d.clusterId !== 'string') {
    throw new Error(`${file}: not a member identity (memberId, clusterId)`);
  }
  return { memberId: BigInt(`0x${d.memberId}`), clusterId: BigInt(`0x${d.clusterId}`) };
}

/** Written whole or not at all: a temporary file, synced, renamed into place. */
function writeIdentity(dir: string, file: string, memberId: bigint, clusterId: bigint): void {
  mkdirSync(dir, { recursive: true });
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, JSON.stringify({ memberId: memberId.toString(16), clusterId: clusterId.toString(16) }));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
