// The member list as etcd's peer port serves it (GET /members: etcd's membership.Member JSON, IDs as exact uint64
// numbers, the cluster ID in X-Etcd-Cluster-ID as hex). Portable: Node members serve and read it, and members in
// Durable Objects read it when they join a cluster.

import type { Member } from '../etcd/types.ts';

export const CLUSTER_ID_HEADER = 'X-Etcd-Cluster-ID';

/** etcd's membership.Member JSON, with the ID written as an exact uint64 number. */
export function membersJson(members: readonly Member[]): string {
  const items = members.map(
    (m) =>
      `{"id":${m.ID.toString()},"name":${JSON.stringify(m.name)},"peerURLs":${JSON.stringify(m.peerURLs)},` +
      `"clientURLs":${JSON.stringify(m.clientURLs)}${m.isLearner ? ',"isLearner":true' : ''}}`,
  );
  return `[${items.join(',')}]`;
}

/** Parses membersJson (uint64 IDs kept exact). */
export function parseMembersJson(text: string): Member[] {
  const quoted = text.replace(/"id"\s*:\s*(\d+)/g, '"id":"$1"');
  const raw = JSON.parse(quoted) as {
    id: string;
    name?: string;
    peerURLs?: string[];
    clientURLs?: string[];
    isLearner?: boolean;
  }[];
  return raw.map((m) => ({
    ID: BigInt(m.id),
    name: m.name ?? '',
    peerURLs: m.peerURLs ?? [],
    clientURLs: m.clientURLs ?? [],
    isLearner: !!m.isLearner,
  }));
}
