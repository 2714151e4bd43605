// The keyspace's state (etcd's mvcc store struct): the index, the records, the lease attachments, the current
// and compacted revisions, plus the one read primitive everything builds on (etcd storeTxnRead.rangeKeys).

import { errors } from '../etcd/errors.ts';
import type { KeyValue } from '../etcd/kv.ts';
import { History } from './history.ts';
import type { KeyRange } from './key-range.ts';
import { LeaseKeys } from './lease-keys.ts';
import { toKeyValue } from './record.ts';
import { TreeIndex } from './tree-index.ts';
import { ValueStore, type ValueStoreOptions } from './value-store.ts';

export interface RangeKeysOptions {
  /** ≤ 0 = all. */
  readonly limit?: number;
  /** ≤ 0 = the view's revision. */
  readonly rev?: number;
  /** Only count; return no KeyValues. */
  readonly countOnly?: boolean;
}

export interface RangeKeysResult {
  readonly kvs: KeyValue[];
  /** Live keys in the range at the revision, regardless of the limit. */
  readonly count: number;
  /** The view's revision (not the requested one): etcd's Range header revision. */
  readonly rev: number;
}

/** A consistent read position: etcd's ReadView. */
export interface ReadView {
  /** The revision reads see by default. */
  readonly rev: number;
  /** Reads below this revision fail as compacted. */
  readonly firstRev: number;
  rangeKeys(range: KeyRange, options?: RangeKeysOptions): RangeKeysResult;
}

export class KvState {
  readonly index = new TreeIndex();
  readonly history = new History();
  readonly leaseKeys = new LeaseKeys();
  /** Where the records' values are kept. */
  readonly values: ValueStore;
  /** A fresh store is at revision 1; the first write makes revision 2. */
  currentRev = 1;
  /** etcd's compactMainRev: -1 until the first compaction. */
  compactRev = -1;

  constructor(values: ValueStoreOptions = {}) {
    this.values = new ValueStore(values);
  }

  /** Reads `range` as of `options.rev` from a view whose own revision is `viewRev`. */
  rangeKeys(range: KeyRange, viewRev: number, options: RangeKeysOptions = {}): RangeKeysResult {
    let rev = options.rev ?? 0;
    if (rev > viewRev) throw errors.futureRev();
    if (rev <= 0) rev = viewRev;
    // Strictly below: the compacted revision itself is still readable (compaction keeps its state).
    if (rev < this.compactRev) throw errors.compacted();
    const found = this.index.records(range, rev, options.countOnly ? 1 : (options.limit ?? 0));
    return {
      kvs: options.countOnly ? [] : found.records.map((r) => toKeyValue(r)),
      count: found.count,
      rev: viewRev,
    };
  }

  readView(): ReadView {
    const rev = this.currentRev;
    const firstRev = this.compactRev;
    return { rev, firstRev, rangeKeys: (range, options) => this.rangeKeys(range, rev, options) };
  }
}
