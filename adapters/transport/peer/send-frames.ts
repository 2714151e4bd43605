// Raft messages → frames on peer links: the send path of the Node peer transport (./node/transport.ts) and the
// browser's WebSocket transport. A message to an unknown peer, or to a link that refuses or is full, is counted
// as dropped and the peer reported unreachable; one that cannot be encoded or exceeds the frame limit is dropped
// with an error log.
// Browser-safe: no Node APIs.

import type { Logger } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { LeaseMessage, LeaseSendResult } from '../../../src/transport.ts';
import { encodeLeaseFrame, LEASE_TTL_TYPES } from './lease-codec.ts';
import { encodeMessageFrame } from './message-codec.ts';
import { FRAME_HEADER_BYTES, formatId } from './wire.ts';

/** What a peer link offers the send path. */
export interface FrameSink {
  readonly refusing: boolean;
  /**
   * Lease messages on this link (a dialed one; others take none): 'now' (a connection is up whose peer said in its
   * handshake reply that it takes them), 'later' (none is up, and the last reply, if any, offered them), 'no'.
   */
  readonly leases?: 'now' | 'later' | 'no';
  /** The peer takes the TimeToLive lease messages too (./lease-codec.ts LEASE_TTL_TYPES). */
  readonly leaseTtl?: boolean;
  dropped: number;
  /** Queues one encoded frame; false when it was dropped. */
  enqueue(frame: Uint8Array): boolean;
}

export interface SendContext {
  readonly links: ReadonlyMap<NodeId, FrameSink>;
  /** Messages to peers without a link, per peer. */
  readonly droppedUnknown: Map<NodeId, number>;
  readonly maxFrameBytes: number;
  readonly logger: Logger;
  reportUnreachable(peer: NodeId): void;
}

export function sendFrames(ctx: SendContext, messages: readonly Message[]): void {
  for (const message of messages) {
    const link = ctx.links.get(message.to);
    if (!link) {
      ctx.droppedUnknown.set(message.to, (ctx.droppedUnknown.get(message.to) ?? 0) + 1);
      ctx.reportUnreachable(message.to);
      continue;
    }
    // Check before encoding, so that a flood to a full or down peer costs little.
    if (link.refusing) {
      link.dropped++;
      ctx.reportUnreachable(message.to);
      continue;
    }
    let frame: Uint8Array;
    try {
      // Encoding here also copies: the caller may reuse its arrays once send returns.
      frame = encodeMessageFrame(message);
    } catch (error) {
      link.dropped++;
      ctx.logger.error('cannot encode a peer message, dropping it', {
        peer: formatId(message.to),
        type: message.type,
        error: (error as Error).message,
      });
      ctx.reportUnreachable(message.to);
      continue;
    }
    if (frame.length - FRAME_HEADER_BYTES > ctx.maxFrameBytes) {
      link.dropped++;
      ctx.logger.error('peer message exceeds the frame limit, dropping it', {
        peer: formatId(message.to),
        type: message.type,
        bytes: frame.length - FRAME_HEADER_BYTES,
        max: ctx.maxFrameBytes,
      });
      ctx.reportUnreachable(message.to);
      continue;
    }
    if (!link.enqueue(frame)) ctx.reportUnreachable(message.to);
  }
}

/**
 * Transport.sendLease on peer links: queued (or dropped as a Raft message would be: the forwarding member asks
 * again) on a connection up whose peer said it takes lease messages; 'notNow' while no connection is up to a peer
 * that may take them; 'never' to unknown peers and links without them.
 */
export function sendLeaseFrame(ctx: SendContext, message: LeaseMessage): LeaseSendResult {
  const link = ctx.links.get(message.to);
  if (link?.leases === undefined || link.leases === 'no') return 'never';
  if (LEASE_TTL_TYPES.has(message.type) && link.leases === 'now' && !link.leaseTtl) return 'never';
  if (link.leases === 'later') return 'notNow';
  let frame: Uint8Array;
  try {
    frame = encodeLeaseFrame(message);
  } catch (error) {
    ctx.logger.error('cannot encode a lease message, dropping it', { error: (error as Error).message });
    return 'sent';
  }
  if (!link.enqueue(frame)) ctx.reportUnreachable(message.to);
  return 'sent';
}
