import { describe, expect, it } from 'vitest';
import type { WatchResponse } from '../../src/etcd/types.ts';
import { MvccStore } from '../../src/mvcc/index.ts';
import { ALL, b, eventsOf, Host, kind, settle } from './helpers.ts';

describe('catch-up from history', () => {
  it('replays from a past revision, then continues live with no gap and no duplicate', () => {
    const h = new Host({ maxEventsPerResponse: 3 });
    for (let i = 1; i <= 10; i++) h.put(`k${i % 3}`, `v${i}`); // revisions 2..11
    const s = h.watch.newStream();
    const id = s.create({ key: b('k'), rangeEnd: b('l'), startRevision: 4 });
    expect(s.isSynced(id)).toBe(false);
    const out: WatchResponse[] = [...s.take()];
    // Interleave writes with small sync rounds: the watcher catches up while history keeps growing.
    for (let i = 11; i <= 30; i++) {
      h.put(`k${i % 3}`, `v${i}`);
      h.watch.syncWatchers(2);
      out.push(...s.take());
    }
    settle(h, [s], [out]);
    expect(s.isSynced(id)).toBe(true);
    h.put('k0', 'last');
    out.push(...s.take());
    const expected = h.log
      .filter((l) => l.revision >= 4)
      .flatMap((l) => l.events.map((e) => `PUT ${str(e)}`));
    expect(eventsOf(out, id)).toEqual(expected);
    // Catch-up responses carry whole revisions, at most 3 events each, and header revisions never go back.
    const revs = out.filter((r) => r.events.length > 0).map((r) => r.header.revision);
    expect(revs).toEqual([...revs].sort((x, y) => x - y));
    for (const r of out) expect(r.events.length).toBeLessThanOrEqual(3);
    for (const r of out)
      for (const e of r.events) expect(e.kv.modRevision).toBeLessThanOrEqual(r.header.revision);
  });

  it('a start revision of 1 replays everything, and history events carry prev_kv when asked', () => {
    const h = new Host();
    h.put('a', '1');
    h.put('a', '2');
    h.del('a');
    h.put('a', '3');
    const s = h.watch.newStream();
    const id = s.create({ key: b('a'), startRevision: 1, prevKv: true });
    h.watch.syncWatchers();
    expect(s.take().map(kind)).toEqual([`id=${id} rev=5 created`, `id=${id} rev=5 events=4`]);
    settle(h, [s], [[]]);
    h.put('a', '4');
    const out = s.take();
    expect(eventsOf(out)).toEqual(['PUT a=4@6 prev=3@5']);
  });

  it('history and live events match exactly, prev_kv included', () => {
    const h = new Host();
    const live = h.watch.newStream();
    live.create({ key: b('k'), rangeEnd: ALL, prevKv: true });
    h.put('k1', 'a');
    h.put('k2', 'b');
    h.put('k1', 'c');
    h.del('k', ALL);
    h.put('k2', 'd');
    const replay = h.watch.newStream();
    replay.create({ key: b('k'), rangeEnd: ALL, prevKv: true, startRevision: 2 });
    const out: WatchResponse[][] = [[], []];
    settle(h, [live, replay], out);
    expect(eventsOf(out[1])).toEqual(eventsOf(out[0]));
    expect(out[1].flatMap((r) => r.events)).toEqual(out[0].flatMap((r) => r.events));
  });

  it('a start revision below the compacted revision: created, then canceled; at it: served (etcd 3.4)', () => {
    const h = new Host();
    for (let i = 0; i < 5; i++) h.put('k', `${i}`); // 2..6
    h.compact(4);
    const s = h.watch.newStream();
    expect(s.create({ key: b('k'), startRevision: 2 })).toBe(0);
    expect(s.create({ key: b('k'), startRevision: 4 })).toBe(1);
    const ok = s.create({ key: b('k'), startRevision: 5 });
    const out: WatchResponse[][] = [[]];
    settle(h, [s], out);
    h.put('k', 'x');
    out[0].push(...s.take());
    expect(out[0].map(kind)).toEqual([
      'id=0 rev=6 created',
      'id=0 rev=0 canceled compact=4',
      'id=1 rev=6 created',
      'id=2 rev=6 created',
      'id=1 rev=6 events=3',
      'id=2 rev=6 events=2',
      'id=1 rev=7 events=1',
      'id=2 rev=7 events=1',
    ]);
    // Clients re-watch from the compact_revision they were given: that must work, not cancel again.
    expect(s.watchIds()).toEqual([1, ok]);
  });

  it('an unsynced watcher overtaken by compaction is canceled with compact_revision', () => {
    const h = new Host();
    for (let i = 0; i < 10; i++) h.put('k', `${i}`); // 2..11
    const s = h.watch.newStream();
    const id = s.create({ key: b('k'), startRevision: 2 });
    h.watch.syncWatchers(3); // reads revisions 2..4
    h.compact(8);
    const out = s.take();
    expect(out.map(kind)).toEqual([
      `id=${id} rev=11 created`,
      `id=${id} rev=4 events=3`,
      `id=${id} rev=0 canceled compact=8`,
    ]);
    expect(h.watch.unsyncedCount).toBe(0);
  });

  it('revisions that were never notified are caught up from history, in order', () => {
    const h = new Host();
    const s = h.watch.newStream();
    s.create({ key: b('k') });
    h.kv.put({ key: b('k'), value: b('lost') }); // 2, not notified
    const r3 = h.kv.put({ key: b('k'), value: b('seen') });
    h.watch.notify(r3.events, 3);
    const out: WatchResponse[][] = [[]];
    settle(h, [s], out);
    expect(eventsOf(out[0])).toEqual(['PUT k=lost@2', 'PUT k=seen@3']);
  });
});

function str(e: { kv: { key: Uint8Array; value: Uint8Array; modRevision: number } }): string {
  const d = new TextDecoder();
  return `${d.decode(e.kv.key)}=${d.decode(e.kv.value)}@${e.kv.modRevision}`;
}

describe('restore (snapshot installed)', () => {
  it('catches watchers up from the new store, and cancels those whose revisions it compacted', () => {
    const h = new Host();
    h.put('k', '1'); // 2
    const s = h.watch.newStream();
    const live = s.create({ key: b('k') });
    const old = s.create({ key: b('k'), startRevision: 2 });
    const out: WatchResponse[][] = [[]];
    settle(h, [s], out);
    // Another member went on to revision 5 and compacted at 3; this one installs its snapshot.
    const leader = new Host();
    leader.put('k', '1');
    leader.put('k', '2');
    leader.put('x', '1');
    leader.put('k', '3');
    const restored = MvccStore.restore(leader.kv.snapshot());
    h.watch.restore(restored);
    expect(h.watch.store).toBe(restored);
    expect(h.watch.revision).toBe(5);
    settle(h, [s], out);
    const r6 = restored.put({ key: b('k'), value: b('4') });
    h.watch.notify(r6.events, 6);
    out[0].push(...s.take());
    expect(eventsOf(out[0], live)).toEqual(['PUT k=2@3', 'PUT k=3@5', 'PUT k=4@6']);
    expect(eventsOf(out[0], old)).toEqual(['PUT k=1@2', 'PUT k=2@3', 'PUT k=3@5', 'PUT k=4@6']);

    const compactedLeader = MvccStore.restore(restored.snapshot());
    compactedLeader.put({ key: b('k'), value: b('5') }); // 7
    compactedLeader.put({ key: b('k'), value: b('6') }); // 8
    compactedLeader.compact(8);
    h.watch.restore(compactedLeader);
    expect(s.take().map(kind)).toEqual([
      `id=${live} rev=0 canceled compact=8`,
      `id=${old} rev=0 canceled compact=8`,
    ]);
  });
});
