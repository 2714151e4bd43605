import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../src/mvcc/key-index.ts';
import type { Revision } from '../../src/mvcc/revision.ts';
import { RevisionSet } from '../../src/mvcc/revision-set.ts';
import { b } from './helpers.ts';

const r = (main: number, sub = 0): Revision => ({ main, sub });

/** etcd's key_index_test fixture: {2, 4, 6(t)} {8, 10, 12(t)} {14, 14.1, 16(t)} {} */
function fixture(): KeyIndex {
  const ki = new KeyIndex(b('foo'));
  ki.put(r(2));
  ki.put(r(4));
  ki.tombstone(r(6));
  ki.put(r(8));
  ki.put(r(10));
  ki.tombstone(r(12));
  ki.put(r(14));
  ki.put(r(14, 1));
  ki.tombstone(r(16));
  return ki;
}

const gens = (ki: KeyIndex) => ki.generations.map((g) => g.revs.map((x) => `${x.main}.${x.sub}`));

describe('KeyIndex', () => {
  it('groups revisions into generations closed by tombstones', () => {
    const ki = fixture();
    expect(gens(ki)).toEqual([['2.0', '4.0', '6.0'], ['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []]);
    expect(ki.live).toBe(false);
    expect(ki.modified).toEqual(r(16));
    ki.put(r(17));
    expect(ki.live).toBe(true);
  });

  it('answers get at a revision with modified, created and version', () => {
    const ki = fixture();
    const cases: [number, Revision | undefined, number, number][] = [
      [0, undefined, 0, 0],
      [1, undefined, 0, 0],
      [2, r(2), 2, 1],
      [3, r(2), 2, 1],
      [4, r(4), 2, 2],
      [5, r(4), 2, 2],
      [6, undefined, 0, 0],
      [7, undefined, 0, 0],
      [8, r(8), 8, 1],
      [11, r(10), 8, 2],
      [12, undefined, 0, 0],
      [14, r(14, 1), 14, 2],
      [15, r(14, 1), 14, 2],
      [16, undefined, 0, 0],
      [17, undefined, 0, 0],
    ];
    for (const [at, modified, created, version] of cases) {
      const got = ki.get(at);
      if (modified === undefined) expect(got, `at ${at}`).toBeUndefined();
      else expect(got, `at ${at}`).toEqual({ modified, created, version });
    }
  });

  it('lists revisions since a revision, one per main revision', () => {
    const ki = fixture();
    const mains = (rev: number) => ki.since(rev).map((x) => `${x.main}.${x.sub}`);
    expect(mains(0)).toEqual(['2.0', '4.0', '6.0', '8.0', '10.0', '12.0', '14.1', '16.0']);
    expect(mains(9)).toEqual(['10.0', '12.0', '14.1', '16.0']);
    expect(mains(14)).toEqual(['14.1', '16.0']);
    expect(mains(17)).toEqual([]);
  });

  it('compacts as etcd does, generation by generation', () => {
    const cases: [number, string[][], string[]][] = [
      [1, [['2.0', '4.0', '6.0'], ['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], []],
      [2, [['2.0', '4.0', '6.0'], ['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], ['2.0']],
      [5, [['4.0', '6.0'], ['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], ['4.0']],
      // The tombstone at 6 ≤ 6 goes, with its whole generation.
      [6, [['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], []],
      [7, [['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], []],
      [9, [['8.0', '10.0', '12.0'], ['14.0', '14.1', '16.0'], []], ['8.0']],
      [11, [['10.0', '12.0'], ['14.0', '14.1', '16.0'], []], ['10.0']],
      [15, [['14.1', '16.0'], []], ['14.1']],
      [16, [[]], []],
      [17, [[]], []],
    ];
    for (const [at, want, kept] of cases) {
      const ki = fixture();
      const available = new RevisionSet();
      ki.compact(at, available);
      expect(gens(ki), `compact ${at}`).toEqual(want);
      expect(available.size, `kept at ${at}`).toBe(kept.length);
      for (const k of kept) {
        const [main, sub] = k.split('.').map(Number);
        expect(available.has(r(main, sub))).toBe(true);
      }
      // keep() reports the same set without changing anything.
      const fresh = fixture();
      const keep = new RevisionSet();
      fresh.keep(at, keep);
      expect(keep.size).toBe(kept.length);
      expect(gens(fresh)).toEqual(gens(fixture()));
    }
    const all = fixture();
    all.compact(16, new RevisionSet());
    expect(all.empty).toBe(true);
  });

  it('keeps versions right after compaction', () => {
    const ki = new KeyIndex(b('k'));
    for (let i = 2; i <= 6; i++) ki.put(r(i));
    ki.compact(4, new RevisionSet());
    expect(ki.get(4)).toEqual({ modified: r(4), created: 2, version: 3 });
    expect(ki.get(6)).toEqual({ modified: r(6), created: 2, version: 5 });
  });

  it('refuses out-of-order puts and tombstones on deleted keys', () => {
    const ki = new KeyIndex(b('k'));
    expect(() => ki.tombstone(r(2))).toThrow();
    ki.put(r(3));
    expect(() => ki.put(r(3))).toThrow();
    expect(() => ki.put(r(2, 5))).toThrow();
  });
});
