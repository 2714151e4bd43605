import { describe, expect, it } from 'vitest';
import type { RangeRequest } from '../../src/etcd/kv.ts';
import { prefixRangeEnd } from '../../src/mvcc/index.ts';
import type { MvccStore } from '../../src/mvcc/store.ts';
import { b, keysOf, newStore, put, valuesOf } from './helpers.ts';

const ALL = new Uint8Array([0]);

/** foo=... written so that key, version, create, mod and value orders all differ. */
function fixture(): MvccStore {
  const s = newStore();
  put(s, 'b', 'zz'); // 2  b: create 2
  put(s, 'a', 'yy'); // 3  a: create 3
  put(s, 'd', 'aa'); // 4  d: create 4
  put(s, 'c', 'mm'); // 5  c: create 5
  put(s, 'b', 'bb'); // 6  b: v2 mod 6
  put(s, 'b', 'cc'); // 7  b: v3 mod 7
  put(s, 'a', 'xx'); // 8  a: v2 mod 8
  return s;
}
// key:    a(v2,c3,m8,"xx")  b(v3,c2,m7,"cc")  c(v1,c5,m5,"mm")  d(v1,c4,m4,"aa")

const rng = (s: MvccStore, req: Omit<RangeRequest, 'key'> & { key?: string }) =>
  s.range({ ...req, key: b(req.key ?? 'a'), rangeEnd: req.rangeEnd ?? ALL });

describe('range_end rules', () => {
  const s = newStore();
  for (const k of ['a', 'ab', 'abc', 'abd', 'b', 'c']) put(s, k, k);

  it('empty range_end reads one key', () => {
    expect(keysOf(s.range({ key: b('ab') }))).toEqual(['ab']);
    expect(keysOf(s.range({ key: b('ab'), rangeEnd: new Uint8Array(0) }))).toEqual(['ab']);
    expect(keysOf(s.range({ key: b('zz') }))).toEqual([]);
  });

  it('\\0 reads every key ≥ key; key \\0 with \\0 reads everything', () => {
    expect(keysOf(s.range({ key: b('abd'), rangeEnd: ALL }))).toEqual(['abd', 'b', 'c']);
    expect(keysOf(s.range({ key: ALL, rangeEnd: ALL }))).toEqual(['a', 'ab', 'abc', 'abd', 'b', 'c']);
  });

  it('other range_end is the half-open [key, range_end)', () => {
    expect(keysOf(s.range({ key: b('ab'), rangeEnd: b('b') }))).toEqual(['ab', 'abc', 'abd']);
    expect(keysOf(s.range({ key: b('ab'), rangeEnd: b('abd') }))).toEqual(['ab', 'abc']);
    expect(keysOf(s.range({ key: b('c'), rangeEnd: b('a') }))).toEqual([]);
  });

  it('a prefix reads as key .. prefix with its last byte + 1', () => {
    expect([...prefixRangeEnd(b('ab'))]).toEqual([...b('ac')]);
    expect([...prefixRangeEnd(Uint8Array.of(0x61, 0xff, 0xff))]).toEqual([0x62]);
    expect([...prefixRangeEnd(Uint8Array.of(0xff))]).toEqual([0]);
    expect([...prefixRangeEnd(new Uint8Array(0))]).toEqual([0]);
    expect(keysOf(s.range({ key: b('ab'), rangeEnd: prefixRangeEnd(b('ab')) }))).toEqual([
      'ab',
      'abc',
      'abd',
    ]);
  });
});

describe('limit, more and count', () => {
  const s = fixture();

  it('cuts at limit and says more; count is the total', () => {
    const r = rng(s, { limit: 2 });
    expect(keysOf(r)).toEqual(['a', 'b']);
    expect([r.more, r.count]).toEqual([true, 4]);
    const exact = rng(s, { limit: 4 });
    expect([exact.kvs.length, exact.more, exact.count]).toEqual([4, false, 4]);
    const none = rng(s, { limit: 0 });
    expect([none.kvs.length, none.more]).toEqual([4, false]);
  });

  it('count ignores the min/max filters; more is decided after filtering', () => {
    const r = rng(s, { minModRevision: 5, limit: 2 });
    expect(keysOf(r)).toEqual(['a', 'b']);
    expect([r.more, r.count]).toEqual([true, 4]);
    const few = rng(s, { minModRevision: 7, limit: 2 });
    expect(keysOf(few)).toEqual(['a', 'b']);
    expect([few.more, few.count]).toEqual([false, 4]);
  });

  it('count_only returns only the count; keys_only drops values', () => {
    const c = rng(s, { countOnly: true, limit: 1 });
    expect([c.kvs, c.count, c.more]).toEqual([[], 4, false]);
    const k = rng(s, { keysOnly: true });
    expect(keysOf(k)).toEqual(['a', 'b', 'c', 'd']);
    expect(valuesOf(k)).toEqual(['', '', '', '']);
    expect(k.kvs[1]).toMatchObject({ version: 3, createRevision: 2, modRevision: 7 });
  });

  it('counts at a historical revision', () => {
    expect(rng(s, { revision: 3, countOnly: true }).count).toBe(2);
    expect(keysOf(rng(s, { revision: 4 }))).toEqual(['a', 'b', 'd']);
  });
});

describe('sorting', () => {
  const s = fixture();
  const sorted = (req: Omit<RangeRequest, 'key'>) => keysOf(rng(s, req));

  it('NONE + KEY is key order; NONE + any other target sorts ascending', () => {
    expect(sorted({})).toEqual(['a', 'b', 'c', 'd']);
    expect(sorted({ sortTarget: 'MOD' })).toEqual(['d', 'c', 'b', 'a']);
    expect(sorted({ sortTarget: 'CREATE', sortOrder: 'NONE' })).toEqual(['b', 'a', 'd', 'c']);
  });

  it('sorts by every target in both orders', () => {
    expect(sorted({ sortOrder: 'ASCEND', sortTarget: 'KEY' })).toEqual(['a', 'b', 'c', 'd']);
    expect(sorted({ sortOrder: 'DESCEND', sortTarget: 'KEY' })).toEqual(['d', 'c', 'b', 'a']);
    expect(sorted({ sortOrder: 'ASCEND', sortTarget: 'CREATE' })).toEqual(['b', 'a', 'd', 'c']);
    expect(sorted({ sortOrder: 'DESCEND', sortTarget: 'CREATE' })).toEqual(['c', 'd', 'a', 'b']);
    expect(sorted({ sortOrder: 'ASCEND', sortTarget: 'MOD' })).toEqual(['d', 'c', 'b', 'a']);
    expect(sorted({ sortOrder: 'DESCEND', sortTarget: 'MOD' })).toEqual(['a', 'b', 'c', 'd']);
    expect(sorted({ sortOrder: 'ASCEND', sortTarget: 'VALUE' })).toEqual(['d', 'b', 'c', 'a']);
    expect(sorted({ sortOrder: 'DESCEND', sortTarget: 'VALUE' })).toEqual(['a', 'c', 'b', 'd']);
    // Versions tie (c, d at 1): ties stay in key order.
    expect(sorted({ sortOrder: 'ASCEND', sortTarget: 'VERSION' })).toEqual(['c', 'd', 'a', 'b']);
    expect(sorted({ sortOrder: 'DESCEND', sortTarget: 'VERSION' })).toEqual(['b', 'a', 'c', 'd']);
  });

  it('sorts the whole result before applying the limit', () => {
    const r = rng(s, { sortOrder: 'DESCEND', sortTarget: 'KEY', limit: 2 });
    expect(keysOf(r)).toEqual(['d', 'c']);
    expect([r.more, r.count]).toEqual([true, 4]);
    expect(keysOf(rng(s, { sortOrder: 'ASCEND', sortTarget: 'MOD', limit: 1 }))).toEqual(['d']);
  });
});

describe('min/max revision filters', () => {
  const s = fixture();
  const f = (req: Omit<RangeRequest, 'key'>) => keysOf(rng(s, req));

  it('filters by mod revision', () => {
    expect(f({ minModRevision: 6 })).toEqual(['a', 'b']);
    expect(f({ maxModRevision: 5 })).toEqual(['c', 'd']);
    expect(f({ minModRevision: 5, maxModRevision: 7 })).toEqual(['b', 'c']);
  });

  it('filters by create revision', () => {
    expect(f({ minCreateRevision: 4 })).toEqual(['c', 'd']);
    expect(f({ maxCreateRevision: 3 })).toEqual(['a', 'b']);
    expect(f({ minCreateRevision: 3, maxCreateRevision: 4 })).toEqual(['a', 'd']);
  });

  it('combines filters, sort and limit', () => {
    const r = rng(s, { minCreateRevision: 3, sortOrder: 'DESCEND', sortTarget: 'MOD', limit: 2 });
    expect(keysOf(r)).toEqual(['a', 'c']);
    expect([r.more, r.count]).toEqual([true, 4]);
  });
});
