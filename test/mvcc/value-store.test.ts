// The store's values through a spill (src/mvcc/value-store.ts): segments leave memory past the budget and come
// back when read, compaction moves survivors out of sparse segments and reuses their spill places, a captured
// snapshot still reads the values of its moment, and everything reads the same as a store that keeps its values
// in memory.

import { describe, expect, it } from 'vitest';
import { MvccStore, prefixRangeEnd } from '../../src/mvcc/index.ts';
import { MemorySpill } from '../../src/mvcc/memory-spill.ts';
import { ValueStore } from '../../src/mvcc/value-store.ts';
import { b } from './helpers.ts';

const value = (i: number, round = 0) => b(`value ${i} of round ${round} `.repeat(1 + ((i * 7 + round) % 5)));
const all = { key: b('k/'), rangeEnd: prefixRangeEnd(b('k/')) };

function spilling(spill = new MemorySpill(), residentBytes = 4096) {
  return new MvccStore({ values: { spill, residentBytes, segmentBytes: 2048 } });
}

/** Everything a client can read of the store, as one comparable value. */
function visible(store: MvccStore) {
  const history = store.eventsSince({ ...all, fromRevision: Math.max(1, store.compactRevision) });
  return { range: store.range(all), history, hash: store.hashKV(), snapshot: store.snapshot() };
}

describe('values through a spill', () => {
  it('keeps only its budget in memory, reads every value back, and reads as a store without a spill', () => {
    const spill = new MemorySpill();
    const store = spilling(spill);
    const plain = new MvccStore();
    for (let i = 0; i < 300; i++)
      for (const s of [store, plain]) s.put({ key: b(`k/${i % 120}`), value: value(i), prevKv: true });
    expect(spill.writes).toBeGreaterThan(3);
    expect(visible(store)).toEqual(visible(plain));
    expect(spill.reads).toBeGreaterThan(3);
    // A value read now stays right after its segment left memory again.
    const held = store.range({ key: b('k/0') }).kvs[0].value;
    const copy = held.slice();
    for (let i = 0; i < 200; i++) store.put({ key: b(`x/${i}`), value: value(i, 9) });
    expect(held).toEqual(copy);
  });

  it('compacts: survivors leave sparse segments, whose places are reused, and nothing reads differently', () => {
    const spill = new MemorySpill();
    const store = spilling(spill);
    const plain = new MvccStore();
    const both = (f: (s: MvccStore) => void) => {
      f(store);
      f(plain);
    };
    let spillAfterFirst = 0;
    for (let round = 0; round < 6; round++) {
      // Every fifth key is written once only: its value is all that is left of the segments of round 0.
      for (let i = 0; i < 150; i++)
        if (round === 0 || i % 5 !== 0) both((s) => s.put({ key: b(`k/${i}`), value: value(i, round) }));
      for (let i = 1; i < 150; i += 7) both((s) => s.deleteRange({ key: b(`k/${i}`) }));
      both((s) => s.compact(s.revision));
      expect(visible(store)).toEqual(visible(plain));
      if (round === 1) spillAfterFirst = store.valueStats.spillBytes;
    }
    // Six rounds of the same keyspace take no more spill than two did, within a few segments: places are reused.
    expect(store.valueStats.spillBytes).toBeLessThanOrEqual(spillAfterFirst + 8 * 2048);
  });

  it('moves the few survivors out of segments that compaction left mostly empty', () => {
    const store = spilling();
    const big = (i: number) => new Uint8Array(100).fill(i);
    for (let i = 0; i < 200; i++) store.put({ key: b(`k/${i}`), value: big(i) });
    for (let i = 0; i < 200; i++) if (i % 5 !== 0) store.deleteRange({ key: b(`k/${i}`) });
    store.compact(store.revision);
    const kvs = store.range(all).kvs;
    expect(kvs.map((kv) => kv.value)).toEqual(Array.from({ length: 40 }, (_, j) => big(j * 5)).sort(byKey));
    const { residentBytes, spillUsedBytes } = store.valueStats;
    // 40 values of 100 bytes live: without the move, the 40 segments they were written into would stay.
    expect(residentBytes + spillUsedBytes).toBeLessThan(2 * 4000 + 2 * 2048);
  });

  it('writes a captured snapshot with the values of its moment while compaction frees and reuses places', () => {
    const store = spilling();
    for (let i = 0; i < 200; i++) store.put({ key: b(`k/${i}`), value: value(i) });
    const expected = store.snapshot();
    const captured = store.captureSnapshot();
    const chunks = captured.chunks();
    const out = new Uint8Array(captured.size);
    let at = chunks.fill(out.subarray(0, 1000));
    // Meanwhile: every key rewritten, the old values compacted away, their places taken by new ones.
    for (let round = 1; round < 4; round++) {
      for (let i = 0; i < 200; i++) store.put({ key: b(`k/${i}`), value: value(i, round) });
      store.compact(store.revision);
    }
    for (let n = 1; n > 0; at += n) n = chunks.fill(out.subarray(at, at + 777));
    expect(out).toEqual(expected);
    // Once it is written, places are reused again.
    const before = store.valueStats.spillBytes;
    for (let round = 4; round < 8; round++) {
      for (let i = 0; i < 200; i++) store.put({ key: b(`k/${i}`), value: value(i, round) });
      store.compact(store.revision);
    }
    expect(store.valueStats.spillBytes).toBeLessThanOrEqual(before + 8 * 2048);
  });

  it('restores a snapshot into the spill, copying its keys and values rather than keeping the snapshot buffer', () => {
    const plain = new MvccStore();
    for (let i = 0; i < 300; i++) plain.put({ key: b(`k/${i}`), value: value(i) });
    const bytes = plain.snapshot();
    const spill = new MemorySpill();
    const restored = MvccStore.restore(bytes, { values: { spill, residentBytes: 4096, segmentBytes: 2048 } });
    expect(spill.writes).toBeGreaterThan(3);
    const kvs = restored.range(all).kvs;
    for (const kv of kvs) expect([kv.key.buffer, kv.value.buffer]).not.toContain(bytes.buffer);
    expect(visible(restored)).toEqual(visible(MvccStore.restore(bytes)));
  });

  it('keeps large values in segments of their own, spilled and read back like the others', () => {
    const store = spilling();
    const plain = new MvccStore();
    const big = (i: number) => new Uint8Array(3000 + i).fill(i);
    for (let i = 0; i < 20; i++) for (const s of [store, plain]) s.put({ key: b(`k/${i}`), value: big(i) });
    for (const s of [store, plain]) s.compact(s.revision);
    expect(visible(store)).toEqual(visible(plain));
  });
});

describe('ValueStore', () => {
  const holders = (n: number) =>
    Array.from({ length: n }, () => ({
      valueSegment: undefined as never,
      valueOffset: 0,
      valueLength: 0,
      placeValue(s: never, o: number, l: number) {
        this.valueSegment = s;
        this.valueOffset = o;
        this.valueLength = l;
      },
    }));
  const read = (h: ReturnType<typeof holders>[number]) =>
    (h.valueSegment as { read(offset: number, length: number): Uint8Array }).read(
      h.valueOffset,
      h.valueLength,
    );

  it('never spills the segment being filled and counts what is in memory', () => {
    const spill = new MemorySpill();
    const values = new ValueStore({ spill, residentBytes: 1024, segmentBytes: 256 });
    const held = holders(64);
    for (const [i, h] of held.entries()) values.keep(new Uint8Array(100).fill(i), h);
    expect(values.stats().residentBytes).toBeLessThanOrEqual(1024);
    expect(values.stats().spillBytes).toBeGreaterThan(0);
    for (const [i, h] of held.entries()) expect(read(h)).toEqual(new Uint8Array(100).fill(i));
  });

  it('reads a lone value of a spilled segment alone, and brings the segment back at a second value in a row', () => {
    const spill = new MemorySpill();
    const values = new ValueStore({ spill, residentBytes: 512, segmentBytes: 256 });
    const held = holders(40);
    for (const [i, h] of held.entries()) values.keep(new Uint8Array(100).fill(i), h);
    // Values 0 and 1 share the first segment, long spilled; 2 and 3 the second.
    const resident = values.stats().residentBytes;
    const readBytes = () => spill.readBytes;
    let before = readBytes();
    expect(read(held[0])).toEqual(new Uint8Array(100).fill(0));
    expect(readBytes() - before).toBe(100);
    expect(values.stats().residentBytes).toBe(resident);
    expect(read(held[2])).toEqual(new Uint8Array(100).fill(2));
    before = readBytes();
    expect(read(held[3])).toEqual(new Uint8Array(100).fill(3));
    expect(readBytes() - before).toBe(200);
    // Back in memory: its other value needs no read; the view handed out stays right after it leaves again.
    const view = read(held[2]);
    expect(readBytes() - before).toBe(200);
    for (let i = 0; i < 10; i++) {
      read(held[20 + 2 * i]);
      read(held[21 + 2 * i]);
    }
    expect(view).toEqual(new Uint8Array(100).fill(2));
    expect(values.stats().residentBytes).toBeLessThanOrEqual(512);
  });
});

/** The order of the keys k/0, k/5, … as the range returns them (byte order of their names). */
function byKey(a: Uint8Array, c: Uint8Array): number {
  const name = (v: Uint8Array) => `k/${v[0]}`;
  return name(a) < name(c) ? -1 : name(a) > name(c) ? 1 : 0;
}

describe('a spill that fails to write', () => {
  it('keeps values in memory from then on, and reads as a store without a spill', () => {
    const spill = new MemorySpill();
    let fail = false;
    const failing = {
      write: (position: number, bytes: Uint8Array) => {
        if (fail) throw new Error('ENOSPC');
        spill.write(position, bytes);
      },
      read: (position: number, into: Uint8Array) => spill.read(position, into),
    };
    const store = new MvccStore({ values: { spill: failing, residentBytes: 4096, segmentBytes: 2048 } });
    const plain = new MvccStore();
    for (let i = 0; i < 300; i++) {
      if (i === 150) fail = true;
      for (const s of [store, plain]) s.put({ key: b(`k/${i % 200}`), value: value(i) });
    }
    expect(store.valueStats.residentBytes).toBeGreaterThan(4096);
    expect(visible(store)).toEqual(visible(plain));
  });
});
