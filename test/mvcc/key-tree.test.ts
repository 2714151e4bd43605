import { describe, expect, it } from 'vitest';
import { bytesToMapKey, compareBytes } from '../../src/mvcc/bytes.ts';
import { SortedChunks } from '../../src/mvcc/key-tree.ts';
import { seeded } from './helpers.ts';

interface Item {
  readonly key: Uint8Array;
  readonly mapKey: string;
  readonly n: number;
}

const hex = (k: Uint8Array) => [...k].map((x) => x.toString(16).padStart(2, '0')).join('');
const m = bytesToMapKey;
/** Byte values around the edges where a text comparison could differ from a byte comparison. */
const BYTES = [0, 1, 2, 0x2f, 0x30, 0x7e, 0x7f, 0x80, 0x81, 0xc0, 0xfe, 0xff];

describe('SortedChunks', () => {
  it('matches a reference sorted by bytes (keys as one char per byte) under random inserts, deletes and scans', () => {
    const rand = seeded(7);
    const tree = new SortedChunks<Item>();
    const model = new Map<string, Item>();
    const randomKey = () =>
      Uint8Array.from({ length: 1 + Math.floor(rand() * 3) }, () => BYTES[Math.floor(rand() * BYTES.length)]);
    for (let step = 0; step < 20000; step++) {
      const key = randomKey();
      const op = rand();
      if (op < 0.6) {
        const item = { key, mapKey: m(key), n: step };
        tree.set(item);
        model.set(hex(key), item);
      } else if (op < 0.9) {
        expect(tree.delete(m(key))).toBe(model.delete(hex(key)));
      } else {
        expect(tree.get(m(key))).toBe(model.get(hex(key)));
      }
      expect(tree.size).toBe(model.size);
    }
    const sorted = [...model.values()].sort((x, y) => compareBytes(x.key, y.key));
    const all: Item[] = [];
    tree.ascend('', null, (item) => {
      all.push(item);
      return true;
    });
    expect(all).toEqual(sorted);
    for (let i = 0; i < 200; i++) {
      const start = randomKey();
      const end = randomKey();
      const got: Item[] = [];
      tree.ascend(m(start), m(end), (item) => {
        got.push(item);
        return true;
      });
      expect(got).toEqual(
        sorted.filter((x) => compareBytes(x.key, start) >= 0 && compareBytes(x.key, end) < 0),
      );
    }
  });

  it('stops a scan when the visitor returns false', () => {
    const tree = new SortedChunks<Item>();
    for (let i = 0; i < 2000; i++) {
      const key = Uint8Array.of(i >> 8, i & 0xff);
      tree.set({ key, mapKey: m(key), n: i });
    }
    const seen: number[] = [];
    tree.ascend(m(Uint8Array.of(3, 0)), null, (item) => {
      seen.push(item.n);
      return seen.length < 5;
    });
    expect(seen).toEqual([768, 769, 770, 771, 772]);
  });
});
