// Range permissions (etcd auth/range_perm_cache.go): a user's roles grant key intervals for READ and WRITE; a
// request is allowed iff its range is covered by the union of the intervals of the right type. Intervals follow
// Range's rules: a single key is the point [key, key+"\0"), [key, rangeEnd) a half-open range, rangeEnd "\0" every
// key ≥ key (an open end).

import type { Permission } from '../etcd/types.ts';
import { compareBytes } from '../mvcc/bytes.ts';

/** [begin, end); `end` undefined = no upper bound. */
export interface KeyInterval {
  readonly begin: Uint8Array;
  readonly end: Uint8Array | undefined;
}

const isOpenEnd = (e: Uint8Array | undefined): boolean => e !== undefined && e.length === 1 && e[0] === 0;

/** The successor of a key: the smallest key greater than it (key + "\0"). */
function successor(key: Uint8Array): Uint8Array {
  const out = new Uint8Array(key.length + 1);
  out.set(key);
  return out;
}

/** The interval of a key / range with Range's range_end rules. */
export function keyInterval(key: Uint8Array, rangeEnd?: Uint8Array): KeyInterval {
  if (!rangeEnd || rangeEnd.length === 0) return { begin: key, end: successor(key) };
  return { begin: key, end: isOpenEnd(rangeEnd) ? undefined : rangeEnd };
}

/** end a < end b, with undefined = +∞. */
function compareEnd(a: Uint8Array | undefined, b: Uint8Array | undefined): number {
  if (a === undefined) return b === undefined ? 0 : 1;
  if (b === undefined) return -1;
  return compareBytes(a, b);
}

/**
 * A union of key intervals, kept merged and sorted (adjacent and overlapping intervals become one), so that a
 * coverage check is one binary search.
 */
export class IntervalSet {
  private readonly intervals: KeyInterval[];

  constructor(intervals: readonly KeyInterval[] = []) {
    const sorted = intervals
      .filter((i) => i.end === undefined || compareBytes(i.begin, i.end) < 0)
      .sort((a, b) => compareBytes(a.begin, b.begin));
    const merged: KeyInterval[] = [];
    for (const i of sorted) {
      const last = merged[merged.length - 1];
      // Touching ([a,b) and [b,c)) or overlapping: extend the last one.
      if (last && (last.end === undefined || compareBytes(i.begin, last.end) <= 0)) {
        if (compareEnd(i.end, last.end) > 0) merged[merged.length - 1] = { begin: last.begin, end: i.end };
      } else merged.push(i);
    }
    this.intervals = merged;
  }

  get size(): number {
    return this.intervals.length;
  }

  /** True when [begin, end) lies entirely inside the union. */
  covers(target: KeyInterval): boolean {
    // The last merged interval starting at or before target.begin is the only candidate.
    let lo = 0;
    let hi = this.intervals.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (compareBytes(this.intervals[mid].begin, target.begin) <= 0) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found < 0) return false;
    const candidate = this.intervals[found];
    // An empty or inverted request range covers nothing, so nothing covers it (etcd's adt.Contains: false).
    if (target.end !== undefined && compareBytes(target.begin, target.end) >= 0) return false;
    return compareEnd(target.end, candidate.end) <= 0;
  }
}

/** A user's merged permissions (etcd's unifiedRangePermissions). */
export interface UnifiedPermissions {
  readonly read: IntervalSet;
  readonly write: IntervalSet;
}

export function unifyPermissions(perms: Iterable<Permission>): UnifiedPermissions {
  const read: KeyInterval[] = [];
  const write: KeyInterval[] = [];
  for (const p of perms) {
    const ivl = keyInterval(p.key, p.rangeEnd);
    if (p.permType === 'READ' || p.permType === 'READWRITE') read.push(ivl);
    if (p.permType === 'WRITE' || p.permType === 'READWRITE') write.push(ivl);
  }
  return { read: new IntervalSet(read), write: new IntervalSet(write) };
}

/** Whether `perms` allow `type` on the key (no rangeEnd) or range [key, rangeEnd). */
export function isRangePermitted(
  perms: UnifiedPermissions,
  type: 'READ' | 'WRITE',
  key: Uint8Array,
  rangeEnd?: Uint8Array,
): boolean {
  return (type === 'READ' ? perms.read : perms.write).covers(keyInterval(key, rangeEnd));
}
