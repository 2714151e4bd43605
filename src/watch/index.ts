// The watch layer's public surface: a WatchableStore over an MvccStore, and its client streams.

export { fragmentResponse } from './fragment.ts';
export { watchResponseSize } from './size.ts';
export {
  ERR_DUPLICATE_WATCH_ID,
  ERR_EMPTY_WATCHER_RANGE,
  PROGRESS_WATCH_ID,
  WatchStream,
  type WatchStreamOptions,
} from './watch-stream.ts';
export {
  DEFAULT_MAX_BUFFERED_EVENTS,
  DEFAULT_MAX_BUFFERED_RESPONSES,
  DEFAULT_MAX_EVENTS_PER_RESPONSE,
  DEFAULT_MAX_RESPONSE_BYTES,
  DEFAULT_SYNC_BATCH_EVENTS,
  type SyncResult,
  WatchableStore,
  type WatchableStoreOptions,
} from './watchable-store.ts';
