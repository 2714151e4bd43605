// A stream's server-side state: its watchers and its bounded outbox of responses waiting for the consumer.
//
// Bounded memory: event responses are admitted only while the outbox holds fewer than maxResponses responses
// and maxEvents events, and less than maxBytes of keys and values (a group of fragments is admitted whole or not at
// all), except that an outbox holding no events admits any single batch, so one revision larger than the cap still
// gets through. The byte cap is what bounds a stuck client's share of memory when values are large: a stream that
// takes nothing holds at most maxBytes plus one batch, however much is written meanwhile. A watcher whose
// events are refused leaves the synced group (etcd's victims) and later re-reads them from history, so nothing
// is dropped and nothing is held twice. Control responses (created, canceled, compaction, requested progress)
// are always admitted: there is at most one per client request or per watcher. Progress notifications are
// skipped when the outbox is full, as etcd skips them when a watcher's channel is full.

import type { Event, ResponseHeader } from '../etcd/kv.ts';
import type { WatchResponse } from '../etcd/types.ts';
import { fragmentResponse } from './fragment.ts';
import type { Watcher } from './watcher.ts';

/**
 * Keys and values (prev_kv included) a stream's outbox holds before event responses are refused. etcd bounds its
 * per-stream channel by count only (128 responses); in bytes that is 8 MiB of one-revision responses of 64 KiB.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export interface OutboxLimits {
  readonly maxResponses: number;
  readonly maxEvents: number;
  /** Keys and values held; default DEFAULT_MAX_BUFFERED_BYTES. */
  readonly maxBytes?: number;
  /** Fragment threshold in encoded bytes. */
  readonly maxResponseBytes: number;
}

export class StreamState {
  readonly watchers = new Map<number, Watcher>();
  /** etcd watchStream.nextID: the next automatically assigned watch ID. */
  nextId = 0;
  /** A progress_request is waiting for every watcher of the stream to be synced. */
  progressPending = false;
  closed = false;
  readonly limits: OutboxLimits;
  readonly onReadable: (() => void) | undefined;
  private readonly header: (revision: number) => ResponseHeader;
  private readonly becameReadable: (s: StreamState) => void;
  private queue: WatchResponse[] = [];
  /** Keys and values of queue[i]'s events (a fragment group's all on its last piece). */
  private sizes: number[] = [];
  private head = 0;
  private events = 0;
  private bytes = 0;
  private readonly maxBytes: number;

  constructor(
    limits: OutboxLimits,
    header: (revision: number) => ResponseHeader,
    onReadable: (() => void) | undefined,
    becameReadable: (s: StreamState) => void,
  ) {
    this.limits = limits;
    this.maxBytes = limits.maxBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
    this.header = header;
    this.onReadable = onReadable;
    this.becameReadable = becameReadable;
  }

  get bufferedResponses(): number {
    return this.queue.length - this.head;
  }

  get bufferedEvents(): number {
    return this.events;
  }

  /** Keys and values of the events waiting in the outbox. */
  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Whether some event batch could be admitted now. */
  hasRoom(): boolean {
    return this.canAccept(1, 1);
  }

  /** Whether a batch would be admitted now: it fits under the caps, or the outbox holds no events. */
  canAccept(responses: number, events: number): boolean {
    return this.events === 0 || this.fits(responses, events);
  }

  /** Whether a batch fits under the caps (the byte cap is checked before it: one batch may go past it). */
  fits(responses: number, events: number): boolean {
    return (
      this.bufferedResponses + responses <= this.limits.maxResponses &&
      this.events + events <= this.limits.maxEvents &&
      this.bytes < this.maxBytes
    );
  }

  allSynced(): boolean {
    for (const w of this.watchers.values()) if (w.state !== 'synced') return false;
    return true;
  }

  responseHeader(revision: number): ResponseHeader {
    return this.header(revision);
  }

  pushControl(resp: Omit<WatchResponse, 'header' | 'events'>, revision: number): void {
    this.push({ header: this.header(revision), events: [], ...resp });
  }

  /**
   * Offers the watcher's events, complete through `revision` (the header revision), as one response or, for a
   * fragmenting watcher, one group of fragments. False when the outbox has no room: nothing was added.
   */
  offerEvents(w: Watcher, events: readonly Event[], revision: number): boolean {
    const resp: WatchResponse = { header: this.header(revision), watchId: w.id, events };
    const group = w.fragment ? fragmentResponse(resp, this.limits.maxResponseBytes) : [resp];
    if (!this.canAccept(group.length, events.length)) return false;
    let bytes = 0;
    for (const ev of events) bytes += retainedBytes(ev);
    for (let i = 0; i < group.length; i++) this.push(group[i], i === group.length - 1 ? bytes : 0);
    this.events += events.length;
    this.bytes += bytes;
    w.progressEligible = false;
    return true;
  }

  /** A progress_notify response for a synced watcher; skipped (false) when the outbox is full. */
  offerProgressNotify(w: Watcher, revision: number): boolean {
    if (this.bufferedResponses >= this.limits.maxResponses) return false;
    this.push({ header: this.header(revision), watchId: w.id, events: [] });
    return true;
  }

  take(max: number): WatchResponse[] {
    const n = Math.min(max, this.bufferedResponses);
    if (n <= 0) return [];
    const out = this.queue.slice(this.head, this.head + n);
    for (let i = this.head; i < this.head + n; i++) this.bytes -= this.sizes[i];
    this.head += n;
    for (const r of out) this.events -= r.events.length;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.sizes = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.sizes = this.sizes.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  clear(): void {
    this.queue = [];
    this.sizes = [];
    this.head = 0;
    this.events = 0;
    this.bytes = 0;
  }

  private push(resp: WatchResponse, bytes = 0): void {
    if (this.closed) return;
    const wasEmpty = this.bufferedResponses === 0;
    this.queue.push(resp);
    this.sizes.push(bytes);
    if (wasEmpty) this.becameReadable(this);
  }
}

/** What an event keeps alive: its keys and values (the rest is a few numbers). */
function retainedBytes(ev: Event): number {
  const prev = ev.prevKv === undefined ? 0 : ev.prevKv.key.length + ev.prevKv.value.length;
  return ev.kv.key.length + ev.kv.value.length + prev;
}
