// The demo's in-page transport (adapters/transport/in-page/) against the shared Transport conformance suite, on
// Node's MessageChannel (the same structured-clone ports the browser gives workers), plus the hub's faults,
// pause and step. Runs in Node: no browser needed.

import { afterEach, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import {
  type HubEvent,
  InPageHub,
  InPageTransport,
  PausableClock,
} from '../../adapters/transport/in-page/index.ts';
import type { Message, NodeId } from '../../src/raft/types.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { Rng } from '../../src/sim/rng.ts';
import type { Transport, TransportHandler } from '../../src/transport.ts';
import { Inbox, runTransportConformance } from '../conformance/transport.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function network(rates: ConstructorParameters<typeof FaultModel>[1] = {}) {
  const hub = new InPageHub(new FaultModel(new Rng(7), rates), new RealClock());
  const channels: MessageChannel[] = [];
  const transports = async (ids: readonly NodeId[], handlers: readonly TransportHandler[]) => {
    const out: Transport[] = [];
    for (const [i, id] of ids.entries()) {
      const channel = new MessageChannel();
      channels.push(channel);
      hub.attach(id, channel.port1);
      const t = new InPageTransport(id, channel.port2);
      for (const peer of ids) if (peer !== id) t.addPeer(peer, `inpage://${peer}`);
      await t.start(handlers[i]);
      out.push(t);
    }
    return out;
  };
  /** Quiet: nothing in the hub's queue for several consecutive macrotasks (ports deliver in between). */
  const settle = async () => {
    let quiet = 0;
    for (let i = 0; i < 2_000 && quiet < 5; i++) {
      await sleep(5);
      quiet = hub.inFlight().length === 0 ? quiet + 1 : 0;
    }
  };
  const cleanup = async () => {
    for (const c of channels) {
      c.port1.close();
      c.port2.close();
    }
  };
  return { hub, transports, settle, cleanup };
}

runTransportConformance(
  'in-page (MessageChannel + InPageHub)',
  async () => {
    const n = network();
    return { transports: n.transports, settle: n.settle, cleanup: n.cleanup };
  },
  { fifo: true },
);

const hb = (from: NodeId, to: NodeId, index: number): Message => ({
  type: 'MsgHeartbeat',
  from,
  to,
  term: 1,
  index,
});

describe('in-page hub faults', () => {
  let cleanup: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await cleanup?.();
    cleanup = undefined;
  });

  it('drops across a partition and reports each fate to observers', async () => {
    const n = network();
    cleanup = n.cleanup;
    const inboxes = [new Inbox(), new Inbox(), new Inbox()];
    const [a, b] = await n.transports([1n, 2n, 3n], inboxes);
    const events: HubEvent[] = [];
    n.hub.onEvent((e) => events.push(e));
    n.hub.faults.partition([[1n], [2n, 3n]]);
    a.send([hb(1n, 2n, 1), hb(1n, 3n, 2)]);
    b.send([hb(2n, 3n, 3)]);
    await n.settle();
    expect(inboxes[1].messages).toEqual([]);
    expect(inboxes[2].messages.map((m) => m.index)).toEqual([3]);
    expect(events.filter((e) => e.kind === 'dropped').map((e) => e.message.to)).toEqual([2n, 3n]);
    expect(events.filter((e) => e.kind === 'delivered').map((e) => e.message.type)).toEqual(['MsgHeartbeat']);
  });

  it('holds messages while paused and delivers them one by one with step()', async () => {
    const n = network({ minDelayMs: 1, maxDelayMs: 1 });
    cleanup = n.cleanup;
    const inboxes = [new Inbox(), new Inbox()];
    const [a] = await n.transports([1n, 2n], inboxes);
    n.hub.pause();
    a.send([hb(1n, 2n, 1), hb(1n, 2n, 2), hb(1n, 2n, 3)]);
    await sleep(50);
    expect(n.hub.inFlight().map((w) => w.type)).toEqual(['MsgHeartbeat', 'MsgHeartbeat', 'MsgHeartbeat']);
    expect(inboxes[1].messages).toEqual([]);
    expect(n.hub.step()?.to).toBe(2n);
    await sleep(20);
    expect(inboxes[1].messages.map((m) => m.index)).toEqual([1]);
    n.hub.resume();
    await n.settle();
    expect(inboxes[1].messages.map((m) => m.index)).toEqual([1, 2, 3]);
  });

  it('reports a detached (killed) member as unreachable', async () => {
    const n = network();
    cleanup = n.cleanup;
    const inboxes = [new Inbox(), new Inbox()];
    const [a] = await n.transports([1n, 2n], inboxes);
    n.hub.detach(2n);
    a.send([hb(1n, 2n, 1)]);
    await n.settle();
    await sleep(20);
    expect(inboxes[0].unreachable).toContain(2n);
    expect(inboxes[1].messages).toEqual([]);
  });
});

describe('PausableClock', () => {
  it('fires nothing while paused, and advance() fires what falls due in order', () => {
    let now = 1000;
    const pending: { at: number; fn: () => void }[] = [];
    const base = {
      now: () => now,
      setTimer: (ms: number, fn: () => void) => {
        const t = { at: now + ms, fn };
        pending.push(t);
        return { cancel: () => pending.splice(pending.indexOf(t), 1) };
      },
    };
    const clock = new PausableClock(base, true);
    const fired: string[] = [];
    clock.setTimer(100, () => fired.push('a'));
    clock.setTimer(50, () => fired.push('b'));
    now += 500;
    expect(clock.now()).toBe(1000);
    expect(pending).toEqual([]);
    clock.advance(60);
    expect(fired).toEqual(['b']);
    expect(clock.now()).toBe(1060);
    clock.resume();
    expect(clock.now()).toBe(1060);
    now += 40;
    pending.shift()?.fn();
    expect(fired).toEqual(['b', 'a']);
  });
});
