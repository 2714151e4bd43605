// The space quota a Node member can hold. edgecd keeps its key space in the JavaScript heap (about 4 bytes of heap
// per byte of key space as Status' dbSize counts it: ~1.1 KB per key of 16-byte keys and 256-byte values, measured),
// so a quota past what the heap limit can hold would let the process die of heap exhaustion before NOSPACE. The
// member takes the smaller of the two and says so at start; a larger heap (NODE_OPTIONS=--max-old-space-size=MiB)
// raises the limit.

import { getHeapStatistics } from 'node:v8';
import type { Logger } from '../../../src/env.ts';
import { DEFAULT_QUOTA_BYTES } from '../../../src/server/alarms.ts';

/** Heap bytes per byte of key space (dbSize), with room for compaction and request bursts. */
export const HEAP_PER_KEYSPACE_BYTE = 4;
/** Heap the member needs besides its key space (code, connections, Raft log tail, buffers). */
export const HEAP_BASE_BYTES = 384 * 1024 * 1024;

/** etcd's --quota-backend-bytes (0: 2 GiB), lowered to what this process's heap limit holds. */
export function effectiveQuota(
  requested: number,
  logger: Logger,
  heapLimit = getHeapStatistics().heap_size_limit,
): number {
  const quota = requested > 0 ? requested : DEFAULT_QUOTA_BYTES;
  const holdable = Math.max(
    64 * 1024 * 1024,
    Math.floor((heapLimit - HEAP_BASE_BYTES) / HEAP_PER_KEYSPACE_BYTE),
  );
  if (quota <= holdable) return quota;
  const mib = (b: number) => Math.round(b / 2 ** 20);
  logger.warn(
    'space quota lowered to what the heap limit holds: NOSPACE is raised before the heap runs out',
    {
      'quota-backend-bytes': quota,
      'effective-quota-bytes': holdable,
      'heap-limit-mib': mib(heapLimit),
      'heap-needed-mib': mib(quota * HEAP_PER_KEYSPACE_BYTE + HEAP_BASE_BYTES),
      hint: `NODE_OPTIONS=--max-old-space-size=${mib(quota * HEAP_PER_KEYSPACE_BYTE + HEAP_BASE_BYTES)}`,
    },
  );
  return holdable;
}
