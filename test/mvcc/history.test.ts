// The records in revision order (src/mvcc/history.ts), across the chunks they are kept in: ranges of revisions
// that span chunks, a capture that later appends and compactions leave as it was, compaction keeping what the
// index still needs and telling of the rest.

import { describe, expect, it } from 'vitest';
import { History } from '../../src/mvcc/history.ts';
import { type KvRecord, kvRecord } from '../../src/mvcc/record.ts';

const N = 20_000; // over two chunks of 8,192
const record = (rev: number) => kvRecord('k', 1, rev, rev, 0n, 0);
const revs = (records: Iterable<KvRecord>) => [...records].map((r) => r.modRevision);
const span = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('History', () => {
  it('lists ranges of revisions across its chunks', () => {
    const history = new History();
    for (let rev = 2; rev < N + 2; rev++) history.append(record(rev));
    expect(history.size).toBe(N);
    expect(revs(history.entries())).toEqual(span(2, N + 1));
    expect(revs(history.between(8190, 8200))).toEqual(span(8190, 8200));
    expect(revs(history.between(16380, 16390))).toEqual(span(16380, 16390));
    expect(revs(history.between(0, 3))).toEqual([2, 3]);
    expect(revs(history.between(N + 1, N + 100))).toEqual([N + 1]);
    expect(revs(history.between(N + 2, N + 100))).toEqual([]);
    expect(() => history.append(record(N))).toThrow(/out of order/);
  });

  it('keeps a capture as it was while records are appended and compacted away', () => {
    const history = new History();
    for (let rev = 2; rev < N + 2; rev++) history.append(record(rev));
    const captured = history.capture();
    for (let rev = N + 2; rev < N + 100; rev++) history.append(record(rev));
    history.compact(N, new Set(), () => {});
    expect(captured.length).toBe(N);
    expect(revs(captured)).toEqual(span(2, N + 1));
  });

  it('compacts to what the index keeps and the records after the revision, in order', () => {
    const history = new History();
    const all = Array.from({ length: N }, (_, i) => record(i + 2));
    for (const r of all) history.append(r);
    const bytes = history.bytes;
    const keep = new Set(all.filter((r) => r.modRevision % 1000 === 0));
    const dropped: number[] = [];
    history.compact(15_000, keep, (r) => dropped.push(r.modRevision));
    const expected = [...span(1000, 15_000).filter((rev) => rev % 1000 === 0), ...span(15_001, N + 1)];
    expect(revs(history.entries())).toEqual(expected);
    expect(history.size).toBe(expected.length);
    expect(dropped).toHaveLength(N - expected.length);
    expect(history.bytes).toBe((bytes / N) * expected.length);
    expect(revs(history.between(14_000, 15_002))).toEqual([14_000, 15_000, 15_001, 15_002]);
    history.append(record(N + 2));
    expect(revs(history.between(N, N + 5))).toEqual([N, N + 1, N + 2]);
  });
});
