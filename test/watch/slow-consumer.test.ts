import { describe, expect, it } from 'vitest';
import type { WatchResponse } from '../../src/etcd/types.ts';
import { b, Host, settle } from './helpers.ts';

describe('slow consumer', () => {
  it('keeps memory bounded during 100,000 writes, then delivers every event exactly once, in order', () => {
    const MAX_EVENTS = 500;
    const MAX_RESPONSES = 256;
    const WRITES = 100_000;
    const h = new Host({ maxBufferedEvents: MAX_EVENTS, maxBufferedResponses: MAX_RESPONSES });
    const slow = h.watch.newStream();
    const fast = h.watch.newStream();
    const slowId = slow.create({ key: b('k'), rangeEnd: b('l') });
    const slowAll = slow.create({ key: new Uint8Array(0), rangeEnd: new Uint8Array([0]), prevKv: true });
    fast.create({ key: b('k'), rangeEnd: b('l') });
    const fastOut: WatchResponse[] = [];
    let maxEvents = 0;
    let maxResponses = 0;
    for (let i = 0; i < WRITES; i++) {
      if (i % 10 === 9) h.del(`k${i % 97}`);
      else h.put(`k${i % 97}`, `${i}`);
      if (i % 100 === 0) h.watch.syncWatchers();
      if (i % 7 === 0) fastOut.push(...fast.take());
      maxEvents = Math.max(maxEvents, slow.buffered.events);
      maxResponses = Math.max(maxResponses, slow.buffered.responses);
    }
    // The slow stream never drained: its outbox stayed within its caps (plus the two created responses).
    expect(maxEvents).toBeLessThanOrEqual(MAX_EVENTS);
    expect(maxResponses).toBeLessThanOrEqual(MAX_RESPONSES + 2);
    expect(h.watch.unsyncedCount).toBe(2);

    const out: WatchResponse[][] = [[], fastOut];
    settle(h, [slow, fast], out);
    expect(h.watch.unsyncedCount).toBe(0);
    const expected = h.log.flatMap((l) => l.events);
    expect(expected.length).toBeGreaterThan(WRITES * 0.85);
    for (const [id, list] of [
      [slowId, out[0]],
      [slowAll, out[0]],
      [0, out[1]],
    ] as const) {
      const got = list.filter((r) => r.watchId === id).flatMap((r) => r.events);
      expect(got.length).toBe(expected.length);
      // One event per revision here, so equal revisions at every index mean: none lost, none twice, in order.
      const bad = got.findIndex(
        (e, i) => e.kv.modRevision !== expected[i].kv.modRevision || e.type !== expected[i].type,
      );
      expect(bad).toBe(-1);
    }
    // The prev_kv watcher's catch-up events match the writes' own prev_kv.
    const prevGot = out[0].filter((r) => r.watchId === slowAll).flatMap((r) => r.events);
    for (let i = 0; i < prevGot.length; i += 997) {
      expect(prevGot[i].prevKv?.modRevision).toBe(expected[i].prevKv?.modRevision);
      expect(prevGot[i].type).toBe(expected[i].type);
    }
  });
});
