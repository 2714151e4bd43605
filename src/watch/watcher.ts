// One watcher (etcd mvcc/watcher.go): a key range, filters and options, and how far it has been served.

import type { Event } from '../etcd/kv.ts';
import type { WatchFilter } from '../etcd/types.ts';
import { bytesToMapKey } from '../mvcc/bytes.ts';
import { type KeyRange, rangeContains } from '../mvcc/key-range.ts';
import type { StreamState } from './stream-state.ts';

/**
 * synced: caught up; gets each revision's events from notify().
 * unsynced: behind (a past start revision, or a victim of a full stream); caught up by syncWatchers().
 * done: canceled, compacted or its stream closed.
 */
export type WatcherState = 'synced' | 'unsynced' | 'done';

export interface WatcherSpec {
  readonly id: number;
  readonly range: KeyRange;
  readonly filters: readonly WatchFilter[];
  readonly prevKv: boolean;
  readonly fragment: boolean;
  readonly progressNotify: boolean;
}

export class Watcher {
  readonly id: number;
  readonly stream: StreamState;
  readonly range: KeyRange;
  /** Map key of a single-key watcher (range.end undefined). */
  readonly singleKey: string | undefined;
  readonly noPut: boolean;
  readonly noDelete: boolean;
  readonly prevKv: boolean;
  readonly fragment: boolean;
  readonly progressNotify: boolean;
  state: WatcherState = 'done';
  /**
   * synced: the first revision it accepts (above the current one for a future start_revision).
   * unsynced: the first revision not yet handed to its stream; every event below it has been.
   */
  nextRev = 0;
  /** etcd's sws.progress[id]: no events sent since the last progressTick. */
  progressEligible = true;

  constructor(stream: StreamState, spec: WatcherSpec) {
    this.id = spec.id;
    this.stream = stream;
    this.range = spec.range;
    this.singleKey = spec.range.end === undefined ? bytesToMapKey(spec.range.key) : undefined;
    this.noPut = spec.filters.includes('NOPUT');
    this.noDelete = spec.filters.includes('NODELETE');
    this.prevKv = spec.prevKv;
    this.fragment = spec.fragment;
    this.progressNotify = spec.progressNotify;
  }

  /** Whether the event passes the filters (the range is checked by the caller or by `selects`). */
  wants(ev: Event): boolean {
    return ev.type === 'PUT' ? !this.noPut : !this.noDelete;
  }

  selects(ev: Event): boolean {
    return this.wants(ev) && rangeContains(this.range, ev.kv.key);
  }

  /** The event as this watcher sees it: without prev_kv unless asked for. */
  view(ev: Event): Event {
    return this.prevKv || ev.prevKv === undefined ? ev : { type: ev.type, kv: ev.kv };
  }

  /** The events of `evs` this watcher gets, in order. */
  pick(evs: readonly Event[]): Event[] {
    const out: Event[] = [];
    for (const ev of evs) if (this.selects(ev)) out.push(this.view(ev));
    return out;
  }
}

/**
 * etcd's watcherGroup: single-key watchers in a map by key, range watchers in a list (etcd uses an interval
 * tree; a list is enough for the range-watcher counts we expect and keeps delivery order deterministic).
 */
export class WatcherGroup {
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly ranges = new Set<Watcher>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(w: Watcher): void {
    if (w.singleKey === undefined) {
      this.ranges.add(w);
    } else {
      let set = this.byKey.get(w.singleKey);
      if (set === undefined) this.byKey.set(w.singleKey, (set = new Set()));
      set.add(w);
    }
    this.count++;
  }

  delete(w: Watcher): boolean {
    let removed: boolean;
    if (w.singleKey === undefined) {
      removed = this.ranges.delete(w);
    } else {
      const set = this.byKey.get(w.singleKey);
      removed = set?.delete(w) ?? false;
      if (set !== undefined && set.size === 0) this.byKey.delete(w.singleKey);
    }
    if (removed) this.count--;
    return removed;
  }

  *[Symbol.iterator](): IterableIterator<Watcher> {
    for (const set of this.byKey.values()) yield* set;
    yield* this.ranges;
  }

  /** Calls `visit` for every watcher whose range holds `key`. */
  forEachMatching(key: Uint8Array, visit: (w: Watcher) => void): void {
    if (this.byKey.size > 0) {
      const set = this.byKey.get(bytesToMapKey(key));
      if (set !== undefined) for (const w of set) visit(w);
    }
    for (const w of this.ranges) if (rangeContains(w.range, key)) visit(w);
  }
}
