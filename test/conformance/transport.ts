// The transport conformance suite: every Transport adapter runs it (memory, TCP, WebSocket, fetch). It checks
// what the contract in src/transport.ts promises on a healthy network: messages arrive intact, to the right
// node, exactly once; unknown and removed peers and closed transports get nothing. The contract allows loss,
// duplication and reordering under faults, so exact counts are only asserted on the fault-free network the
// harness provides, and order only when the harness declares its links FIFO.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Message, NodeId } from '../../src/raft/types.ts';
import type { LeaseMessage, Transport, TransportHandler } from '../../src/transport.ts';

export interface TransportHarness {
  /**
   * Transports for `ids`, the i-th started with `handlers[i]`, each having all the others as peers, over a
   * network that loses, duplicates and reorders nothing.
   */
  transports(ids: readonly NodeId[], handlers: readonly TransportHandler[]): Promise<Transport[]>;
  /** Resolves once every message sent so far has been delivered (or dropped) and reported. */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

export interface TransportConformanceOptions {
  /** The harness's links deliver in send order, so order is tested. The contract itself does not promise it. */
  readonly fifo: boolean;
}

/** A handler that records everything it is told. */
export class Inbox implements TransportHandler {
  readonly messages: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly leases: LeaseMessage[] = [];

  onMessage(message: Message): void {
    this.messages.push(message);
  }

  onLeaseMessage(message: LeaseMessage): void {
    this.leases.push(message);
  }

  onUnreachable(peer: NodeId): void {
    this.unreachable.push(peer);
  }
}

// Member IDs are uint64: use ones that do not fit a double.
const A = 0xffff_ffff_ffff_fff1n;
const B = 0x8000_0000_0000_0002n;
const C = 3n;
const UNKNOWN = 0xdead_beef_dead_beefn;

/** A MsgApp carrying every optional field, built fresh on each call. */
export function fullMessage(from: NodeId, to: NodeId): Message {
  return {
    type: 'MsgApp',
    from,
    to,
    term: 7,
    index: 41,
    logTerm: 6,
    entries: [
      { index: 42, term: 7, type: 'normal', data: new Uint8Array(256).map((_, i) => i) },
      { index: 43, term: 7, type: 'normal', data: new Uint8Array(0) },
      { index: 44, term: 7, type: 'confChange', data: Uint8Array.of(0, 0xff, 0) },
    ],
    commit: 40,
    reject: false,
    rejectHint: 12,
    context: Uint8Array.of(1, 2, 3),
    transfer: true,
  };
}

/** A MsgSnap with a nested chunk, built fresh on each call. */
export function snapMessage(from: NodeId, to: NodeId): Message {
  return {
    type: 'MsgSnap',
    from,
    to,
    term: 9,
    snapshot: {
      metadata: { index: 100, term: 8, confState: { voters: [A, B, C], learners: [UNKNOWN] } },
      offset: 4096,
      data: new Uint8Array(1000).map((_, i) => (i * 7) & 0xff),
      total: 5096,
    },
  };
}

function heartbeat(from: NodeId, to: NodeId, index: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, index };
}

/** The message with every byte array as a plain Uint8Array, so adapters returning subclasses compare equal. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

export function runTransportConformance(
  name: string,
  makeHarness: () => Promise<TransportHarness>,
  options: TransportConformanceOptions,
): void {
  describe(`transport conformance: ${name}`, () => {
    let harness: TransportHarness;
    let inboxes: Inbox[];
    let a: Transport;
    let b: Transport;
    let c: Transport;

    beforeEach(async () => {
      harness = await makeHarness();
      inboxes = [new Inbox(), new Inbox(), new Inbox()];
      [a, b, c] = await harness.transports([A, B, C], inboxes);
    });

    afterEach(async () => {
      for (const t of [a, b, c]) await t.close();
      await harness.cleanup();
    });

    it('delivers a message once with every field intact', async () => {
      const sent = [fullMessage(A, B), snapMessage(A, B)];
      a.send(sent);
      // The sender may reuse its arrays once send returns.
      sent[0].entries?.[0].data.fill(0);
      sent[1].snapshot?.data.fill(0);
      sent.length = 0;
      await harness.settle();
      const [inboxA, inboxB, inboxC] = inboxes;
      expect(inboxB.messages).toHaveLength(2);
      expect(plain(inboxB.messages[0])).toEqual(fullMessage(A, B));
      expect(plain(inboxB.messages[1])).toEqual(snapMessage(A, B));
      expect(typeof inboxB.messages[0].from).toBe('bigint');
      expect(inboxB.messages[0].entries?.[0].data).toBeInstanceOf(Uint8Array);
      expect(inboxB.messages[1].snapshot?.data).toBeInstanceOf(Uint8Array);
      expect(inboxA.messages).toEqual([]);
      expect(inboxC.messages).toEqual([]);
    });

    it('carries lease messages where it offers them: intact, to the right node, apart from Raft messages', async () => {
      if (!a.sendLease || !b.sendLease) return; // optional (src/transport.ts): without it, keep-alives use Raft
      // Peer links learn from the handshake whether the peer takes them: a Raft message each way opens them.
      a.send([heartbeat(A, B, 1)]);
      b.send([heartbeat(B, A, 1)]);
      await harness.settle();
      const renew: LeaseMessage = {
        type: 'renew',
        from: A,
        to: B,
        request: 2 ** 32 - 1,
        lease: -(2n ** 63n),
        applied: 7,
      };
      const answer: LeaseMessage = {
        type: 'renewed',
        from: B,
        to: A,
        request: 0,
        lease: 2n ** 63n - 1n,
        ttl: 9e9,
      };
      expect(a.sendLease(renew)).toBe('sent');
      expect(b.sendLease(answer)).toBe('sent');
      expect(b.sendLease({ type: 'notFound', from: B, to: UNKNOWN, request: 1, lease: 1n })).toBe('never');
      await harness.settle();
      const [inboxA, inboxB, inboxC] = inboxes;
      expect(inboxB.leases).toEqual([renew]);
      expect(inboxA.leases).toEqual([answer]);
      expect(inboxC.leases).toEqual([]);
      expect([inboxA.messages.length, inboxB.messages.length]).toEqual([1, 1]);
    });

    it('delivers between every pair, in both directions, to the right node only', async () => {
      const ids = [A, B, C];
      const transports = [a, b, c];
      transports.forEach((t, i) => {
        t.send(ids.filter((id) => id !== ids[i]).map((to) => heartbeat(ids[i], to, i)));
      });
      await harness.settle();
      inboxes.forEach((inbox, i) => {
        expect(inbox.messages.every((m) => m.to === ids[i])).toBe(true);
        const froms = inbox.messages.map((m) => m.from);
        expect(froms.sort()).toEqual(ids.filter((id) => id !== ids[i]).sort());
        expect(inbox.unreachable).toEqual([]);
      });
    });

    it('drops messages to an unknown peer without throwing, and reports it', async () => {
      expect(() => a.send([heartbeat(A, UNKNOWN, 1), heartbeat(A, B, 2)])).not.toThrow();
      await harness.settle();
      expect(inboxes[1].messages.map((m) => m.index)).toEqual([2]);
      expect(inboxes[2].messages).toEqual([]);
      expect(inboxes[0].unreachable).toContain(UNKNOWN);
    });

    it('stops delivering to a removed peer', async () => {
      a.removePeer(B);
      expect(() => a.send([heartbeat(A, B, 1), heartbeat(A, C, 2)])).not.toThrow();
      await harness.settle();
      expect(inboxes[1].messages).toEqual([]);
      expect(inboxes[2].messages.map((m) => m.index)).toEqual([2]);
      expect(inboxes[0].unreachable).toContain(B);
      // The removed peer can still talk to the others.
      b.send([heartbeat(B, C, 3)]);
      await harness.settle();
      expect(inboxes[2].messages.map((m) => m.index)).toEqual([2, 3]);
    });

    it('delivers nothing to or from a closed transport', async () => {
      await b.close();
      expect(() => a.send([heartbeat(A, B, 1)])).not.toThrow();
      expect(() => b.send([heartbeat(B, A, 2), heartbeat(B, C, 3)])).not.toThrow();
      a.send([heartbeat(A, C, 4)]);
      await harness.settle();
      expect(inboxes[1].messages).toEqual([]);
      expect(inboxes[0].messages).toEqual([]);
      expect(inboxes[2].messages.map((m) => m.index)).toEqual([4]);
    });

    it('delivers many messages (5,000) on a fault-free link, each exactly once', async () => {
      const n = 5_000;
      for (let i = 0; i < n; i += 50) {
        const batch: Message[] = [];
        for (let j = i; j < i + 50; j++) batch.push(heartbeat(A, B, j));
        a.send(batch);
      }
      await harness.settle();
      const got = inboxes[1].messages.map((m) => m.index ?? -1);
      expect(got).toHaveLength(n);
      expect(new Set(got).size).toBe(n);
      expect(Math.min(...got)).toBe(0);
      expect(Math.max(...got)).toBe(n - 1);
      expect(inboxes[0].unreachable).toEqual([]);
    });

    it.runIf(options.fifo)('preserves send order on one link', async () => {
      const expected: string[] = [];
      const key = (m: Message) => `${m.type}:${m.index ?? m.snapshot?.offset}`;
      for (let i = 0; i < 500; i++) {
        const batch = i % 7 === 0 ? [snapMessage(A, B), heartbeat(A, B, i)] : [heartbeat(A, B, i)];
        expected.push(...batch.map(key));
        a.send(batch);
        b.send([heartbeat(B, A, i)]);
      }
      await harness.settle();
      expect(inboxes[1].messages.map(key)).toEqual(expected);
      expect(inboxes[0].messages.map((m) => m.index)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    });
  });
}
