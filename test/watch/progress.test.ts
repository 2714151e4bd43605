import { describe, expect, it } from 'vitest';
import { PROGRESS_WATCH_ID } from '../../src/watch/index.ts';
import { b, eventsOf, Host, kind } from './helpers.ts';

describe('progress_request', () => {
  it('answers at once with watch_id -1 and the current revision when every watcher is synced', () => {
    const h = new Host();
    const s = h.watch.newStream();
    s.create({ key: b('k'), watchId: 7 });
    h.put('x', '1');
    s.handle({ progressRequest: {} });
    expect(s.take().map(kind)).toEqual(['id=7 rev=1 created', `id=${PROGRESS_WATCH_ID} rev=2`]);
  });

  it('answers at once on a stream without watchers', () => {
    const h = new Host();
    h.put('x', '1');
    const s = h.watch.newStream();
    s.requestProgress();
    expect(s.take().map(kind)).toEqual(['id=-1 rev=2']);
  });

  it('waits for unsynced watchers, then answers once after their events', () => {
    const h = new Host();
    for (let i = 0; i < 6; i++) h.put('k', `${i}`); // 2..7
    const s = h.watch.newStream();
    const id = s.create({ key: b('k'), startRevision: 2 });
    s.requestProgress();
    s.requestProgress();
    expect(s.take().map(kind)).toEqual([`id=${id} rev=7 created`]);
    h.watch.syncWatchers(3);
    expect(s.take().map(kind)).toEqual([`id=${id} rev=4 events=3`]);
    h.put('k', '6'); // 8: the watcher is still unsynced, so it reads this one from history too
    h.watch.syncWatchers();
    expect(s.take().map(kind)).toEqual([`id=${id} rev=8 events=4`, 'id=-1 rev=8']);
    h.watch.syncWatchers();
    expect(s.take()).toEqual([]);
  });

  it('is released when the last unsynced watcher is canceled', () => {
    const h = new Host();
    h.put('k', '1');
    const s = h.watch.newStream();
    const synced = s.create({ key: b('k') });
    const behind = s.create({ key: b('k'), startRevision: 2 });
    s.requestProgress();
    s.cancel(behind);
    expect(s.take().map(kind)).toEqual([
      `id=${synced} rev=2 created`,
      `id=${behind} rev=2 created`,
      `id=${behind} rev=2 canceled`,
      'id=-1 rev=2',
    ]);
  });

  it('waits for a slow stream whose watcher became a victim', () => {
    const h = new Host({ maxBufferedEvents: 2 });
    const s = h.watch.newStream();
    const id = s.create({ key: b('k') });
    for (let i = 0; i < 5; i++) h.put('k', `${i}`); // 2..6
    expect(s.isSynced(id)).toBe(false);
    s.requestProgress();
    h.watch.syncWatchers(); // outbox still full: nothing moves
    const first = s.take();
    expect(first.map(kind)).toEqual([
      `id=${id} rev=1 created`,
      `id=${id} rev=2 events=1`,
      `id=${id} rev=3 events=1`,
    ]);
    h.watch.syncWatchers();
    const second = s.take();
    expect(second.map(kind)).toEqual([`id=${id} rev=5 events=2`]);
    h.watch.syncWatchers();
    const third = s.take();
    expect(third.map(kind)).toEqual([`id=${id} rev=6 events=1`, 'id=-1 rev=6']);
    expect(eventsOf([...first, ...second, ...third])).toEqual(
      [2, 3, 4, 5, 6].map((r) => `PUT k=${r - 2}@${r}`),
    );
  });
});

describe('progress_notify', () => {
  it('sends an empty response per tick to synced watchers that asked and got no events since the last tick', () => {
    const h = new Host();
    const s = h.watch.newStream();
    const notify = s.create({ key: b('k'), progressNotify: true });
    const quiet = s.create({ key: b('k') });
    s.take();
    h.watch.progressTick();
    expect(s.take().map(kind)).toEqual([`id=${notify} rev=1`]);
    h.put('k', '1');
    h.watch.progressTick(); // events went out since the last tick: no notification
    expect(s.take().map(kind)).toEqual([`id=${notify} rev=2 events=1`, `id=${quiet} rev=2 events=1`]);
    h.put('other', '1');
    h.watch.progressTick();
    expect(s.take().map(kind)).toEqual([`id=${notify} rev=3`]);
  });

  it('skips unsynced watchers, and skips when the outbox is full', () => {
    const h = new Host({ maxBufferedResponses: 3 });
    h.put('k', '0');
    const s = h.watch.newStream();
    const id = s.create({ key: b('k'), progressNotify: true, startRevision: 1 });
    h.watch.progressTick();
    expect(s.take().map(kind)).toEqual([`id=${id} rev=2 created`]);
    h.watch.syncWatchers();
    h.watch.progressTick();
    expect(s.take().map(kind)).toEqual([`id=${id} rev=2 events=1`]);
    h.watch.progressTick();
    h.watch.progressTick();
    h.watch.progressTick();
    h.watch.progressTick();
    expect(s.buffered.responses).toBe(3);
    expect(s.take().map(kind)).toEqual([`id=${id} rev=2`, `id=${id} rev=2`, `id=${id} rev=2`]);
  });
});
