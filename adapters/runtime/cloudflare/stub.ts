// What the Worker and the members of a Worker see of a member: its stub's RPC methods, the namespace binding, the
// environment, and how one object reaches another of the same namespace.

import type { DeliveryReply, PeerDeliver } from '../../transport/fetch/index.ts';
import { DO_ADDRESS_PREFIX, type EdgecdVars } from './config.ts';
import type { JoinRecord, JoinRequest } from './join.ts';

/** What a member's stub offers (RPC methods and fetch), as the Worker and other members see it. */
export interface MemberStub {
  fetch(request: Request): Promise<Response>;
  deliver(body: Uint8Array): Promise<DeliveryReply>;
  memberStatus(): Promise<MemberStatus>;
  join(request: JoinRequest): Promise<JoinRecord>;
  directoryAdd(name: string): Promise<void>;
  directoryList(): Promise<string[]>;
}

export interface MemberId {
  toString(): string;
}

/** The Durable Object namespace binding of EdgecdMember. */
export interface MemberNamespace {
  idFromName(name: string): MemberId;
  get(id: MemberId, options?: { readonly locationHint?: string }): MemberStub;
}

export interface EdgecdEnv extends EdgecdVars {
  readonly EDGECD_MEMBER: MemberNamespace;
  /** The cluster's peer secret (`wrangler secret put EDGECD_PEER_SECRET`): peer routes and joins need it. */
  readonly EDGECD_PEER_SECRET?: string;
  /** Where joined members' objects are placed: `name=hint,…` (see worker.ts). */
  readonly EDGECD_LOCATION_HINTS?: string;
}

/** A member's state as plain strings and numbers (what `memberStatus()` returns). */
export interface MemberStatus {
  readonly name: string;
  readonly id: string;
  readonly role: string;
  readonly leader: string;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
  readonly instance: string;
  readonly alarms: { readonly set: number; readonly fired: number };
  /** The replicated member list as this member knows it (IDs as decimal strings). */
  readonly members: readonly {
    readonly id: string;
    readonly name: string;
    readonly peerURLs: readonly string[];
    readonly clientURLs: readonly string[];
    readonly isLearner: boolean;
  }[];
}

export function memberStub(env: EdgecdEnv, name: string): MemberStub {
  return env.EDGECD_MEMBER.get(env.EDGECD_MEMBER.idFromName(name));
}

/** Peer batches to other members of the namespace, as RPC: `do:<name>` → `stub.deliver(body)`. */
export function durableObjectDeliver(namespace: MemberNamespace, fallback?: PeerDeliver): PeerDeliver {
  return async (address, body) => {
    if (!address.startsWith(DO_ADDRESS_PREFIX)) {
      if (fallback) return fallback(address, body);
      return { ok: false, code: 'target', reason: `no route to ${address}` };
    }
    const name = address.slice(DO_ADDRESS_PREFIX.length);
    return namespace.get(namespace.idFromName(name)).deliver(body);
  };
}
