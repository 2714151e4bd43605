import { describe, expect, it } from 'vitest';
import { b, get, keysOf, newStore, put, str, thrownMessage } from './helpers.ts';

const COMPACTED = 'etcdserver: mvcc: required revision has been compacted';
const FUTURE = 'etcdserver: mvcc: required revision is a future revision';

function history() {
  const s = newStore();
  put(s, 'a', 'a1'); // 2
  put(s, 'b', 'b1'); // 3
  put(s, 'a', 'a2'); // 4
  s.deleteRange({ key: b('b') }); // 5
  put(s, 'c', 'c1'); // 6
  put(s, 'a', 'a3'); // 7
  return s;
}

describe('compaction', () => {
  it('keeps, per key, the newest version at or below the compact revision, and everything newer', () => {
    const s = history();
    s.compact(5);
    expect(s.compactRevision).toBe(5);
    expect(s.revision).toBe(7);
    // Reading at the compact revision itself still works and sees the state then.
    const at5 = s.range({ key: b('a'), rangeEnd: new Uint8Array([0]), revision: 5 });
    expect(keysOf(at5)).toEqual(['a']);
    expect(str(at5.kvs[0].value)).toBe('a2');
    expect(str(s.range({ key: b('a'), revision: 6 }).kvs[0].value)).toBe('a2');
    expect(str(get(s, 'a')!.value)).toBe('a3');
    expect(get(s, 'a')!.version).toBe(3);
    expect(thrownMessage(() => s.range({ key: b('a'), revision: 4 }))).toBe(COMPACTED);
    expect(thrownMessage(() => s.range({ key: b('a'), revision: 1 }))).toBe(COMPACTED);
    // b was deleted at 5 ≤ 5: it is gone entirely, history included.
    expect(s.stats).toEqual({ keys: 2, records: 3 });
  });

  it('refuses compacting to the same or an older revision, and to the future', () => {
    const s = history();
    expect(thrownMessage(() => s.compact(8))).toBe(FUTURE);
    s.compact(3);
    expect(thrownMessage(() => s.compact(3))).toBe(COMPACTED);
    expect(thrownMessage(() => s.compact(2))).toBe(COMPACTED);
    s.compact(7);
    expect(s.compactRevision).toBe(7);
    expect(s.revision).toBe(7);
  });

  it('does not move the revision, and compacting to the current revision keeps the live state', () => {
    const s = history();
    const res = s.compact(7);
    expect(res.header.revision).toBe(7);
    expect(keysOf(s.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]) }))).toEqual(['a', 'c']);
    expect(s.stats.records).toBe(2);
    put(s, 'a', 'a4');
    expect(get(s, 'a')).toMatchObject({ version: 4, createRevision: 2, modRevision: 8 });
  });

  it('keeps a key deleted after the compact revision until a later compaction', () => {
    const s = newStore();
    put(s, 'k', '1'); // 2
    put(s, 'k', '2'); // 3
    s.deleteRange({ key: b('k') }); // 4
    s.compact(3);
    expect(str(s.range({ key: b('k'), revision: 3 }).kvs[0].value)).toBe('2');
    expect(s.stats).toEqual({ keys: 1, records: 2 });
    s.compact(4);
    expect(s.stats).toEqual({ keys: 0, records: 0 });
    put(s, 'k', 'new');
    expect(get(s, 'k')).toMatchObject({ version: 1, createRevision: 5 });
  });

  it('compacting a fresh store at revision 1 is allowed once', () => {
    const s = newStore();
    s.compact(1);
    expect(s.compactRevision).toBe(1);
    expect(thrownMessage(() => s.compact(1))).toBe(COMPACTED);
    expect(s.range({ key: b('x') }).kvs).toEqual([]);
  });
});
