// etcd's watchable store (mvcc/watchable_store.go, v3.4) as a synchronous, deterministic layer over MvccStore.
// It never writes: the host applies writes to the MvccStore and reports them here.
//
// Host contract (see also WatchStream):
//   notify(events, revision)  after applying each write that changed something, in revision order, with that
//                             write's WriteResult.events. A write that changed nothing needs no call (a call
//                             with no events and the current revision is ignored).
//   compacted(revision)       after MvccStore.compact(revision).
//   syncWatchers(maxEvents)   periodically (etcd: every 100 ms) and preferably soon after a consumer drained a
//                             stream: catches unsynced watchers up from history, a bounded amount per call.
//   progressTick()            every progress interval (etcd: 10 minutes) for watchers with progress_notify.
//   restore(store)            after replacing the MvccStore with one restored from a snapshot.
//
// Invariant: a synced watcher has been handed every event it selects up to `revision` (the last notified
// revision); an unsynced one every event below its nextRev. Responses leave each stream's outbox in the order
// they entered it, so each watcher sees its events once, in revision order, with one revision's events in one
// response (or one run of fragments), until it is canceled.
//
// Differences from etcd 3.4, on purpose:
// - A watcher is canceled for compaction when the revision it needs next is < the compacted revision, as etcd 3.4
//   does (a watch from exactly the compacted revision is served; like etcd, it misses a delete made at it).
//   Compaction at R drops a delete made at R itself, so a watcher starting at R could silently miss it.
// - A compaction cancel is sent at create time, not on the next sync, and it frees the watch ID.
// - progress_request is answered only once all of the stream's watchers are synced (etcd 3.4 answers at once;
//   later etcd releases fixed that), so its revision is a true "everything up to here" mark.
// - A victim re-reads its events from history instead of keeping them in memory (etcd's victim batches).
// - Catch-up header revisions are the last revision the response covers, not the store's current revision.

import type { Event, ResponseHeader } from '../etcd/kv.ts';
import type { MvccStore } from '../mvcc/store.ts';
import { eventFieldSize } from './size.ts';
import { StreamState } from './stream-state.ts';
import { PROGRESS_WATCH_ID, type StreamHost, WatchStream, type WatchStreamOptions } from './watch-stream.ts';
import { type Watcher, WatcherGroup } from './watcher.ts';

export const DEFAULT_MAX_BUFFERED_RESPONSES = 1024;
export const DEFAULT_MAX_BUFFERED_EVENTS = 8192;
/** etcd --max-request-bytes (1.5 MiB), which etcd also uses as the watch fragment size. */
export const DEFAULT_MAX_RESPONSE_BYTES = 1.5 * 1024 * 1024;
export const DEFAULT_MAX_EVENTS_PER_RESPONSE = 1000;
export const DEFAULT_SYNC_BATCH_EVENTS = 10_000;

export interface WatchableStoreOptions {
  /**
   * Supplies cluster_id, member_id and raft_term (and a revision, which the watch layer replaces with the
   * revision each response speaks for). Default: zeros.
   */
  readonly header?: () => ResponseHeader;
  /** Per stream: responses in the outbox before event responses are refused (etcd's channel holds 128). */
  readonly maxBufferedResponses?: number;
  /** Per stream: events in the outbox before event responses are refused. */
  readonly maxBufferedEvents?: number;
  /** Fragment threshold, and the size a multi-revision catch-up response stays below. */
  readonly maxResponseBytes?: number;
  /** Events in one catch-up response (whole revisions; a single larger revision is sent alone). */
  readonly maxEventsPerResponse?: number;
  /** Default history budget of syncWatchers(): events read per call. */
  readonly syncBatchEvents?: number;
}

export interface SyncResult {
  /** Events read from history by this call. */
  readonly scanned: number;
  /** Watchers still behind after it. */
  readonly unsynced: number;
}

const ALL_KEYS = { key: new Uint8Array(0), rangeEnd: new Uint8Array([0]) };

/** A catch-up response being assembled for one watcher. */
interface Batch {
  readonly events: Event[];
  bytes: number;
}

export class WatchableStore {
  private kv: MvccStore;
  private readonly header: () => ResponseHeader;
  private readonly maxBufferedResponses: number;
  private readonly maxBufferedEvents: number;
  private readonly maxResponseBytes: number;
  private readonly maxEventsPerResponse: number;
  private readonly syncBatchEvents: number;
  private notifiedRev: number;
  private readonly synced = new WatcherGroup();
  private readonly unsynced = new Set<Watcher>();
  private readonly progressWatchers = new Set<Watcher>();
  private readonly pendingProgress = new Set<StreamState>();
  private readonly readable = new Set<StreamState>();
  private depth = 0;
  /** The header of the responses made during the current public operation (see responseHeader). */
  private runHeader: ResponseHeader | undefined;
  private readonly host: StreamHost;

  constructor(store: MvccStore, options: WatchableStoreOptions = {}) {
    this.kv = store;
    this.header = options.header ?? (() => ({ clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 }));
    this.maxBufferedResponses = positive(options.maxBufferedResponses, DEFAULT_MAX_BUFFERED_RESPONSES);
    this.maxBufferedEvents = positive(options.maxBufferedEvents, DEFAULT_MAX_BUFFERED_EVENTS);
    this.maxResponseBytes = positive(options.maxResponseBytes, DEFAULT_MAX_RESPONSE_BYTES);
    this.maxEventsPerResponse = positive(options.maxEventsPerResponse, DEFAULT_MAX_EVENTS_PER_RESPONSE);
    this.syncBatchEvents = positive(options.syncBatchEvents, DEFAULT_SYNC_BATCH_EVENTS);
    this.notifiedRev = store.revision;
    const self = this;
    this.host = {
      get revision() {
        return self.notifiedRev;
      },
      run: (fn) => this.run(fn),
      register: (w, start) => this.register(w, start),
      unregister: (w) => this.unregister(w),
      requestProgress: (s) => this.requestProgress(s),
      settleProgress: (s) => this.settleProgress(s),
      closeStream: (s) => this.closeStream(s),
    };
  }

  /** The MvccStore watched (the one given to the constructor or to the last restore()). */
  get store(): MvccStore {
    return this.kv;
  }

  /** The last revision reported by notify() (the store's revision at construction before any). */
  get revision(): number {
    return this.notifiedRev;
  }

  get syncedCount(): number {
    return this.synced.size;
  }

  get unsyncedCount(): number {
    return this.unsynced.size;
  }

  /** Opens a client stream (etcd NewWatchStream). */
  newStream(options: WatchStreamOptions = {}): WatchStream {
    const state = new StreamState(
      {
        maxResponses: positive(options.maxBufferedResponses, this.maxBufferedResponses),
        maxEvents: positive(options.maxBufferedEvents, this.maxBufferedEvents),
        maxResponseBytes: this.maxResponseBytes,
      },
      (revision) => this.responseHeader(revision),
      options.onReadable,
      (s) => this.readable.add(s),
    );
    return new WatchStream(state, this.host);
  }

  /** Delivers one applied write's events (all of revision `revision`) to the synced watchers. */
  notify(events: readonly Event[], revision: number): void {
    this.run(() => {
      if (!Number.isSafeInteger(revision)) throw new RangeError(`watch: bad revision ${revision}`);
      if (revision === this.notifiedRev && events.length === 0) return;
      if (revision <= this.notifiedRev) {
        throw new Error(`watch: notify(${revision}) after revision ${this.notifiedRev} was notified`);
      }
      for (const ev of events) {
        if (ev.kv.modRevision !== revision)
          throw new Error(`watch: event of revision ${ev.kv.modRevision} notified as ${revision}`);
      }
      if (revision > this.notifiedRev + 1) {
        // Revisions were never notified: every synced watcher may have missed events. Catch all of them up
        // from history rather than deliver this revision out of order.
        for (const w of [...this.synced]) this.toUnsynced(w, Math.max(this.notifiedRev + 1, w.nextRev));
        this.notifiedRev = revision;
        return;
      }
      this.notifiedRev = revision;
      const picked = new Map<Watcher, Event[]>();
      for (const ev of events) {
        // One object per event for all watchers without prev_kv, so that a host encodes it once (Watcher.view).
        const bare: Event = ev.prevKv === undefined ? ev : { type: ev.type, kv: ev.kv };
        this.synced.forEachMatching(ev.kv.key, (w) => {
          if (w.nextRev > revision || !w.wants(ev)) return;
          const seen = w.prevKv ? ev : bare;
          const list = picked.get(w);
          if (list === undefined) picked.set(w, [seen]);
          else list.push(seen);
        });
      }
      for (const [w, evs] of picked) {
        // A full outbox makes the watcher a victim: it re-reads this revision from history later.
        if (!w.stream.offerEvents(w, evs, revision)) this.toUnsynced(w, revision);
      }
    });
  }

  /** Cancels the watchers that can no longer be caught up: those needing a revision ≤ the compacted one. */
  compacted(revision: number): void {
    this.run(() => {
      this.cancelCompacted(Math.max(revision, this.kv.compactRevision));
      this.settleAllProgress();
    });
  }

  /**
   * etcd watchableStore.Restore: the host replaced the keyspace (a Raft snapshot was installed). Every synced
   * watcher becomes unsynced and catches up from the new store's history on syncWatchers(); those that need
   * revisions the new store no longer has are canceled with its compact revision. notify() continues from the
   * new store's revision; revisions a watcher was already sent are not sent again.
   */
  restore(store: MvccStore): void {
    this.run(() => {
      const from = this.notifiedRev + 1;
      this.kv = store;
      for (const w of [...this.synced]) this.toUnsynced(w, Math.max(from, w.nextRev));
      this.notifiedRev = store.revision;
      this.cancelCompacted(store.compactRevision);
      this.settleAllProgress();
    });
  }

  /**
   * etcd syncWatchers: hands unsynced watchers their missed events from history, reading at most about
   * `maxEvents` events (whole revisions, at least one) per call, and moves those that catch up to the synced
   * group. Watchers whose outbox is full wait for a later call.
   */
  syncWatchers(maxEvents: number = this.syncBatchEvents): SyncResult {
    return this.run(() => {
      this.cancelCompacted(this.kv.compactRevision);
      const scanned = this.catchUp(Math.max(1, maxEvents));
      this.settleAllProgress();
      return { scanned, unsynced: this.unsynced.size };
    });
  }

  /**
   * One progress_notify round (etcd's progress ticker): every synced watcher that asked for progress_notify
   * and got no events since the previous round gets an empty response at the current revision.
   */
  progressTick(): void {
    this.run(() => {
      for (const w of this.progressWatchers) {
        if (w.progressEligible && w.state === 'synced') w.stream.offerProgressNotify(w, this.notifiedRev);
        w.progressEligible = true;
      }
    });
  }

  private catchUp(budget: number): number {
    const to = this.notifiedRev;
    const candidates: Watcher[] = [];
    for (const w of [...this.unsynced]) {
      if (w.nextRev > to) this.toSynced(w);
      else if (w.stream.hasRoom()) candidates.push(w);
    }
    if (candidates.length === 0) return 0;
    candidates.sort((a, b) => a.nextRev - b.nextRev);

    const batches = new Map<Watcher, Batch>();
    let running: Watcher[] = [];
    let next = 0;
    let scanned = 0;
    let rev = candidates[0].nextRev;
    while (rev <= to) {
      while (next < candidates.length && candidates[next].nextRev <= rev) running.push(candidates[next++]);
      if (running.length === 0) {
        if (next === candidates.length) break;
        rev = candidates[next].nextRev;
        continue;
      }
      if (scanned >= budget) break;
      const evs = this.kv.eventsSince({
        ...ALL_KEYS,
        fromRevision: rev,
        toRevision: rev,
        prevKv: running.some((w) => w.prevKv),
      });
      scanned += evs.length;
      const stalled: Watcher[] = [];
      for (const w of running) {
        const picked = w.pick(evs);
        if (picked.length > 0 && !this.addToBatch(w, batches, picked, rev)) stalled.push(w);
      }
      if (stalled.length > 0) running = running.filter((w) => !stalled.includes(w));
      rev++;
    }
    // Every running watcher has now seen everything below `rev`.
    for (const w of running) {
      const batch = batches.get(w);
      if (batch !== undefined && !w.stream.offerEvents(w, batch.events, rev - 1)) continue;
      w.nextRev = rev;
      if (rev > to) this.toSynced(w);
    }
    return scanned;
  }

  /**
   * Adds one revision's events to the watcher's pending catch-up response, first sending what it holds when
   * the addition would make it too large. A response of several revisions must fit under the outbox caps; only
   * a single revision may be admitted above them, into an outbox holding no events. False when the outbox
   * refuses: the watcher stops for this round at the start of what it could not send.
   */
  private addToBatch(w: Watcher, batches: Map<Watcher, Batch>, picked: Event[], rev: number): boolean {
    let bytes = 0;
    for (const ev of picked) bytes += eventFieldSize(ev);
    let batch = batches.get(w);
    if (batch !== undefined) {
      const n = batch.events.length + picked.length;
      if (
        n <= this.maxEventsPerResponse &&
        batch.bytes + bytes < this.maxResponseBytes &&
        w.stream.fits(1, n)
      ) {
        batch.events.push(...picked);
        batch.bytes += bytes;
        return true;
      }
      batches.delete(w);
      if (!w.stream.offerEvents(w, batch.events, rev - 1)) return false;
      w.nextRev = rev;
    }
    if (!w.stream.canAccept(1, picked.length)) {
      w.nextRev = rev;
      return false;
    }
    batch = { events: picked, bytes };
    batches.set(w, batch);
    return true;
  }

  private register(w: Watcher, startRevision: number): void {
    const current = this.notifiedRev;
    if (startRevision === 0 || startRevision > current) {
      w.state = 'synced';
      w.nextRev = Math.max(current + 1, startRevision);
      this.synced.add(w);
    } else {
      w.state = 'unsynced';
      w.nextRev = Math.max(1, startRevision);
      this.unsynced.add(w);
    }
    if (w.progressNotify) this.progressWatchers.add(w);
    if (w.state === 'unsynced' && w.nextRev < this.kv.compactRevision) {
      this.cancelForCompaction(w, this.kv.compactRevision);
    }
  }

  private unregister(w: Watcher): void {
    if (w.state === 'synced') this.synced.delete(w);
    else if (w.state === 'unsynced') this.unsynced.delete(w);
    w.state = 'done';
    this.progressWatchers.delete(w);
    w.stream.watchers.delete(w.id);
  }

  private toUnsynced(w: Watcher, nextRev: number): void {
    this.synced.delete(w);
    w.state = 'unsynced';
    w.nextRev = nextRev;
    this.unsynced.add(w);
  }

  private toSynced(w: Watcher): void {
    this.unsynced.delete(w);
    w.state = 'synced';
    this.synced.add(w);
  }

  private cancelCompacted(compactRev: number): void {
    if (compactRev < 0) return;
    for (const w of [...this.unsynced]) if (w.nextRev < compactRev) this.cancelForCompaction(w, compactRev);
  }

  /** etcd: `canceled` with compact_revision and header revision 0. */
  private cancelForCompaction(w: Watcher, compactRev: number): void {
    this.unregister(w);
    w.stream.pushControl({ watchId: w.id, canceled: true, compactRevision: compactRev }, 0);
    this.settleProgress(w.stream);
  }

  private requestProgress(s: StreamState): void {
    s.progressPending = true;
    this.pendingProgress.add(s);
    this.settleProgress(s);
  }

  private settleProgress(s: StreamState): void {
    if (!s.progressPending || s.closed || !s.allSynced()) return;
    s.progressPending = false;
    this.pendingProgress.delete(s);
    s.pushControl({ watchId: PROGRESS_WATCH_ID }, this.notifiedRev);
  }

  private settleAllProgress(): void {
    for (const s of [...this.pendingProgress]) this.settleProgress(s);
  }

  private closeStream(s: StreamState): void {
    for (const w of [...s.watchers.values()]) this.unregister(w);
    s.closed = true;
    s.progressPending = false;
    this.pendingProgress.delete(s);
    this.readable.delete(s);
    s.clear();
  }

  /**
   * Runs a public operation; onReadable callbacks fire once the outermost one is done, so a callback may call
   * back into the store or its streams.
   */
  private run<T>(fn: () => T): T {
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
      if (this.depth === 0) {
        this.runHeader = undefined;
        this.fireReadable();
      }
    }
  }

  /**
   * A response header for `revision`. Within one public operation every response of a revision shares one
   * header object (the member's term cannot change in between): a notify to a thousand watchers asks the host
   * once, and a host may encode the header once.
   */
  private responseHeader(revision: number): ResponseHeader {
    const memo = this.runHeader;
    if (memo !== undefined && memo.revision === revision) return memo;
    const header = { ...this.header(), revision };
    if (this.depth > 0) this.runHeader = header;
    return header;
  }

  private fireReadable(): void {
    for (const s of this.readable) {
      this.readable.delete(s);
      if (!s.closed && s.bufferedResponses > 0) s.onReadable?.();
    }
  }
}

function positive(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!(value >= 1) || !Number.isFinite(value)) throw new RangeError(`watch: limit ${value} must be ≥ 1`);
  return value;
}
