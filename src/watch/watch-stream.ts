// One client watch stream (etcd's Watch RPC bidi stream, v3rpc serverWatchStream + mvcc watchStream): many
// watchers, one ordered outbox of responses.
//
// Pull API: the host calls take() to get the responses to send, in order. onReadable fires when the outbox goes
// from empty to non-empty (after the store call that filled it returns, so the callback may call back in);
// a host that stops calling take() (a slow client, a full socket) only stops the flow: the outbox stays bounded
// and the stream's watchers fall back to catching up from history once it is drained and syncWatchers runs.

import type { WatchCreateRequest, WatchRequest, WatchResponse } from '../etcd/types.ts';
import { compareBytes, isGteRangeEnd } from '../mvcc/bytes.ts';
import { keyRange } from '../mvcc/key-range.ts';
import type { StreamState } from './stream-state.ts';
import { Watcher } from './watcher.ts';

/** etcd mvcc.ErrEmptyWatcherRange: key ≥ range_end. */
export const ERR_EMPTY_WATCHER_RANGE = 'mvcc: watcher range is empty';
/** etcd mvcc.ErrWatcherDuplicateID: a client-chosen watch_id already in use on the stream. */
export const ERR_DUPLICATE_WATCH_ID = 'mvcc: duplicate watch ID provided on the WatchStream';

/** The watch ID of a progress_request reply (etcd 3.4: not tied to one watcher). */
export const PROGRESS_WATCH_ID = -1;

export interface WatchStreamOptions {
  /** Called when the outbox goes from empty to non-empty. Edge-triggered: take() until it returns []. */
  readonly onReadable?: () => void;
  /** Per-stream override of WatchableStoreOptions.maxBufferedResponses. */
  readonly maxBufferedResponses?: number;
  /** Per-stream override of WatchableStoreOptions.maxBufferedEvents. */
  readonly maxBufferedEvents?: number;
}

/** What a stream needs from its WatchableStore. */
export interface StreamHost {
  /** The last revision handed to notify(). */
  readonly revision: number;
  run<T>(fn: () => T): T;
  /** Places a new watcher in the synced or unsynced group, or cancels it for compaction. */
  register(w: Watcher, startRevision: number): void;
  unregister(w: Watcher): void;
  requestProgress(s: StreamState): void;
  /** Sends a pending progress reply if the stream's watchers are all synced now. */
  settleProgress(s: StreamState): void;
  closeStream(s: StreamState): void;
}

const ZERO_KEY = new Uint8Array([0]);

export class WatchStream {
  readonly #state: StreamState;
  readonly #host: StreamHost;

  /** Use WatchableStore.newStream(). */
  constructor(state: StreamState, host: StreamHost) {
    this.#state = state;
    this.#host = host;
  }

  /** Responses waiting in the outbox and the events they carry (bounded; see WatchableStoreOptions). */
  get buffered(): { readonly responses: number; readonly events: number } {
    return { responses: this.#state.bufferedResponses, events: this.#state.bufferedEvents };
  }

  get closed(): boolean {
    return this.#state.closed;
  }

  /** IDs of the stream's live watchers, ascending. */
  watchIds(): number[] {
    return [...this.#state.watchers.keys()].sort((a, b) => a - b);
  }

  /** Whether the watcher exists and is caught up (gets events as they are written). */
  isSynced(watchId: number): boolean {
    return this.#state.watchers.get(watchId)?.state === 'synced';
  }

  /** Dispatches one WatchRequest (the proto oneof). */
  handle(req: WatchRequest): void {
    if ('createRequest' in req) this.create(req.createRequest);
    else if ('cancelRequest' in req) this.cancel(req.cancelRequest.watchId);
    else if ('progressRequest' in req) this.requestProgress();
  }

  /**
   * WatchCreateRequest. Always answers with a `created` response; returns the watch ID, or -1 when the request
   * was refused (then the response also has `canceled` and a cancel_reason, watch_id -1, as etcd 3.4 does).
   * A start revision at or below the compacted revision gets `created`, then `canceled` with compact_revision.
   */
  create(req: WatchCreateRequest): number {
    return this.#host.run(() => {
      const s = this.#state;
      if (s.closed) return -1;
      const requestedId = req.watchId ?? 0;
      const startRevision = req.startRevision ?? 0;
      if (!Number.isSafeInteger(requestedId)) throw new RangeError(`watch: bad watch_id ${requestedId}`);
      if (!Number.isSafeInteger(startRevision))
        throw new RangeError(`watch: bad start_revision ${startRevision}`);
      const rev = this.#host.revision;
      // v3rpc: an empty key means "\0", the smallest key; range_end "\0" means every key ≥ key.
      const key = req.key.length === 0 ? ZERO_KEY : req.key;
      const rangeEnd = req.rangeEnd;
      const refuse = (reason: string): number => {
        s.pushControl({ watchId: -1, created: true, canceled: true, cancelReason: reason }, rev);
        return -1;
      };
      if (rangeEnd !== undefined && rangeEnd.length > 0 && !isGteRangeEnd(rangeEnd)) {
        if (compareBytes(key, rangeEnd) >= 0) return refuse(ERR_EMPTY_WATCHER_RANGE);
      }
      let id: number;
      if (requestedId === 0) {
        while (s.watchers.has(s.nextId)) s.nextId++;
        id = s.nextId++;
      } else {
        if (s.watchers.has(requestedId)) return refuse(ERR_DUPLICATE_WATCH_ID);
        id = requestedId;
      }
      const w = new Watcher(s, {
        id,
        range: keyRange(key, rangeEnd),
        filters: req.filters ?? [],
        prevKv: req.prevKv ?? false,
        fragment: req.fragment ?? false,
        progressNotify: req.progressNotify ?? false,
      });
      s.watchers.set(id, w);
      s.pushControl({ watchId: id, created: true }, rev);
      this.#host.register(w, startRevision);
      return id;
    });
  }

  /** WatchCancelRequest: answers `canceled` and returns true; an unknown ID gets no answer (etcd). */
  cancel(watchId: number): boolean {
    return this.#host.run(() => {
      const s = this.#state;
      const w = s.watchers.get(watchId);
      if (w === undefined || s.closed) return false;
      this.#host.unregister(w);
      s.pushControl({ watchId, canceled: true }, this.#host.revision);
      this.#host.settleProgress(s);
      return true;
    });
  }

  /**
   * WatchProgressRequest: a response with watch_id -1 and header revision R, meaning every event ≤ R has been
   * sent on this stream for each of its watchers. Sent at once when they are all synced, otherwise as soon as
   * they are (several requests while waiting get one reply).
   */
  requestProgress(): void {
    this.#host.run(() => {
      if (!this.#state.closed) this.#host.requestProgress(this.#state);
    });
  }

  /** Removes and returns up to `max` responses, oldest first. */
  take(max = Number.POSITIVE_INFINITY): WatchResponse[] {
    return this.#state.take(max);
  }

  /** Ends the stream: removes its watchers and drops whatever it had not taken. */
  close(): void {
    this.#host.run(() => {
      if (!this.#state.closed) this.#host.closeStream(this.#state);
    });
  }
}
