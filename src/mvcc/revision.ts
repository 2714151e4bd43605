// etcd's revision: `main` is the store revision of a write; `sub` orders the changes inside that write (a txn
// writing three keys produces main=r with sub=0,1,2). Revisions are numbers, so they must stay below 2^53.

export interface Revision {
  readonly main: number;
  readonly sub: number;
}

export function compareRevision(a: Revision, b: Revision): number {
  return a.main !== b.main ? a.main - b.main : a.sub - b.sub;
}

/** Throws unless `n` is a non-negative integer below 2^53 (etcd revisions are int64; ours are safe numbers). */
export function assertRevision(n: number, what = 'revision'): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`mvcc: ${what} ${n} is not a safe integer ≥ 0`);
  return n;
}

/** A proto3 int64 field that is absent reads as 0. */
export function revisionOrZero(n: number | undefined, what = 'revision'): number {
  if (n === undefined) return 0;
  if (!Number.isSafeInteger(n)) throw new RangeError(`mvcc: ${what} ${n} is not a safe integer`);
  return n;
}
