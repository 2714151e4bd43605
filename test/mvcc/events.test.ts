import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/etcd/kv.ts';
import { b, newStore, put, str, thrownMessage } from './helpers.ts';

const show = (events: readonly Event[]) =>
  events.map((e) => {
    const base = `${e.type} ${str(e.kv.key)}@${e.kv.modRevision}=${str(e.kv.value)}`;
    return e.prevKv ? `${base} (prev ${str(e.prevKv.value)}@${e.prevKv.modRevision})` : base;
  });

describe('events', () => {
  it('each write returns the events it caused, with prev_kv', () => {
    const s = newStore();
    expect(show(put(s, 'w', '1').events)).toEqual(['PUT w@2=1']);
    expect(show(put(s, 'w', '2').events)).toEqual(['PUT w@3=2 (prev 1@2)']);
    const del = s.deleteRange({ key: b('w') }).events;
    expect(show(del)).toEqual(['DELETE w@4= (prev 2@3)']);
    // A DELETE event's kv carries only the key and the deletion revision.
    expect(del[0].kv).toMatchObject({ createRevision: 0, version: 0, lease: 0n, modRevision: 4 });
  });

  it('lists history in a revision range for a key range (watch catch-up)', () => {
    const s = newStore();
    put(s, 'a', '1'); // 2
    put(s, 'b', '1'); // 3
    s.txn({
      success: [
        { requestPut: { key: b('a'), value: b('2') } },
        { requestPut: { key: b('c'), value: b('1') } },
      ],
    }); // 4
    s.deleteRange({ key: b('a') }); // 5
    put(s, 'a', '3'); // 6
    const all = s.eventsSince({ key: b('a'), rangeEnd: new Uint8Array([0]), fromRevision: 1 });
    expect(show(all)).toEqual([
      'PUT a@2=1',
      'PUT b@3=1',
      'PUT a@4=2',
      'PUT c@4=1',
      'DELETE a@5=',
      'PUT a@6=3',
    ]);
    const onlyA = s.eventsSince({ key: b('a'), fromRevision: 3, toRevision: 5, prevKv: true });
    expect(show(onlyA)).toEqual(['PUT a@4=2 (prev 1@2)', 'DELETE a@5= (prev 2@4)']);
    expect(show(s.eventsSince({ key: b('b'), rangeEnd: b('d'), fromRevision: 4 }))).toEqual(['PUT c@4=1']);
    expect(s.eventsSince({ key: b('a'), fromRevision: 7 })).toEqual([]);
    expect(show(s.eventsSince({ key: b('a'), fromRevision: 6, toRevision: 99 }))).toEqual(['PUT a@6=3']);
  });

  it('refuses catch-up from below the compacted revision', () => {
    const s = newStore();
    put(s, 'a', '1'); // 2
    put(s, 'a', '2'); // 3
    put(s, 'a', '3'); // 4
    s.compact(3);
    expect(thrownMessage(() => s.eventsSince({ key: b('a'), fromRevision: 2 }))).toBe(
      'etcdserver: mvcc: required revision has been compacted',
    );
    // From the compacted revision itself: its surviving records, then what follows; no prev_kv before it.
    expect(show(s.eventsSince({ key: b('a'), fromRevision: 3, prevKv: true }))).toEqual([
      'PUT a@3=2',
      'PUT a@4=3 (prev 2@3)',
    ]);
  });
});

describe('lease attachments', () => {
  it('tracks which live keys each lease holds', () => {
    const s = newStore();
    put(s, 'a', '1', { lease: 1n });
    put(s, 'b', '1', { lease: 1n });
    put(s, 'c', '1', { lease: 2n });
    expect(s.keysForLease(1n).map(str)).toEqual(['a', 'b']);
    expect(s.leases()).toEqual([1n, 2n]);
    put(s, 'b', '2'); // re-put without lease detaches
    put(s, 'c', '2', { lease: 1n }); // moves c to lease 1
    expect(s.keysForLease(1n).map(str)).toEqual(['a', 'c']);
    expect(s.leases()).toEqual([1n]);
    s.put({ key: b('a'), value: b('3'), ignoreLease: true }); // keeps lease 1
    expect(s.keysForLease(1n).map(str)).toEqual(['a', 'c']);
    s.deleteRange({ key: b('a') });
    expect(s.keysForLease(1n).map(str)).toEqual(['c']);
    expect(s.keysForLease(0n)).toEqual([]);
    expect(s.keysForLease(42n)).toEqual([]);
  });
});
