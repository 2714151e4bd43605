import { describe, expect, it } from 'vitest';
import { bytesEqual, prefixRangeEnd } from '../../src/mvcc/bytes.ts';
import { MvccStore } from '../../src/mvcc/index.ts';
import { ValueArena } from '../../src/mvcc/value-arena.ts';
import { b } from './helpers.ts';

const value = (i: number, n = 200) => new Uint8Array(n).fill(i % 251);

describe('ValueArena', () => {
  it('copies small values into shared slabs; large values keep their own buffer', () => {
    const arena = new ValueArena();
    const source = value(1);
    const a = arena.copy(source);
    const c = arena.copy(value(2));
    expect(a).toEqual(source);
    expect(a.buffer).toBe(c.buffer);
    source.fill(9); // the copy is the store's own
    expect(a).toEqual(value(1));
    const big = arena.copy(new Uint8Array(8192).fill(3));
    expect(big.buffer.byteLength).toBe(8192);
    expect(arena.copy(new Uint8Array(0)).length).toBe(0);
  });
});

describe('values after compaction', () => {
  it('move out of slabs that compaction left mostly empty, and read the same', () => {
    const store = new MvccStore();
    const all = { key: b('k/'), rangeEnd: prefixRangeEnd(b('k/')) };
    for (let i = 0; i < 1000; i++) store.put({ key: b(`k/${i}`), value: value(i) });
    const first = new Set(store.range(all).kvs.map((kv) => kv.value.buffer));
    // Overwrite all but 10 keys: their old values are history until the compaction below drops them.
    for (let i = 10; i < 1000; i++) store.put({ key: b(`k/${i}`), value: value(i + 7) });
    store.compact(store.revision);
    const kvs = store.range(all).kvs;
    const survivors = kvs.filter((kv) => Number(new TextDecoder().decode(kv.key).slice(2)) < 10);
    expect(survivors).toHaveLength(10);
    for (const kv of survivors) expect(first.has(kv.value.buffer)).toBe(false);
    for (const kv of kvs) {
      const i = Number(new TextDecoder().decode(kv.key).slice(2));
      expect(bytesEqual(kv.value, value(i < 10 ? i : i + 7))).toBe(true);
    }
    expect(bytesEqual(store.snapshot(), MvccStore.restore(store.snapshot()).snapshot())).toBe(true);
  });
});
