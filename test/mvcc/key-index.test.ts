import { describe, expect, it } from 'vitest';
import { KeyIndex } from '../../src/mvcc/key-index.ts';
import { type KvRecord, kvRecord, toKeyValue, tombstoneRecord } from '../../src/mvcc/record.ts';
import { ValueStore } from '../../src/mvcc/value-store.ts';
import { b } from './helpers.ts';

/** A put record of key `k` as the store makes it: its generation's create revision and its version. */
const put = (main: number, sub: number, created: number, version: number) =>
  kvRecord('foo', created, main, version, 0n, sub);
const tomb = (main: number) => tombstoneRecord('foo', main, 0);

/** etcd's key_index_test fixture: {2, 4, 6(t)} {8, 10, 12(t)} {14, 14.1, 16(t)} {} */
function fixture(): KeyIndex {
  const ki = new KeyIndex('foo');
  ki.put(put(2, 0, 2, 1));
  ki.put(put(4, 0, 2, 2));
  ki.tombstone(tomb(6));
  ki.put(put(8, 0, 8, 1));
  ki.put(put(10, 0, 8, 2));
  ki.tombstone(tomb(12));
  ki.put(put(14, 0, 14, 1));
  ki.put(put(14, 1, 14, 2));
  ki.tombstone(tomb(16));
  return ki;
}

const revs = (ki: KeyIndex) => ki.records().map((x) => `${x.main}.${x.sub}${x.tombstone ? 't' : ''}`);
const name = (x: KvRecord) => `${x.main}.${x.sub}`;

describe('KeyIndex', () => {
  it('lists its records, generations closed by tombstones', () => {
    const ki = fixture();
    expect(revs(ki)).toEqual(['2.0', '4.0', '6.0t', '8.0', '10.0', '12.0t', '14.0', '14.1', '16.0t']);
    expect(ki.live).toBe(false);
    ki.put(put(17, 0, 17, 1));
    expect(ki.live).toBe(true);
  });

  it('answers get at a revision with the record then: modified, created and version', () => {
    const ki = fixture();
    const cases: [number, string | undefined, number, number][] = [
      [0, undefined, 0, 0],
      [1, undefined, 0, 0],
      [2, '2.0', 2, 1],
      [3, '2.0', 2, 1],
      [4, '4.0', 2, 2],
      [5, '4.0', 2, 2],
      [6, undefined, 0, 0],
      [7, undefined, 0, 0],
      [8, '8.0', 8, 1],
      [11, '10.0', 8, 2],
      [12, undefined, 0, 0],
      [14, '14.1', 14, 2],
      [15, '14.1', 14, 2],
      [16, undefined, 0, 0],
      [17, undefined, 0, 0],
    ];
    for (const [at, modified, created, version] of cases) {
      const got = ki.get(at);
      if (modified === undefined) expect(got, `at ${at}`).toBeUndefined();
      else {
        expect(name(got!), `at ${at}`).toBe(modified);
        expect([got!.createRevision, got!.version], `at ${at}`).toEqual([created, version]);
      }
    }
  });

  it('compacts as etcd does, generation by generation', () => {
    const all = ['2.0', '4.0', '6.0t', '8.0', '10.0', '12.0t', '14.0', '14.1', '16.0t'];
    const cases: [number, string[], string[]][] = [
      [1, all, []],
      [2, all, ['2.0']],
      [5, all.slice(1), ['4.0']],
      // The tombstone at 6 ≤ 6 goes, with its whole generation.
      [6, all.slice(3), []],
      [7, all.slice(3), []],
      [9, all.slice(3), ['8.0']],
      [11, all.slice(4), ['10.0']],
      [15, all.slice(7), ['14.1']],
      [16, [], []],
      [17, [], []],
    ];
    for (const [at, want, kept] of cases) {
      const ki = fixture();
      const available = new Set<KvRecord>();
      ki.compact(at, available);
      expect(revs(ki), `compact ${at}`).toEqual(want);
      expect([...available].map(name).sort(), `kept at ${at}`).toEqual(kept);
      // keep() reports the same set without changing anything.
      const fresh = fixture();
      const keep = new Set<KvRecord>();
      fresh.keep(at, keep);
      expect([...keep].map(name).sort()).toEqual(kept);
      expect(revs(fresh)).toEqual(all);
    }
    const ki = fixture();
    ki.compact(16, new Set());
    expect(ki.empty).toBe(true);
  });

  it('keeps versions right after compaction', () => {
    const ki = new KeyIndex('foo');
    for (let i = 2; i <= 6; i++) ki.put(put(i, 0, 2, i - 1));
    ki.compact(4, new Set());
    expect(revs(ki)).toEqual(['4.0', '5.0', '6.0']);
    expect([ki.get(4)?.createRevision, ki.get(4)?.version]).toEqual([2, 3]);
    expect([ki.get(6)?.createRevision, ki.get(6)?.version]).toEqual([2, 5]);
    expect(ki.get(3)).toBeUndefined();
  });

  it('refuses out-of-order puts and tombstones on deleted keys', () => {
    const ki = new KeyIndex('foo');
    expect(() => ki.tombstone(tomb(2))).toThrow();
    ki.put(put(3, 0, 3, 1));
    expect(() => ki.put(put(3, 0, 3, 2))).toThrow();
    expect(() => ki.put(put(2, 5, 3, 2))).toThrow();
  });

  it('hands out a plain KeyValue (toKeyValue) that compares, spreads and clones as one', () => {
    const r = put(5, 2, 3, 4);
    new ValueStore().keep(b('v5.2'), r);
    const plain = {
      key: b('foo'),
      createRevision: 3,
      modRevision: 5,
      version: 4,
      value: b('v5.2'),
      lease: 0n,
    };
    const kv = toKeyValue(r);
    expect(kv).toEqual(plain);
    expect({ ...kv }).toEqual(plain);
    expect(Object.keys(kv).sort()).toEqual(Object.keys(plain).sort());
    expect(structuredClone(kv)).toEqual(plain);
    expect(toKeyValue(r, new Uint8Array(0))).toEqual({ ...plain, value: new Uint8Array(0) });
    expect([r.main, r.sub, r.tombstone]).toEqual([5, 2, false]);
  });
});
