// Shared helpers for the watch tests: a host that applies writes to an MvccStore and reports them to a
// WatchableStore, as the server's apply loop will, plus readable views of responses.

import type { DeleteRangeRequest, Event, PutRequest, TxnRequest } from '../../src/etcd/kv.ts';
import type { WatchResponse } from '../../src/etcd/types.ts';
import { MvccStore, type WriteResult } from '../../src/mvcc/index.ts';
import { WatchableStore, type WatchableStoreOptions, type WatchStream } from '../../src/watch/index.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const b = (s: string): Uint8Array => encoder.encode(s);
export const str = (bytes: Uint8Array): string => decoder.decode(bytes);
export const ALL = new Uint8Array([0]);

export interface LoggedRevision {
  readonly revision: number;
  readonly events: readonly Event[];
}

export class Host {
  readonly kv = new MvccStore();
  readonly watch: WatchableStore;
  /** Every write's events, as applied. */
  readonly log: LoggedRevision[] = [];

  constructor(options: WatchableStoreOptions = {}) {
    this.watch = new WatchableStore(this.kv, options);
  }

  put(key: string, value: string, extra: Omit<PutRequest, 'key' | 'value'> = {}): number {
    return this.apply(this.kv.put({ key: b(key), value: b(value), ...extra }));
  }

  del(key: string, rangeEnd?: Uint8Array | string): number {
    const req: DeleteRangeRequest = {
      key: b(key),
      rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd,
    };
    return this.apply(this.kv.deleteRange(req));
  }

  txn(req: TxnRequest): number {
    return this.apply(this.kv.txn(req));
  }

  /** Every revision compacted at, in order. */
  readonly compactions: number[] = [];

  compact(revision: number): void {
    this.compactions.push(revision);
    this.kv.compact(revision);
    this.watch.compacted(revision);
  }

  private apply(result: WriteResult<unknown>): number {
    if (result.events.length > 0) {
      const revision = this.kv.revision;
      this.log.push({ revision, events: result.events });
      this.watch.notify(result.events, revision);
    }
    return this.kv.revision;
  }
}

/** "PUT k=v@rev" / "DELETE k@rev", with " prev=v@rev" when prev_kv is present. */
export function show(ev: Event): string {
  const base =
    ev.type === 'PUT'
      ? `PUT ${str(ev.kv.key)}=${str(ev.kv.value)}@${ev.kv.modRevision}`
      : `DELETE ${str(ev.kv.key)}@${ev.kv.modRevision}`;
  return ev.prevKv === undefined ? base : `${base} prev=${str(ev.prevKv.value)}@${ev.prevKv.modRevision}`;
}

/** The events of the responses for one watch ID, shown. */
export function eventsOf(responses: readonly WatchResponse[], watchId?: number): string[] {
  return responses
    .filter((r) => watchId === undefined || r.watchId === watchId)
    .flatMap((r) => r.events.map(show));
}

/** A response's kind and fields in one short line, for exact expectations. */
export function kind(r: WatchResponse): string {
  const parts = [`id=${r.watchId}`, `rev=${r.header.revision}`];
  if (r.created) parts.push('created');
  if (r.canceled) parts.push('canceled');
  if (r.compactRevision !== undefined) parts.push(`compact=${r.compactRevision}`);
  if (r.cancelReason !== undefined) parts.push(`reason=${r.cancelReason}`);
  if (r.fragment) parts.push('fragment');
  if (r.events.length > 0) parts.push(`events=${r.events.length}`);
  return parts.join(' ');
}

/** Drains the streams into `sink` and runs syncWatchers until every watcher is synced and nothing is buffered. */
export function settle(host: Host, streams: readonly WatchStream[], sink: WatchResponse[][]): void {
  let idle = 0;
  while (idle < 3) {
    let took = 0;
    streams.forEach((s, i) => {
      const got = s.take();
      took += got.length;
      sink[i].push(...got);
    });
    const { scanned, unsynced } = host.watch.syncWatchers();
    const buffered = streams.some((s) => s.buffered.responses > 0);
    if (unsynced === 0 && !buffered) return;
    idle = took === 0 && scanned === 0 ? idle + 1 : 0;
  }
  throw new Error('settle: no progress');
}
