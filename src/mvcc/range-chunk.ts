// One chunk of a streamed range (etcd v3.7's KV.RangeStream): the live keys of a range as of one revision, in key
// order from a start key, until a key count or a byte budget is reached. Only the chunk is built — the records
// are the store's own, not copies — so a range of any size is read in pieces of bounded memory. Each chunk is a
// fresh read at the pinned revision, as etcd's rangeStream runs one txn.Range per chunk: writes in between are not
// seen, and a compaction past that revision fails the next chunk as compacted.

import { errors } from '../etcd/errors.ts';
import type { KeyValue } from '../etcd/kv.ts';
import { EMPTY_BYTES } from './bytes.ts';
import { keyRange } from './key-range.ts';
import type { KvState } from './kv-state.ts';
import { toKeyValue } from './record.ts';

export interface RangeChunkQuery {
  /** Where this chunk starts (inclusive): the request's key, then the last key sent + `\0`. */
  readonly key: Uint8Array;
  /** etcd's range_end rules (empty = the single key, `\0` = every key ≥ key). */
  readonly rangeEnd?: Uint8Array;
  /** ≤ 0 = the current revision. */
  readonly revision?: number;
  /** At most this many keys; ≤ 0 = no count limit. */
  readonly limit?: number;
  /** The chunk stops before a key whose cost would take its total past this; the first key is always taken. */
  readonly budget?: number;
  /** What one key costs against the budget (e.g. its encoded size). */
  readonly cost?: (kv: KeyValue) => number;
  /** Values left out (and not counted in the cost). */
  readonly keysOnly?: boolean;
}

export interface RangeChunk {
  readonly kvs: KeyValue[];
  /** Another live key follows the chunk's last one in the range. */
  readonly more: boolean;
  /** The store's current revision when read: etcd's header revision (not the requested one). */
  readonly rev: number;
}

export function rangeChunk(state: KvState, q: RangeChunkQuery): RangeChunk {
  const viewRev = state.currentRev;
  let rev = q.revision ?? 0;
  if (rev > viewRev) throw errors.futureRev();
  if (rev <= 0) rev = viewRev;
  if (rev < state.compactRev) throw errors.compacted();
  const limit = q.limit !== undefined && q.limit > 0 ? q.limit : Number.POSITIVE_INFINITY;
  const budget = q.budget ?? Number.POSITIVE_INFINITY;
  const kvs: KeyValue[] = [];
  let spent = 0;
  let more = false;
  state.index.visit(keyRange(q.key, q.rangeEnd), rev, (stored) => {
    if (kvs.length >= limit) {
      more = true;
      return false;
    }
    const kv = q.keysOnly ? toKeyValue(stored, EMPTY_BYTES) : toKeyValue(stored);
    const cost = q.cost ? q.cost(kv) : 0;
    if (kvs.length > 0 && spent + cost > budget) {
      more = true;
      return false;
    }
    kvs.push(kv);
    spent += cost;
    return true;
  });
  return { kvs, more, rev: viewRev };
}
