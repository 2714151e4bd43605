// What travels in a normal Raft entry: one replicated operation, tagged with the ID of the request that
// proposed it (so the proposing member can answer its waiter when the entry applies). Anything random or
// time-dependent (lease IDs chosen by the server, …) is decided before proposing and carried here, never
// created during apply. Encoded with msgpack (bigints as int64), except puts (./put-codec.ts).

import { Decoder, Encoder, decode as msgDecode, encode as msgEncode } from '@msgpack/msgpack';
import type {
  AlarmType,
  CompactionRequest,
  DeleteRangeRequest,
  LeaseGrantRequest,
  Permission,
  PutRequest,
  TxnRequest,
} from '../etcd/types.ts';
import { decodePutProposal, encodePutProposal, PUT_PROPOSAL_TAG } from './put-codec.ts';

/** Unique across members and restarts: the proposer, a per-process nonce, a counter. */
export interface RequestId {
  readonly member: bigint;
  readonly nonce: number;
  readonly seq: number;
}

/**
 * Who proposed an external request (etcd's RequestHeader username / auth_revision), checked when the entry applies
 * so that every member decides alike and in order with permission changes. `user: ''`, revision 0: no credentials.
 * Absent: proposed by the server itself (lease expiry, auto-compaction, …), always allowed. Entries written before
 * auth existed carry none.
 */
export interface OpAuth {
  readonly user: string;
  readonly revision: number;
}

/** Auth mutations (etcd's Auth RPCs). Password hashes and token prefixes are computed before proposing. */
export type AuthOperation =
  | { readonly type: 'authEnable' }
  | { readonly type: 'authDisable' }
  /** Password checked by the proposer; applying assigns the simple token `<simpleToken>.<index>` everywhere. */
  | { readonly type: 'authenticate'; readonly name: string; readonly simpleToken?: string }
  | { readonly type: 'userAdd'; readonly name: string; readonly hash: string; readonly noPassword: boolean }
  | { readonly type: 'userDelete'; readonly name: string }
  | { readonly type: 'userChangePassword'; readonly name: string; readonly hash: string }
  | { readonly type: 'userGrantRole'; readonly user: string; readonly role: string }
  | { readonly type: 'userRevokeRole'; readonly name: string; readonly role: string }
  | { readonly type: 'roleAdd'; readonly name: string }
  | { readonly type: 'roleDelete'; readonly role: string }
  | { readonly type: 'roleGrantPermission'; readonly name: string; readonly perm: Permission }
  | {
      readonly type: 'roleRevokePermission';
      readonly role: string;
      readonly key: Uint8Array;
      readonly rangeEnd?: Uint8Array;
    };

export type Operation =
  | { readonly type: 'put'; readonly request: PutRequest; readonly auth?: OpAuth }
  | { readonly type: 'deleteRange'; readonly request: DeleteRangeRequest; readonly auth?: OpAuth }
  | { readonly type: 'txn'; readonly request: TxnRequest; readonly auth?: OpAuth }
  | { readonly type: 'compact'; readonly request: CompactionRequest; readonly auth?: OpAuth }
  | { readonly type: 'leaseGrant'; readonly request: Required<LeaseGrantRequest> }
  | {
      readonly type: 'leaseRevoke';
      readonly id: bigint;
      readonly auth?: OpAuth;
      /**
       * An expiry revoke (the leader's, not a client's): the proposer's applied index. A keep-alive that went
       * through Raft and applied after it (lessor.renewedAfter) answered the client "renewed", so the revoke is
       * dropped; the leader revokes again if the lease expires once more.
       */
      readonly unlessRenewedAfter?: number;
    }
  | (AuthOperation & { readonly auth?: OpAuth })
  /** A keep-alive that went through Raft: resets the checkpointed TTL everywhere, renews on the leader. */
  | { readonly type: 'leaseRenew'; readonly id: bigint }
  | {
      readonly type: 'leaseCheckpoint';
      readonly checkpoints: readonly { id: bigint; remainingTtl: number }[];
    }
  /** A member publishes its name and client URLs once started (etcd's attribute publishing). */
  | {
      readonly type: 'publishMember';
      readonly id: bigint;
      readonly name: string;
      readonly clientURLs: readonly string[];
    }
  /** MemberUpdate: a member's new peer URLs (etcd's ConfChangeUpdateNode; no change to the Raft configuration). */
  | { readonly type: 'updateMember'; readonly id: bigint; readonly peerURLs: readonly string[] }
  /** An empty write: ReadIndex barriers, health checks ("successfully committed proposal"). */
  | { readonly type: 'noop' }
  /** Maintenance.Alarm ACTIVATE / DEACTIVATE (alarms.ts). */
  | {
      readonly type: 'alarm';
      readonly action: 'ACTIVATE' | 'DEACTIVATE';
      readonly memberID: bigint;
      readonly alarm: AlarmType;
    }
  /** The corruption check: the leader's HashKV at a revision; every member compares its own (alarms.ts). */
  | { readonly type: 'hashCheck'; readonly revision: number; readonly hash: number };

export interface Proposal {
  readonly id: RequestId;
  readonly op: Operation;
}

// ignoreUndefined: an absent optional field must stay absent after the log, not come back as null.
const OPTIONS = { useBigInt64: true, ignoreUndefined: true } as const;

// One encoder and decoder for every proposal (msgpack's encode/decode build new ones per call; the encoder's
// 2 KiB buffer would then back each entry's bytes in the Raft log). `encode` returns an exact-size copy.
const encoder = new Encoder(OPTIONS);
const decoder = new Decoder(OPTIONS);

export function encodeProposal(p: Proposal): Uint8Array {
  if (p.op.type === 'put') return encodePutProposal(p.id, p.op.request, p.op.auth);
  return encoder.encode([p.id.member, p.id.nonce, p.id.seq, p.op]);
}

export function decodeProposal(data: Uint8Array): Proposal {
  if (data[0] === PUT_PROPOSAL_TAG) return decodePutProposal(data);
  const d = decoder.decode(data);
  if (!Array.isArray(d) || d.length !== 4) throw new Error('server: malformed proposal entry');
  const [member, nonce, seq, op] = d as [bigint | number, number, number, Operation];
  return { id: { member: BigInt(member), nonce, seq }, op };
}

/** `member:nonce`, the proposer incarnation part of a request key. */
export function originKey(id: RequestId): string {
  return `${memberText(id.member)}:${id.nonce}`;
}

export function requestKey(id: RequestId): string {
  return `${memberText(id.member)}:${id.nonce}:${id.seq}`;
}

// Member IDs in decimal, remembered: a bigint's toString is a cost paid on every proposal and apply otherwise.
const memberTexts = new Map<bigint, string>();

function memberText(member: bigint): string {
  let text = memberTexts.get(member);
  if (text === undefined) {
    if (memberTexts.size >= 1024) memberTexts.clear();
    text = member.toString();
    memberTexts.set(member, text);
  }
  return text;
}

// The confChange context carries the proposer's request ID ahead of the member context, so that the
// proposing member can answer its waiter.

export function tagContext(id: RequestId, context: Uint8Array): Uint8Array {
  return msgEncode([id.member, id.nonce, id.seq, context], { useBigInt64: true });
}

export function untagContext(data: Uint8Array | undefined): { id?: RequestId; context?: Uint8Array } {
  if (!data || data.length === 0) return {};
  try {
    const d = msgDecode(data, { useBigInt64: true });
    if (Array.isArray(d) && d.length === 4) {
      const [member, nonce, seq, context] = d as [bigint, number, number, Uint8Array];
      return { id: { member: BigInt(member), nonce, seq }, context };
    }
  } catch {
    // Not tagged (bootstrap entries carry no context).
  }
  return { context: data };
}
