import { describe, expect, it } from 'vitest';
import type { WatchResponse } from '../../src/etcd/types.ts';
import { watchResponseSize } from '../../src/watch/index.ts';
import { b, eventsOf, Host, kind, settle } from './helpers.ts';

const LIMIT = 300;

function bigTxn(h: Host, n: number, prefix = 'k'): number {
  return h.txn({
    success: Array.from({ length: n }, (_, i) => ({
      requestPut: { key: b(`${prefix}${i}`), value: b('v'.repeat(60)) },
    })),
  });
}

describe('response sizes', () => {
  it('matches the protobuf encoding of a small response', () => {
    const kv = { key: b('k'), createRevision: 2, modRevision: 2, version: 1, value: b('v'), lease: 0n };
    const header = { clusterId: 0n, memberId: 0n, revision: 2, raftTerm: 0 };
    // header{revision:2} = 4 bytes; Event{kv{key,create,mod,version,value}} = 16 bytes.
    expect(watchResponseSize({ header, watchId: 0, events: [{ type: 'PUT', kv }] })).toBe(20);
    // watch_id -1 is a 10-byte varint; canceled adds 2; a DELETE event adds its type (2).
    expect(watchResponseSize({ header, watchId: -1, canceled: true, events: [{ type: 'DELETE', kv }] })).toBe(
      20 + 11 + 2 + 2,
    );
  });
});

describe('fragment', () => {
  it('splits a large revision into fragments under the limit when the watcher asked for it', () => {
    const h = new Host({ maxResponseBytes: LIMIT });
    const s = h.watch.newStream();
    const frag = s.create({ key: b('k'), rangeEnd: b('l'), fragment: true });
    const whole = s.create({ key: b('k'), rangeEnd: b('l') });
    s.take();
    bigTxn(h, 10);
    const out = s.take();
    const pieces = out.filter((r) => r.watchId === frag);
    expect(pieces.length).toBeGreaterThan(2);
    expect(pieces.map((r) => r.fragment ?? false)).toEqual([...pieces.map(() => true).slice(1), false]);
    for (const p of pieces) expect(watchResponseSize(p)).toBeLessThan(LIMIT);
    expect(eventsOf(pieces)).toEqual(eventsOf(out, whole));
    expect(out.filter((r) => r.watchId === whole).map(kind)).toEqual([`id=${whole} rev=2 events=10`]);
  });

  it('never fragments a single event or a response under the limit', () => {
    const h = new Host({ maxResponseBytes: LIMIT });
    const s = h.watch.newStream();
    s.create({ key: b('k'), rangeEnd: b('l'), fragment: true });
    s.take();
    h.put('k1', 'x'.repeat(1000));
    bigTxn(h, 2);
    expect(s.take().map(kind)).toEqual(['id=0 rev=2 events=1', 'id=0 rev=3 events=2']);
  });

  it('catch-up responses stay under the byte limit except a single oversized revision, fragmented on request', () => {
    const h = new Host({ maxResponseBytes: LIMIT });
    for (let i = 0; i < 20; i++) h.put(`k${i % 4}`, 'v'.repeat(60)); // 2..21, about 80 bytes an event
    const big = bigTxn(h, 8); // 22
    h.put('k1', 'after'); // 23
    const s = h.watch.newStream();
    const plain = s.create({ key: b('k'), rangeEnd: b('l'), startRevision: 2 });
    const frag = s.create({ key: b('k'), rangeEnd: b('l'), startRevision: 2, fragment: true });
    const out: WatchResponse[][] = [[]];
    settle(h, [s], out);
    const plainOut = out[0].filter((r) => r.watchId === plain && r.events.length > 0);
    for (const r of plainOut) {
      const oneRevision = new Set(r.events.map((e) => e.kv.modRevision)).size === 1;
      if (!oneRevision) expect(watchResponseSize(r)).toBeLessThan(LIMIT);
    }
    expect(plainOut.some((r) => r.header.revision === big && r.events.length === 8)).toBe(true);
    const fragOut = out[0].filter((r) => r.watchId === frag && r.events.length > 0);
    for (const r of fragOut) expect(watchResponseSize(r)).toBeLessThan(LIMIT);
    expect(eventsOf(fragOut)).toEqual(eventsOf(plainOut));
    expect(eventsOf(fragOut)).toHaveLength(29);
  });
});
