// A read-only look inside a running member, for visualisers (the demo's log, keyspace and lease views) and
// debugging: what etcd-io/raft's Status shows, plus the in-memory log and the local keyspace. Never for serving
// clients: it bypasses auth and read barriers. createNode registers every node it makes.

import type { RangeRequest, RangeResponse } from '../etcd/types.ts';
import type { LogView, Status } from '../raft/raw-node.ts';
import type { EdgeNode } from './node.ts';

export interface LeaseInspection {
  readonly id: bigint;
  /** The TTL it was granted (seconds). */
  readonly ttl: number;
  /** Seconds left at the time asked for; -1 once expired or gone. */
  readonly remaining: number;
  /** Keys attached to it. */
  readonly keys: number;
}

export interface NodeInspection {
  /** Raft's status (etcd-io/raft's Status): term, vote, leader, role, log marks, configuration, progress. */
  raftStatus(): Status;
  /** The election timer in ticks: elapsed since it last reset, and the randomized timeout it fires at. */
  electionTimer(): { readonly elapsed: number; readonly timeout: number };
  /** The in-memory Raft log (entries from firstIndex, the ones before are compacted into a snapshot). */
  log(): LogView;
  /** A local, serializable range over this member's keyspace, without auth. */
  range(req: RangeRequest): RangeResponse;
  /** The leases this member knows, with their remaining TTL at `now` (ms, the node's clock). */
  leases(now: number): LeaseInspection[];
}

const inspections = new WeakMap<EdgeNode, NodeInspection>();

/** The inspection view of a node made by createNode; undefined for any other EdgeNode (e.g. a remote one). */
export function inspectNode(node: EdgeNode): NodeInspection | undefined {
  return inspections.get(node);
}

/** For createNode only. */
export function registerInspection(node: EdgeNode, inspection: NodeInspection): void {
  inspections.set(node, inspection);
}
