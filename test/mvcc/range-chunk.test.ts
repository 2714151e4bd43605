// MvccStore.rangeChunk: the read RangeStream's chunks are made of — a key count, a cost budget (the first key always
// fits), `more` when a live key follows, reads pinned to a revision, keys_only, and the compacted / future errors.

import { describe, expect, it } from 'vitest';
import type { KeyValue } from '../../src/etcd/kv.ts';
import { b, newStore, put, str } from './helpers.ts';

const keys = (kvs: readonly KeyValue[]) => kvs.map((kv) => str(kv.key));

function fixture() {
  const s = newStore();
  for (const k of ['a', 'b', 'c', 'd', 'e']) put(s, k, k.repeat(10)); // revisions 2..6
  s.deleteRange({ key: b('c') }); // 7
  return s;
}

describe('rangeChunk', () => {
  it('takes up to `limit` live keys from `key` on and says whether more follow', () => {
    const s = fixture();
    const all = { key: b('a'), rangeEnd: b('z') };
    expect(keys(s.rangeChunk({ ...all, limit: 2 }).kvs)).toEqual(['a', 'b']);
    expect(s.rangeChunk({ ...all, limit: 2 }).more).toBe(true);
    expect(keys(s.rangeChunk({ ...all, key: b('b\0'), limit: 2 }).kvs)).toEqual(['d', 'e']);
    expect(s.rangeChunk({ ...all, key: b('b\0'), limit: 2 }).more).toBe(false);
    const rest = s.rangeChunk({ ...all, key: b('e\0') });
    expect([rest.kvs, rest.more, rest.rev]).toEqual([[], false, 7]);
  });

  it('stops before the key that would exceed the budget, but always takes one', () => {
    const s = fixture();
    const cost = (kv: KeyValue) => kv.value.length + 1;
    const all = { key: b('a'), rangeEnd: b('z'), cost };
    expect(keys(s.rangeChunk({ ...all, budget: 22 }).kvs)).toEqual(['a', 'b']);
    expect(keys(s.rangeChunk({ ...all, budget: 21 }).kvs)).toEqual(['a']);
    expect(keys(s.rangeChunk({ ...all, budget: 1 }).kvs)).toEqual(['a']);
    // keys_only: no value, so no value cost.
    expect(keys(s.rangeChunk({ ...all, budget: 4, keysOnly: true }).kvs)).toEqual(['a', 'b', 'd', 'e']);
    expect(s.rangeChunk({ ...all, keysOnly: true }).kvs.every((kv) => kv.value.length === 0)).toBe(true);
  });

  it('reads at a pinned revision; the header revision stays the current one', () => {
    const s = fixture();
    put(s, 'b', 'changed'); // 8
    put(s, 'bb', 'new'); // 9
    const old = s.rangeChunk({ key: b('a'), rangeEnd: b('z'), revision: 7 });
    expect(keys(old.kvs)).toEqual(['a', 'b', 'd', 'e']);
    expect(str(old.kvs[1]!.value)).toBe('bbbbbbbbbb');
    expect(old.rev).toBe(9);
    expect(keys(s.rangeChunk({ key: b('a'), rangeEnd: b('z'), revision: 5 }).kvs)).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
  });

  it('reads a single key and every key from one (range_end \\0)', () => {
    const s = fixture();
    expect(keys(s.rangeChunk({ key: b('d') }).kvs)).toEqual(['d']);
    expect(keys(s.rangeChunk({ key: b('c') }).kvs)).toEqual([]);
    expect(keys(s.rangeChunk({ key: b('d'), rangeEnd: new Uint8Array([0]) }).kvs)).toEqual(['d', 'e']);
  });

  it('fails as Range fails below the compacted revision and past the current one', () => {
    const s = fixture();
    s.compact(6);
    expect(() => s.rangeChunk({ key: b('a'), revision: 5 })).toThrow(
      'etcdserver: mvcc: required revision has been compacted',
    );
    expect(keys(s.rangeChunk({ key: b('a'), rangeEnd: b('z'), revision: 6 }).kvs)).toEqual([
      'a',
      'b',
      'c',
      'd',
      'e',
    ]);
    expect(() => s.rangeChunk({ key: b('a'), revision: 8 })).toThrow(
      'etcdserver: mvcc: required revision is a future revision',
    );
  });
});
