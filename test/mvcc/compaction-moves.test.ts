import { describe, expect, it } from 'vitest';
import { bytesEqual, prefixRangeEnd } from '../../src/mvcc/bytes.ts';
import { MvccStore } from '../../src/mvcc/index.ts';
import { b } from './helpers.ts';

const value = (i: number, n = 200) => new Uint8Array(n).fill(i % 251);

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

describe('keys after compaction', () => {
  const key = (i: number) => b(`key/${String(i).padStart(6, '0')}`);
  const all = { key: b('key/'), rangeEnd: prefixRangeEnd(b('key/')) };

  it('deleted and compacted away, leave the survivors readable, revocable and restorable', () => {
    const store = new MvccStore();
    for (let i = 0; i < 4000; i++)
      store.put({ key: key(i), value: b(`v${i}`), lease: i % 100 === 0 ? 7n : 0n });
    // Delete all but every 100th key, then compact: their keys leave the index.
    for (let i = 0; i < 4000; i++) if (i % 100 !== 0) store.deleteRange({ key: key(i) });
    store.compact(store.revision);
    const kvs = store.range(all).kvs;
    expect(kvs.map((kv) => new TextDecoder().decode(kv.key))).toEqual(
      Array.from({ length: 40 }, (_, j) => `key/${String(j * 100).padStart(6, '0')}`),
    );
    expect(kvs.map((kv) => new TextDecoder().decode(kv.value))).toEqual(
      Array.from({ length: 40 }, (_, j) => `v${j * 100}`),
    );
    expect(store.keysForLease(7n).map((k) => new TextDecoder().decode(k))).toEqual(
      kvs.map((kv) => new TextDecoder().decode(kv.key)),
    );
    // Writes after the compaction find the survivors: a put updates the same key, a delete removes it.
    store.put({ key: key(100), value: b('again') });
    expect(store.range({ key: key(100) }).kvs[0].version).toBe(2);
    store.deleteRange({ key: key(200) });
    expect(store.range(all).count).toBe(39);
    expect(bytesEqual(store.snapshot(), MvccStore.restore(store.snapshot()).snapshot())).toBe(true);
  });
});

describe('a restored store', () => {
  it('keeps its values in the snapshot it was restored from, until compaction moves the few survivors', () => {
    const store = new MvccStore();
    for (let i = 0; i < 200; i++) store.put({ key: b(`r/${i}`), value: value(i) });
    const snapshot = store.snapshot();
    const restored = MvccStore.restore(snapshot);
    const all = { key: b('r/'), rangeEnd: prefixRangeEnd(b('r/')) };
    for (const kv of restored.range(all).kvs) expect(kv.value.buffer).toBe(snapshot.buffer);
    // Overwrite all but 3 keys and compact: the snapshot's buffer becomes mostly unused, and the survivors leave it.
    for (let i = 3; i < 200; i++) restored.put({ key: b(`r/${i}`), value: value(i + 1) });
    restored.compact(restored.revision);
    const kvs = restored.range(all).kvs;
    for (const kv of kvs) expect(kv.value.buffer).not.toBe(snapshot.buffer);
    for (const kv of kvs) {
      const i = Number(new TextDecoder().decode(kv.key).slice(2));
      expect(bytesEqual(kv.value, value(i < 3 ? i : i + 1))).toBe(true);
    }
    expect(bytesEqual(MvccStore.restore(restored.snapshot()).snapshot(), restored.snapshot())).toBe(true);
  });
});

describe('a restored store larger than a segment', () => {
  const key = (i: number) => b(`w/${String(i).padStart(5, '0')}`);
  const all = { key: b('w/'), rangeEnd: prefixRangeEnd(b('w/')) };
  // 3,000 values of 300 bytes (~900 KB: values land in several 256 KiB windows of the buffer), every 500th of 5,000.
  const sized = (i: number) => value(i, i % 500 === 0 ? 5000 : 300);

  it('keeps small values in the snapshot buffer wherever they lie, copies large ones, and moves survivors out once the buffer as a whole is mostly unused', () => {
    const store = new MvccStore();
    for (let i = 0; i < 3000; i++) store.put({ key: key(i), value: sized(i) });
    const snapshot = store.snapshot();
    const restored = MvccStore.restore(snapshot);
    const read = () => restored.range(all).kvs;
    read().forEach((kv, i) => {
      expect(bytesEqual(kv.value, sized(i))).toBe(true);
      if (i % 500 === 0) expect(kv.value.buffer).not.toBe(snapshot.buffer);
      else expect(kv.value.buffer).toBe(snapshot.buffer);
    });
    // Overwrite the last 2,000 keys: the first 1,000 (the buffer's first windows, each still full) survive, but
    // the buffer as a whole is mostly unused, so they move out too.
    for (let i = 1000; i < 3000; i++) restored.put({ key: key(i), value: value(i + 1) });
    restored.compact(restored.revision);
    read().forEach((kv, i) => {
      expect(kv.value.buffer).not.toBe(snapshot.buffer);
      expect(bytesEqual(kv.value, i < 1000 ? sized(i) : value(i + 1))).toBe(true);
    });
    expect(bytesEqual(MvccStore.restore(restored.snapshot()).snapshot(), restored.snapshot())).toBe(true);
  });
});
