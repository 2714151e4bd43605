import { describe, expect, it } from 'vitest';
import type { WatchResponse } from '../../src/etcd/types.ts';
import { prefixRangeEnd } from '../../src/mvcc/index.ts';
import { ERR_DUPLICATE_WATCH_ID, ERR_EMPTY_WATCHER_RANGE } from '../../src/watch/index.ts';
import { ALL, b, eventsOf, Host, kind } from './helpers.ts';

describe('live events', () => {
  it('a key watcher sees puts and deletes of that key only, one response per revision', () => {
    const h = new Host();
    const s = h.watch.newStream();
    expect(s.create({ key: b('foo') })).toBe(0);
    h.put('foo', '1'); // 2
    h.put('foobar', 'x'); // 3
    h.put('fo', 'x'); // 4
    h.put('foo', '2'); // 5
    h.del('foo'); // 6
    const out = s.take();
    expect(out.map(kind)).toEqual([
      'id=0 rev=1 created',
      'id=0 rev=2 events=1',
      'id=0 rev=5 events=1',
      'id=0 rev=6 events=1',
    ]);
    expect(eventsOf(out)).toEqual(['PUT foo=1@2', 'PUT foo=2@5', 'DELETE foo@6']);
    // DELETE events carry only the key and the deletion revision.
    const del = out[3].events[0];
    expect(del.kv).toMatchObject({ createRevision: 0, version: 0, modRevision: 6 });
    expect(del.kv.value.length).toBe(0);
  });

  it('prefix, half-open range and all-keys watchers', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const prefix = s.create({ key: b('a/'), rangeEnd: prefixRangeEnd(b('a/')) });
    const range = s.create({ key: b('b'), rangeEnd: b('d') });
    const fromKey = s.create({ key: b('c'), rangeEnd: ALL });
    const all = s.create({ key: new Uint8Array(0), rangeEnd: ALL });
    for (const k of ['a', 'a/', 'a/x', 'a0', 'b', 'bz', 'c', 'd', 'zz']) h.put(k, 'v');
    const out = s.take();
    const keys = (id: number) => eventsOf(out, id).map((e) => e.split(' ')[1].split('=')[0]);
    expect(keys(prefix)).toEqual(['a/', 'a/x']);
    expect(keys(range)).toEqual(['b', 'bz', 'c']);
    expect(keys(fromKey)).toEqual(['c', 'd', 'zz']);
    expect(keys(all)).toEqual(['a', 'a/', 'a/x', 'a0', 'b', 'bz', 'c', 'd', 'zz']);
  });

  it('delivers all events of one revision together, in the write order', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const id = s.create({ key: b('k'), rangeEnd: b('l') });
    s.take();
    h.txn({
      success: [
        { requestPut: { key: b('k2'), value: b('x') } },
        { requestPut: { key: b('k1'), value: b('y') } },
        { requestPut: { key: b('z'), value: b('no') } },
      ],
    });
    h.del('k', 'l');
    const out = s.take();
    expect(out.map(kind)).toEqual([`id=${id} rev=2 events=2`, `id=${id} rev=3 events=2`]);
    expect(eventsOf(out)).toEqual(['PUT k2=x@2', 'PUT k1=y@2', 'DELETE k1@3', 'DELETE k2@3']);
  });

  it('filters NOPUT and NODELETE, and prev_kv only when asked', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const noPut = s.create({ key: b('k'), filters: ['NOPUT'] });
    const noDel = s.create({ key: b('k'), filters: ['NODELETE'] });
    const prev = s.create({ key: b('k'), prevKv: true });
    const plain = s.create({ key: b('k') });
    s.take();
    h.put('k', '1');
    h.put('k', '2');
    h.del('k');
    const out = s.take();
    expect(eventsOf(out, noPut)).toEqual(['DELETE k@4']);
    expect(eventsOf(out, noDel)).toEqual(['PUT k=1@2', 'PUT k=2@3']);
    expect(eventsOf(out, prev)).toEqual(['PUT k=1@2', 'PUT k=2@3 prev=1@2', 'DELETE k@4 prev=2@3']);
    expect(eventsOf(out, plain)).toEqual(['PUT k=1@2', 'PUT k=2@3', 'DELETE k@4']);
    // A filtered-out revision produces no response at all.
    expect(out.filter((r) => r.watchId === noPut)).toHaveLength(1);
  });

  it('cancel answers canceled, stops events, and unknown IDs get no answer', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const id = s.create({ key: b('k') });
    h.put('k', '1');
    expect(s.cancel(id)).toBe(true);
    expect(s.cancel(id)).toBe(false);
    expect(s.cancel(99)).toBe(false);
    h.put('k', '2');
    expect(s.take().map(kind)).toEqual([`id=0 rev=1 created`, 'id=0 rev=2 events=1', 'id=0 rev=2 canceled']);
    expect(h.watch.syncedCount).toBe(0);
  });

  it('assigns watch IDs from 0 per stream, skipping client-chosen ones; duplicates are refused', () => {
    const h = new Host();
    const s1 = h.watch.newStream();
    const s2 = h.watch.newStream();
    expect(s1.create({ key: b('a'), watchId: 1 })).toBe(1);
    expect(s1.create({ key: b('a') })).toBe(0);
    expect(s1.create({ key: b('a') })).toBe(2);
    expect(s1.create({ key: b('a'), watchId: 2 })).toBe(-1);
    expect(s2.create({ key: b('a') })).toBe(0);
    const out = s1.take();
    expect(out.map(kind)).toEqual([
      'id=1 rev=1 created',
      'id=0 rev=1 created',
      'id=2 rev=1 created',
      `id=-1 rev=1 created canceled reason=${ERR_DUPLICATE_WATCH_ID}`,
    ]);
    expect(s1.watchIds()).toEqual([0, 1, 2]);
  });

  it('refuses key ≥ range_end with a created+canceled response', () => {
    const h = new Host();
    const s = h.watch.newStream();
    expect(s.create({ key: b('b'), rangeEnd: b('a') })).toBe(-1);
    expect(s.create({ key: b('b'), rangeEnd: b('b') })).toBe(-1);
    expect(s.take().map(kind)).toEqual([
      `id=-1 rev=1 created canceled reason=${ERR_EMPTY_WATCHER_RANGE}`,
      `id=-1 rev=1 created canceled reason=${ERR_EMPTY_WATCHER_RANGE}`,
    ]);
    expect(s.watchIds()).toEqual([]);
  });

  it('serves many watchers on many streams independently', () => {
    const h = new Host();
    const streams = Array.from({ length: 5 }, () => h.watch.newStream());
    streams.forEach((s, i) => {
      for (let j = 0; j < 4; j++) s.create({ key: b(`k${(i + j) % 6}`) });
    });
    for (let r = 0; r < 3; r++) for (let k = 0; k < 6; k++) h.put(`k${k}`, `${r}`);
    streams.forEach((s, i) => {
      const out = s.take();
      for (let j = 0; j < 4; j++) {
        const k = (i + j) % 6;
        expect(eventsOf(out, j).map((e) => e.split('@')[0])).toEqual([0, 1, 2].map((r) => `PUT k${k}=${r}`));
      }
    });
  });

  it('a future start revision skips the revisions before it', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const id = s.create({ key: b('k'), startRevision: 4 });
    h.put('k', '1'); // 2
    h.put('k', '2'); // 3
    h.put('k', '3'); // 4
    h.put('k', '4'); // 5
    expect(eventsOf(s.take(), id)).toEqual(['PUT k=3@4', 'PUT k=4@5']);
  });

  it('uses the injected header, with the revision each response speaks for', () => {
    const h = new Host({ header: () => ({ clusterId: 7n, memberId: 9n, revision: 999, raftTerm: 3 }) });
    const s = h.watch.newStream();
    s.create({ key: b('k') });
    h.put('x', '1');
    h.put('k', '1');
    const out = s.take();
    expect(out.map((r) => r.header)).toEqual([
      { clusterId: 7n, memberId: 9n, revision: 1, raftTerm: 3 },
      { clusterId: 7n, memberId: 9n, revision: 3, raftTerm: 3 },
    ]);
  });

  it('onReadable fires when the outbox becomes non-empty, after the call that filled it', () => {
    const h = new Host();
    const seen: WatchResponse[] = [];
    let calls = 0;
    const s = h.watch.newStream({
      onReadable: () => {
        calls++;
        seen.push(...s.take());
      },
    });
    s.create({ key: b('k') });
    h.put('k', '1');
    h.put('k', '2');
    expect(calls).toBe(3);
    expect(seen.map(kind)).toEqual(['id=0 rev=1 created', 'id=0 rev=2 events=1', 'id=0 rev=3 events=1']);
  });

  it('close removes every watcher of the stream and drops its outbox', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const other = h.watch.newStream();
    s.create({ key: b('k') });
    s.create({ key: b('a'), rangeEnd: ALL, startRevision: 1 });
    other.create({ key: b('k') });
    h.put('k', '1');
    s.close();
    expect(s.closed).toBe(true);
    expect(s.take()).toEqual([]);
    expect(h.watch.syncedCount + h.watch.unsyncedCount).toBe(1);
    expect(s.create({ key: b('k') })).toBe(-1);
    h.put('k', '2');
    expect(eventsOf(other.take())).toEqual(['PUT k=1@2', 'PUT k=2@3']);
  });

  it('rejects notify calls out of revision order', () => {
    const h = new Host();
    const r = h.kv.put({ key: b('k'), value: b('v') });
    expect(() => h.watch.notify(r.events, 3)).toThrow();
    h.watch.notify(r.events, 2);
    expect(() => h.watch.notify(r.events, 2)).toThrow();
    h.watch.notify([], 2); // a write that changed nothing
  });
});
