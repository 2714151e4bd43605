// A Range request over a read view, with etcd 3.4's exact order of work (applierV3backend.Range): fetch (all of
// it when sorting or filtering, else limit + 1 to learn `more`), drop by min/max mod/create revision, sort, cut
// to the limit. `count` is the number of keys in the range before any of that.

import type { KeyValue, RangeRequest, RangeResponse, SortOrder, SortTarget } from '../etcd/kv.ts';
import { compareBytes, EMPTY_BYTES } from './bytes.ts';
import { keyRange } from './key-range.ts';
import type { ReadView } from './kv-state.ts';
import { header } from './response.ts';
import { revisionOrZero } from './revision.ts';

export function applyRange(view: ReadView, req: RangeRequest): RangeResponse {
  const limit = revisionOrZero(req.limit, 'limit');
  const minMod = revisionOrZero(req.minModRevision, 'min_mod_revision');
  const maxMod = revisionOrZero(req.maxModRevision, 'max_mod_revision');
  const minCreate = revisionOrZero(req.minCreateRevision, 'min_create_revision');
  const maxCreate = revisionOrZero(req.maxCreateRevision, 'max_create_revision');
  const target: SortTarget = req.sortTarget ?? 'KEY';
  const requested: SortOrder = req.sortOrder ?? 'NONE';
  // Everything is fetched only for a requested sort order or a filter — as etcd decides before it turns NONE into
  // ASCEND for a non-KEY target. So NONE + a target + a limit sorts just the first limit+1 keys (etcd's quirk,
  // confirmed by the differential test).
  const fetchAll = requested !== 'NONE' || minMod !== 0 || maxMod !== 0 || minCreate !== 0 || maxCreate !== 0;
  let order: SortOrder = requested;
  // The index yields keys in ascending order; any other target means ASCEND unless told otherwise.
  if (target !== 'KEY' && order === 'NONE') order = 'ASCEND';

  const fetchLimit = fetchAll || limit <= 0 ? 0 : limit + 1;
  const rr = view.rangeKeys(keyRange(req.key, req.rangeEnd), {
    limit: fetchLimit,
    rev: revisionOrZero(req.revision),
    countOnly: req.countOnly === true,
  });

  let kvs = rr.kvs;
  if (maxMod !== 0) kvs = kvs.filter((kv) => kv.modRevision <= maxMod);
  if (minMod !== 0) kvs = kvs.filter((kv) => kv.modRevision >= minMod);
  if (maxCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision <= maxCreate);
  if (minCreate !== 0) kvs = kvs.filter((kv) => kv.createRevision >= minCreate);

  // Not for KEY + ASCEND: the index order already is that (and NONE + KEY keeps it too).
  if (order !== 'NONE' && !(target === 'KEY' && order === 'ASCEND')) {
    const cmp = SORTERS[target];
    kvs = order === 'ASCEND' ? kvs.sort(cmp) : kvs.sort((a, b) => cmp(b, a));
  }

  let more = false;
  if (limit > 0 && kvs.length > limit) {
    kvs = kvs.slice(0, limit);
    more = true;
  }
  if (req.keysOnly) kvs = kvs.map((kv) => ({ ...kv, value: EMPTY_BYTES }));
  return { header: header(rr.rev), kvs, more, count: rr.count };
}

// Array.prototype.sort is stable, so ties keep ascending key order in both directions.
const SORTERS: Record<SortTarget, (a: KeyValue, b: KeyValue) => number> = {
  KEY: (a, b) => compareBytes(a.key, b.key),
  VERSION: (a, b) => a.version - b.version,
  CREATE: (a, b) => a.createRevision - b.createRevision,
  MOD: (a, b) => a.modRevision - b.modRevision,
  VALUE: (a, b) => compareBytes(a.value, b.value),
};
