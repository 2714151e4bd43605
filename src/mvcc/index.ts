// The MVCC keyspace's public surface.

export { compareBytes, prefixRangeEnd } from './bytes.ts';
export { crc32c } from './hash.ts';
export { NO_LEASE } from './lease-keys.ts';
export type { RangeChunk, RangeChunkQuery } from './range-chunk.ts';
export type { Revision } from './revision.ts';
export { type EventsQuery, MvccStore, type MvccStoreOptions, type WriteResult } from './store.ts';
export { checkTxnRequest, DEFAULT_MAX_TXN_OPS } from './validate.ts';
