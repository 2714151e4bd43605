// What travels on a port between a member's InPageTransport (index.ts) and the InPageHub (hub.ts):
// member → hub `{ kind: 'send', messages }` and `{ kind: 'close' }`;
// hub → member `{ kind: 'deliver', message }` and `{ kind: 'unreachable', peer }`.

import type { Message, NodeId } from '../../../src/raft/types.ts';

/** What the transport and the hub need of a MessagePort (also fits a Worker or a worker's global scope). */
export interface PortLike {
  postMessage(data: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  /** MessagePort needs it when listening through addEventListener. */
  start?(): void;
}

export type ToHub = { kind: 'send'; messages: Message[] } | { kind: 'close' };
export type ToMember = { kind: 'deliver'; message: Message } | { kind: 'unreachable'; peer: NodeId };
