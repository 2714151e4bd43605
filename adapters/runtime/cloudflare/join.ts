// A Durable Object member joining a running cluster (Node members, other Workers' members), as etcd's
// `--initial-cluster-state existing` does for a process:
//
//   1. the operator adds it with etcd's workflow: `etcdctl member add do-1
//      --peer-urls='https://edgecd.example.workers.dev?member=do-1'` (`--learner` for an edge learner; etcd
//      refuses a peer URL with a path, so the member's name travels in the query);
//   2. then starts it: `POST /edgecd/v1/join/do-1` on the Worker with `{ "peers": [<peer URLs of running
//      members>] }` and the cluster's peer secret (see ./worker.ts). The object asks those members for the member
//      list (`GET <peer URL>/members`, etcd's peer route), finds the entry whose peer URL is its own, and keeps
//      that ID, the cluster ID and its URLs in its storage: an evicted or restarted object comes back as the same
//      member without asking again. Its log starts empty; the leader catches it up (entries or a snapshot).
//
// Peer links from a joined member (`peerDeliver`): to a member of the same Worker (peer URL
// `<this Worker>?member=<name>`) by Durable Object RPC; to a member of another Worker by POST to its peer
// URL; to a Node member by POST to `<peer URL>/edgecd/peer/batch` (its peer port takes HTTP batches). Every HTTP
// batch carries the peer secret. Node members reach the object through the Worker's peer route.

import { CLUSTER_ID_HEADER, parseMembersJson } from '../../../src/server/members-json.ts';
import {
  type DeliveryReply,
  httpBatchUrl,
  httpDeliver,
  type PeerDeliver,
} from '../../transport/fetch/index.ts';
import { DO_ADDRESS_PREFIX } from './config.ts';

/** Where a Worker serves its members' peer batches: `/edgecd/peer/<name>`. */
export const WORKER_PEER_PREFIX = '/edgecd/peer/';
/** Where a Worker serves one member's client API (its client URL): `/edgecd/member/<name>`. */
export const WORKER_MEMBER_PREFIX = '/edgecd/member/';
/** Storage key of the join record. */
export const JOIN_KEY = 'edgecd:join';
/** Names a joined member may have: what a URL path segment and a Durable Object name carry safely. */
export const MEMBER_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** What a joined member keeps (IDs as decimal strings: storage values are structured clones, bigint-safe). */
export interface JoinRecord {
  readonly name: string;
  readonly memberId: string;
  readonly clusterId: string;
  readonly peerURL: string;
  readonly clientURL: string;
  readonly isLearner: boolean;
  /** The other members as the cluster listed them at the join; later changes come from the log. */
  readonly peers: readonly { readonly id: string; readonly url: string }[];
}

export interface JoinRequest {
  readonly name: string;
  /** This member's peer and client URLs, as the Worker serves them. */
  readonly peerURL: string;
  readonly clientURL: string;
  /** Peer URLs of running members to ask for the member list. */
  readonly peers: readonly string[];
}

/** A member's peer URL on this Worker, in the form `etcdctl member add --peer-urls` accepts (no path). */
export function workerPeerURL(origin: string, name: string): string {
  return `${origin}?member=${name}`;
}

/** The member name a peer URL of this Worker names, if it is one (see httpBatchUrl for the two forms). */
export function localMemberName(address: string, origin: string): string | undefined {
  const url = httpBatchUrl(address);
  if (!url?.startsWith(`${origin}${WORKER_PEER_PREFIX}`)) return undefined;
  const name = decodeURIComponent(url.slice(origin.length + WORKER_PEER_PREFIX.length));
  return MEMBER_NAME.test(name) ? name : undefined;
}

/**
 * Asks the given members for the member list and finds the entry that is this member (by its peer URL). Throws
 * with the reason when no member answers or the cluster has not added this peer URL.
 */
export async function resolveJoin(request: JoinRequest, fetchFn: typeof fetch = fetch): Promise<JoinRecord> {
  const failures: string[] = [];
  for (const peer of request.peers) {
    let res: Response;
    try {
      res = await fetchFn(`${peer.replace(/\/+$/, '')}/members`, { signal: AbortSignal.timeout(5000) });
    } catch (error) {
      failures.push(`${peer}: ${(error as Error).message}`);
      continue;
    }
    const text = await res.text();
    const clusterHex = res.headers.get(CLUSTER_ID_HEADER);
    if (!res.ok || !clusterHex) {
      failures.push(`${peer}: HTTP ${res.status}`);
      continue;
    }
    const members = parseMembersJson(text);
    const self = members.find((m) => m.peerURLs.includes(request.peerURL));
    if (!self) {
      throw new Error(
        `the cluster has no member with peer URL ${request.peerURL}: add it first ` +
          `(etcdctl member add ${request.name} --peer-urls=${request.peerURL})`,
      );
    }
    return {
      name: request.name,
      memberId: self.ID.toString(),
      clusterId: BigInt(`0x${clusterHex}`).toString(),
      peerURL: request.peerURL,
      clientURL: request.clientURL,
      isLearner: self.isLearner,
      peers: members
        .filter((m) => m.ID !== self.ID && m.peerURLs.length > 0)
        .map((m) => ({ id: m.ID.toString(), url: m.peerURLs[0] })),
    };
  }
  throw new Error(`no member answered GET /members (${failures.join('; ') || 'no peer URLs given'})`);
}

export interface PeerDeliverOptions {
  /** This Worker's origin: peer URLs under it are members of this namespace, reached by RPC. */
  readonly origin?: string;
  /** RPC delivery to a member of this namespace by name. */
  readonly local: (name: string, body: Uint8Array) => Promise<DeliveryReply>;
  readonly secret?: string;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

/** How a member in a Durable Object reaches every other kind of member (see the file comment). */
export function peerDeliver(options: PeerDeliverOptions): PeerDeliver {
  const http = httpDeliver(
    options.fetch ?? ((input, init) => fetch(input, init)),
    options.timeoutMs,
    options.secret,
  );
  return async (address, body) => {
    if (address.startsWith(DO_ADDRESS_PREFIX))
      return options.local(address.slice(DO_ADDRESS_PREFIX.length), body);
    const local = options.origin ? localMemberName(address, options.origin) : undefined;
    if (local !== undefined) return options.local(local, body);
    if (!/^https?:\/\//.test(address)) return { ok: false, code: 'target', reason: `no route to ${address}` };
    return http(address, body);
  };
}
