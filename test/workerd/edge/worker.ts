// The Worker of the `workerd-edge` project (vitest.workerd.config.ts): the real edgecd Worker
// (adapters/runtime/cloudflare/worker.ts: its default export and EdgecdMember), plus TransportTestObject, a
// Durable Object that hosts one FetchTransport so that the transport conformance suite runs between objects.

import { DurableObject } from 'cloudflare:workers';
import {
  type DeliveryReply,
  FetchTransport,
  type PeerDeliver,
} from '../../../adapters/transport/fetch/index.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import type { TransportHandler } from '../../../src/transport.ts';

export { default, EdgecdMember } from '../../../adapters/runtime/cloudflare/worker.ts';

interface TransportNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): { deliver(body: Uint8Array): Promise<DeliveryReply> };
}

/** Batches to other TransportTestObjects by name, as RPC. */
export function transportTestDeliver(namespace: TransportNamespace): PeerDeliver {
  return (address, body) => namespace.get(namespace.idFromName(address)).deliver(body);
}

export class TransportTestObject extends DurableObject<{ TRANSPORT_TEST: TransportNamespace }> {
  private transport: FetchTransport | undefined;

  /** Opens a transport in this object; its handler is the caller's (the test's) object. */
  async open(id: NodeId, clusterId: bigint, handler: TransportHandler): Promise<FetchTransport> {
    this.transport = new FetchTransport({
      id,
      clusterId,
      deliver: transportTestDeliver(this.env.TRANSPORT_TEST),
    });
    await this.transport.start(handler);
    return this.transport;
  }

  deliver(body: Uint8Array): DeliveryReply {
    if (!this.transport) return { ok: false, code: 'closed', reason: 'no transport open' };
    return this.transport.receive(body);
  }
}
