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
}

export interface Transport {
  /** Begins delivering messages for this node to `handler`. */
  start(handler: TransportHandler): Promise<void>;
  /** Queues messages for delivery; returns at once. Messages to unknown peers are dropped (and reported). */
  send(messages: readonly Message[]): void;
  /** Makes `peer` reachable at `address` (its meaning is the adapter's: a URL, a host:port, a stub name). */
  addPeer(peer: NodeId, address: string): void;
  removePeer(peer: NodeId): void;
  /** Stops sending and receiving; pending messages may be dropped. */
  close(): Promise<void>;
}
