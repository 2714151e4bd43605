// A stream whose client takes nothing holds at most DEFAULT_MAX_BUFFERED_BYTES of keys and values plus one batch,
// however much is written: with 128 KiB values the event and response caps (8,192 and 1,024) would let it keep
// 1 GiB. Its watchers fall back to history and, once it drains, get every event exactly once, in order.
import { describe, expect, it } from 'vitest';
import type { WatchResponse } from '../../src/etcd/types.ts';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../src/watch/stream-state.ts';
import { b, Host, settle } from './helpers.ts';

const VALUE = 'x'.repeat(128 * 1024);

describe('outbox byte cap', () => {
  it('a stream that takes nothing holds at most the byte cap and one batch; then it catches up', () => {
    const h = new Host();
    const stuck = h.watch.newStream();
    const fast = h.watch.newStream();
    const stuckId = stuck.create({ key: b('k'), rangeEnd: b('l') });
    fast.create({ key: b('k'), rangeEnd: b('l') });
    const fastOut: WatchResponse[] = [];
    const perEvent = 'k00'.length + VALUE.length;
    const capEvents = Math.ceil(DEFAULT_MAX_BUFFERED_BYTES / perEvent);
    let most = 0;
    for (let i = 0; i < 4 * capEvents; i++) {
      h.put(`k${i % 10}${i % 7}`, VALUE);
      if (i % 5 === 0) h.watch.syncWatchers();
      fastOut.push(...fast.take()); // a client that keeps up is not held back
      most = Math.max(most, stuck.buffered.events);
    }
    expect(most).toBeLessThanOrEqual(capEvents + 1);
    expect(most).toBeGreaterThanOrEqual(capEvents - 1);
    expect(stuck.isSynced(stuckId)).toBe(false);
    expect(fastOut.flatMap((r) => r.events)).toHaveLength(4 * capEvents);

    const out: WatchResponse[][] = [[]];
    settle(h, [stuck], out);
    const revisions = out[0]
      .filter((r) => r.watchId === stuckId)
      .flatMap((r) => r.events.map((e) => e.kv.modRevision));
    expect(revisions).toEqual(h.log.map((l) => l.revision));
  });

  it('one revision larger than the cap still gets through an empty outbox', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const id = s.create({ key: b('big/'), rangeEnd: b('big0') });
    s.take();
    const ops = Array.from({ length: Math.ceil(DEFAULT_MAX_BUFFERED_BYTES / VALUE.length) + 4 }, (_, i) => ({
      requestPut: { key: b(`big/${i}`), value: b(VALUE) },
    }));
    h.txn({ compare: [], success: ops, failure: [] });
    expect(s.buffered.events).toBe(ops.length);
    expect(s.isSynced(id)).toBe(true);
  });
});
