import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import type { Clock, Random, TimerHandle } from '../../src/env.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import type { Transport, TransportHandler } from '../../src/transport.ts';
import { fullMessage, Inbox, runTransportConformance } from '../conformance/transport.ts';

/** mulberry32: a tiny seeded PRNG. */
function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

interface Timer {
  readonly at: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/** Virtual time that moves only when told; timers due at the same time fire in the order they were set. */
class ManualClock implements Clock {
  private time = 0;
  private readonly timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: Timer = { at: this.time + Math.max(0, delayMs), callback, cancelled: false };
    // Insert after every timer due at or before it: FIFO among equals.
    let lo = 0;
    let hi = this.timers.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.timers[mid].at <= timer.at) lo = mid + 1;
      else hi = mid;
    }
    this.timers.splice(lo, 0, timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time forward by `ms`, firing every timer that falls due, including ones set meanwhile. */
  advance(ms: number): void {
    const until = this.time + ms;
    while (this.timers.length > 0 && this.timers[0].at <= until) {
      const timer = this.timers.shift()!;
      this.time = timer.at;
      if (!timer.cancelled) timer.callback();
    }
    this.time = until;
  }

  /** Fires timers until none are left. */
  runAll(): void {
    while (this.timers.length > 0) this.advance(this.timers[this.timers.length - 1].at - this.time);
  }
}

function connect(
  network: MemoryNetwork,
  ids: readonly NodeId[],
  handlers: readonly TransportHandler[],
): Promise<Transport[]> {
  return Promise.all(
    ids.map(async (id, i) => {
      const transport = network.transport(id);
      for (const peer of ids) if (peer !== id) transport.addPeer(peer, `memory://${peer}`);
      await transport.start(handlers[i]);
      return transport;
    }),
  );
}

runTransportConformance(
  'memory (virtual clock)',
  async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork(clock, new FaultModel(mulberry32(1)));
    return {
      transports: (ids, handlers) => connect(network, ids, handlers),
      settle: async () => clock.runAll(),
      cleanup: async () => {},
    };
  },
  { fifo: true },
);

runTransportConformance(
  'memory (real clock)',
  async () => {
    const network = new MemoryNetwork(
      new RealClock(),
      new FaultModel(mulberry32(1), { minDelayMs: 1, maxDelayMs: 1 }),
    );
    return {
      transports: (ids, handlers) => connect(network, ids, handlers),
      settle: async () => {
        while (network.pending > 0) await new Promise((resolve) => setTimeout(resolve, 1));
      },
      cleanup: async () => {},
    };
  },
  { fifo: true },
);

function heartbeat(from: NodeId, to: NodeId, index: number): Message {
  return { type: 'MsgHeartbeat', from, to, term: 1, index };
}

describe('MemoryNetwork faults and limits', () => {
  let clock: ManualClock;
  let faults: FaultModel;
  let network: MemoryNetwork;
  let inboxes: Inbox[];
  let t1: Transport;
  let t2: Transport;
  let t3: Transport;

  async function setup(maxInFlightPerLink?: number): Promise<void> {
    clock = new ManualClock();
    faults = new FaultModel(mulberry32(7), { minDelayMs: 10, maxDelayMs: 10 });
    network = new MemoryNetwork(clock, faults, { maxInFlightPerLink });
    inboxes = [new Inbox(), new Inbox(), new Inbox()];
    [t1, t2, t3] = await connect(network, [1n, 2n, 3n], inboxes);
  }

  const indexes = (inbox: Inbox) => inbox.messages.map((m) => m.index);

  beforeEach(() => setup());

  afterEach(async () => {
    for (const t of [t1, t2, t3]) await t.close();
  });

  it('delivers after the planned delay, not before', () => {
    t1.send([heartbeat(1n, 2n, 1)]);
    clock.advance(9);
    expect(inboxes[1].messages).toEqual([]);
    clock.advance(1);
    expect(indexes(inboxes[1])).toEqual([1]);
  });

  it('loses everything at drop rate 1, silently', () => {
    faults.setRates({ dropRate: 1 });
    t1.send([heartbeat(1n, 2n, 1), heartbeat(1n, 3n, 2)]);
    clock.runAll();
    expect(inboxes[1].messages).toEqual([]);
    expect(inboxes[2].messages).toEqual([]);
    expect(inboxes[0].unreachable).toEqual([]);
  });

  it('loses about half at drop rate 0.5', () => {
    faults.setRates({ dropRate: 0.5 });
    for (let i = 0; i < 2_000; i++) t1.send([heartbeat(1n, 2n, i)]);
    clock.runAll();
    expect(inboxes[1].messages.length).toBeGreaterThan(800);
    expect(inboxes[1].messages.length).toBeLessThan(1_200);
  });

  it('cuts partitioned nodes off until healed', () => {
    faults.partition([[1n], [2n, 3n]]);
    t1.send([heartbeat(1n, 2n, 1)]);
    t2.send([heartbeat(2n, 1n, 2), heartbeat(2n, 3n, 3)]);
    clock.runAll();
    expect(inboxes[0].messages).toEqual([]);
    expect(inboxes[1].messages).toEqual([]);
    expect(indexes(inboxes[2])).toEqual([3]);
    faults.heal();
    t1.send([heartbeat(1n, 2n, 4)]);
    clock.runAll();
    expect(indexes(inboxes[1])).toEqual([4]);
  });

  it('honours a one-way cut', () => {
    faults.cut(1n, 2n);
    t1.send([heartbeat(1n, 2n, 1)]);
    t2.send([heartbeat(2n, 1n, 2)]);
    clock.runAll();
    expect(inboxes[1].messages).toEqual([]);
    expect(indexes(inboxes[0])).toEqual([2]);
  });

  it('duplicates into independent copies', () => {
    faults.setRates({ duplicateRate: 1 });
    t1.send([fullMessage(1n, 2n)]);
    clock.runAll();
    const [first, second] = inboxes[1].messages;
    expect(inboxes[1].messages).toHaveLength(2);
    expect(second).toEqual(first);
    first.entries?.[0].data.fill(0);
    expect(second.entries?.[0].data[5]).toBe(5);
  });

  it('slows one link only', () => {
    faults.slowLink(1n, 2n, 100);
    t1.send([heartbeat(1n, 2n, 1)]);
    t2.send([heartbeat(2n, 1n, 2)]);
    clock.advance(50);
    expect(indexes(inboxes[0])).toEqual([2]);
    expect(inboxes[1].messages).toEqual([]);
    clock.advance(60);
    expect(indexes(inboxes[1])).toEqual([1]);
  });

  it('reorders messages when the delay jitters', () => {
    faults.setRates({ minDelayMs: 0, maxDelayMs: 100 });
    for (let i = 0; i < 100; i++) t1.send([heartbeat(1n, 2n, i)]);
    clock.runAll();
    const got = indexes(inboxes[1]);
    expect([...got].sort((x, y) => (x ?? 0) - (y ?? 0))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(got).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('drops and reports sends beyond the per-link in-flight cap', async () => {
    await setup(3);
    t1.send([1, 2, 3, 4, 5].map((i) => heartbeat(1n, 2n, i)));
    t1.send([heartbeat(1n, 3n, 6)]);
    clock.runAll();
    expect(indexes(inboxes[1])).toEqual([1, 2, 3]);
    expect(indexes(inboxes[2])).toEqual([6]);
    expect(inboxes[0].unreachable).toEqual([2n, 2n]);
    // Once the link drains it takes messages again.
    t1.send([heartbeat(1n, 2n, 7)]);
    clock.runAll();
    expect(indexes(inboxes[1])).toEqual([1, 2, 3, 7]);
  });

  it('drops messages in flight when either end closes', async () => {
    t1.send([heartbeat(1n, 2n, 1)]);
    t2.send([heartbeat(2n, 1n, 2), heartbeat(2n, 3n, 3)]);
    clock.advance(5);
    await t2.close();
    clock.runAll();
    expect(inboxes[0].messages).toEqual([]);
    expect(inboxes[1].messages).toEqual([]);
    expect(inboxes[2].messages).toEqual([]);
  });

  it('drops messages in flight to a peer removed meanwhile', () => {
    t1.send([heartbeat(1n, 2n, 1)]);
    t1.removePeer(2n);
    clock.runAll();
    expect(inboxes[1].messages).toEqual([]);
  });

  it('does not deliver to a restarted node what was sent to its previous incarnation', async () => {
    t1.send([heartbeat(1n, 2n, 1)]);
    await t2.close();
    const reborn = new Inbox();
    t2 = network.transport(2n);
    await t2.start(reborn);
    clock.runAll();
    expect(reborn.messages).toEqual([]);
    t1.send([heartbeat(1n, 2n, 2)]);
    clock.runAll();
    expect(indexes(reborn)).toEqual([2]);
  });

  it('schedules nothing for sends from a closed transport', async () => {
    await t1.close();
    t1.send([heartbeat(1n, 2n, 1)]);
    expect(network.pending).toBe(0);
    clock.runAll();
    expect(inboxes[1].messages).toEqual([]);
  });

  it('refuses a second open transport for one node', () => {
    expect(() => network.transport(1n)).toThrow();
  });

  it('reports a peer that has not started, later rather than inside send', async () => {
    const late = network.transport(4n);
    t1.addPeer(4n, 'memory://4');
    t1.send([heartbeat(1n, 4n, 1)]);
    expect(inboxes[0].unreachable).toEqual([]);
    clock.runAll();
    expect(inboxes[0].unreachable).toEqual([4n]);
    const inbox = new Inbox();
    await late.start(inbox);
    t1.send([heartbeat(1n, 4n, 2)]);
    clock.runAll();
    expect(indexes(inbox)).toEqual([2]);
    await late.close();
  });

  it('gives the receiver a copy it may change freely', () => {
    const sent = fullMessage(1n, 2n);
    t1.send([sent]);
    clock.runAll();
    const got = inboxes[1].messages[0];
    expect(got).not.toBe(sent);
    got.entries?.[0].data.fill(9);
    expect(sent.entries?.[0].data[0]).toBe(0);
  });

  it('works with a handler that has no onUnreachable', async () => {
    const quiet = network.transport(5n);
    await quiet.start({ onMessage() {} });
    expect(() => quiet.send([heartbeat(5n, 1n, 1)])).not.toThrow();
    expect(() => clock.runAll()).not.toThrow();
    await quiet.close();
  });
});
