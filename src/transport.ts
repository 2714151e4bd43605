// The message transport contract: what a transport adapter (memory, TCP, WebSocket, fetch) must do.
//
// Raft tolerates loss, duplication and reordering, so a transport is allowed all three: `send` never blocks and
// never throws, and a full queue drops messages (Raft retries) instead of growing memory. It must not corrupt a
// message or deliver one to the wrong node. Large snapshots travel as several MsgSnap chunks produced by the
// core, so no single message needs to be large.

import type { Message, NodeId } from './raft/types.ts';

export interface TransportHandler {
  /** A message addressed to this node arrived. */
  onMessage(message: Message): void;
  /** A send to `peer` failed (connection refused, queue full): Raft moves it back to probing. */
  onUnreachable?(peer: NodeId): void;
  /** A lease message from a peer arrived (transports with `sendLease`). */
  onLeaseMessage?(message: LeaseMessage): void;
}

/**
 * A keep-alive a follower forwards to the leader, and the leader's answer (etcd's LeaseRenew over the peer port,
 * leasehttp): the leader renews in memory instead of a Raft entry per keep-alive. Likewise a LeaseTimeToLive
 * ('ttl', etcd's leasehttp TimeToLive): only the leader knows a lease's deadline. `request` pairs an answer with
 * its request (u32); `applied` is the follower's applied index. 'retry': the leader could not answer now (it does
 * not lead, or has not yet applied what the follower had); 'notFound': no such lease. 'ttlIs': the seconds left
 * (-1: expired, its revoke pending) and the granted TTL.
 */
export type LeaseMessage =
  | (LeaseMessageHeader & { readonly type: 'renew'; readonly applied: number })
  | (LeaseMessageHeader & { readonly type: 'ttl'; readonly applied: number })
  | (LeaseMessageHeader & { readonly type: 'renewed'; readonly ttl: number })
  | (LeaseMessageHeader & { readonly type: 'ttlIs'; readonly ttl: number; readonly grantedTtl: number })
  | (LeaseMessageHeader & { readonly type: 'notFound' | 'retry' });

/**
 * What Transport.sendLease did with a lease message: 'sent' (queued: delivered, lost or duplicated as `send`'s
 * messages are); 'notNow' (no connection up to a peer that may take them: the member asks again on a later tick,
 * as etcd's follower retries its renew request); 'never' (the peer, or the link to it, does not take them — or
 * not this type: an older member, a browser's reverse link, an unknown peer — the member proposes the keep-alive
 * through Raft, and answers a TimeToLive from its own state).
 */
export type LeaseSendResult = 'sent' | 'notNow' | 'never';

export interface LeaseMessageHeader {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly request: number;
  readonly lease: bigint;
}

export interface Transport {
  /** Begins delivering messages for this node to `handler`. */
  start(handler: TransportHandler): Promise<void>;
  /** Queues messages for delivery; returns at once. Messages to unknown peers are dropped (and reported). */
  send(messages: readonly Message[]): void;
  /** Makes `peer` reachable at `address` (its meaning is the adapter's: a URL, a host:port, a stub name). */
  addPeer(peer: NodeId, address: string): void;
  removePeer(peer: NodeId): void;
  /** Optional: queues a lease message (see LeaseSendResult). A transport without it never forwards. */
  sendLease?(message: LeaseMessage): LeaseSendResult;
  /** Stops sending and receiving; pending messages may be dropped. */
  close(): Promise<void>;
}
