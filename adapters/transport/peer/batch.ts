// HTTP batches: one call carries a batch of messages for one peer (the fetch transport's calls, Node members'
// HTTP links, the peer port's POST route). Browser-safe.
//
// Body (protocol version 2): msgpack (@msgpack/msgpack, useBigInt64) of
//   { v: 2, cluster: bigint, from: bigint, to: bigint, msgs: Uint8Array[] }
// where each element of `msgs` is one Message in the binary layout of ./message-codec.ts (a frame payload of
// ./wire.ts; its decodeMessage also reads version 1's msgpack messages, so v 1 bodies are still accepted). Every call carries the handshake fields, so
// the receiver checks each batch on its own: another cluster, another target member or another protocol version
// is refused. Reply: { ok: true } | { ok: false, code, reason } (msgpack over HTTP; a plain object over RPC).

import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import { encodeMessageFrame } from './message-codec.ts';
import { decodeMessage, FRAME_HEADER_BYTES, formatId } from './wire.ts';

export const FETCH_PROTOCOL_VERSION = 2;
const ACCEPTED_VERSIONS = new Set<unknown>([1, 2, 1n, 2n]);

/** 'member' (the sender is not a peer of the receiver) comes from Node members' peer ports (./node/port-http.ts). */
export type RefusalCode = 'version' | 'cluster' | 'target' | 'closed' | 'malformed' | 'member';

export type DeliveryReply =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: RefusalCode; readonly reason: string };

/**
 * Sends one encoded batch to the peer at `address` and resolves with its reply. Rejecting (or resolving a
 * refusal) makes the transport drop the batch and report the peer unreachable; Raft retransmits.
 */
export type PeerDeliver = (address: string, body: Uint8Array) => Promise<DeliveryReply>;

const encoder = new Encoder({ useBigInt64: true, ignoreUndefined: true });
const decoder = new Decoder({ useBigInt64: true });

export interface Batch {
  readonly cluster: bigint;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly messages: readonly Uint8Array[];
}

/**
 * Decodes and checks a batch body (version, cluster, target, each message's from/to), for FetchTransport.receive
 * and other receivers (a Node member's peer port). Never throws.
 */
export function decodeBatch(
  body: Uint8Array,
  self: { readonly clusterId: bigint; readonly id: NodeId },
  /** When given, a sender it does not know is refused ('member') before its messages are decoded. */
  isPeer?: (from: NodeId) => boolean,
): { ok: true; from: NodeId; messages: Message[] } | Exclude<DeliveryReply, { ok: true }> {
  let value: Record<string, unknown>;
  try {
    value = decoder.decode(body) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, code: 'malformed', reason: `undecodable batch: ${(error as Error).message}` };
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, code: 'malformed', reason: 'not a batch' };
  }
  if (!ACCEPTED_VERSIONS.has(value.v)) {
    return { ok: false, code: 'version', reason: `unsupported protocol version ${String(value.v)}` };
  }
  if (value.cluster !== self.clusterId) {
    return { ok: false, code: 'cluster', reason: `cluster ID mismatch (${String(value.cluster)})` };
  }
  if (value.to !== self.id) {
    return { ok: false, code: 'target', reason: `batch for ${String(value.to)} reached ${self.id}` };
  }
  const from = value.from;
  if (typeof from !== 'bigint' || !Array.isArray(value.msgs)) {
    return { ok: false, code: 'malformed', reason: 'malformed batch' };
  }
  if (isPeer && !isPeer(from)) {
    // Not a current member (never added, or removed): refused as the Node peer port refuses it.
    return { ok: false, code: 'member', reason: `member ${formatId(from)} is not a peer of this member` };
  }
  const messages: Message[] = [];
  try {
    for (const raw of value.msgs) {
      if (!(raw instanceof Uint8Array)) throw new Error('message is not binary');
      const m = decodeMessage(raw);
      if (m.to !== self.id || m.from !== from) throw new Error('message from/to differ from the batch');
      messages.push(m);
    }
  } catch (error) {
    return { ok: false, code: 'malformed', reason: (error as Error).message };
  }
  return { ok: true, from, messages };
}

export function encodeBatch(batch: Batch): Uint8Array {
  return encoder.encode({
    v: FETCH_PROTOCOL_VERSION,
    cluster: batch.cluster,
    from: batch.from,
    to: batch.to,
    msgs: batch.messages,
  });
}

/** A message as it travels inside a batch (a fresh copy of every byte array it holds). */
export function encodeMessage(message: Message): Uint8Array {
  return encodeMessageFrame(message).subarray(FRAME_HEADER_BYTES);
}

export function encodeReply(reply: DeliveryReply): Uint8Array {
  return encoder.encode(reply);
}

export function decodeReply(body: Uint8Array): DeliveryReply {
  try {
    const value = decoder.decode(body) as Record<string, unknown> | null;
    if (value && value.ok === true) return { ok: true };
    if (value && value.ok === false) {
      return {
        ok: false,
        code: (typeof value.code === 'string' ? value.code : 'malformed') as RefusalCode,
        reason: typeof value.reason === 'string' ? value.reason : 'refused',
      };
    }
  } catch {}
  return { ok: false, code: 'malformed', reason: 'undecodable reply' };
}
