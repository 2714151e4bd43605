// Response headers as the store fills them: only the revision. The server fills cluster_id, member_id and
// raft_term on top-level responses; nested ones keep zeros, as in etcd.

import type { ResponseHeader } from '../etcd/kv.ts';

export function header(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}
