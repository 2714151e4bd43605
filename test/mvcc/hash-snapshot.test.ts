import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { encodeKeyValue, revisionBytes } from '../../src/mvcc/hash.ts';
import { crc32c, MvccStore } from '../../src/mvcc/index.ts';
import { decodeSnapshotRecords } from '../../src/mvcc/snapshot.ts';
import { b, get, newStore, put, thrownMessage } from './helpers.ts';

function apply(s: MvccStore, variant = 0): MvccStore {
  put(s, 'a', '1', { lease: 7n });
  put(s, 'b', '2');
  s.txn({
    success: [{ requestPut: { key: b('c'), value: b('3') } }, { requestDeleteRange: { key: b('a') } }],
  });
  put(s, 'b', variant === 0 ? '4' : '5');
  put(s, 'd', '6', { lease: 9n });
  return s;
}

describe('hashKV', () => {
  it('is CRC-32C', () => {
    expect(crc32c(b('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
  });

  it('encodes records as etcd stores them', () => {
    expect([...revisionBytes(2, 1, false)]).toEqual([0, 0, 0, 0, 0, 0, 0, 2, 0x5f, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(revisionBytes(2, 1, true)[17]).toBe(0x74);
    const kv = { key: b('a'), createRevision: 2, modRevision: 300, version: 1, value: b('v'), lease: 0n };
    expect([...encodeKeyValue(kv)]).toEqual([
      0x0a, 1, 0x61, 0x10, 2, 0x18, 0xac, 0x02, 0x20, 1, 0x2a, 1, 0x76,
    ]);
    expect(encodeKeyValue({ ...kv, lease: -1n }).length).toBe(13 + 11);
  });

  it('is equal for stores that applied the same ops, different after one op differs', () => {
    const one = apply(newStore());
    const two = apply(newStore());
    const other = apply(newStore(), 1);
    expect(one.hashKV().hash).toBe(two.hashKV().hash);
    expect(one.hashKV().hash).not.toBe(other.hashKV().hash);
    // Up to a revision before the difference they agree.
    expect(one.hashKV(4).hash).toBe(other.hashKV(4).hash);
    expect(one.hashKV(5).hash).not.toBe(other.hashKV(5).hash);
    expect(one.hashKV()).toMatchObject({ header: { revision: 6 }, compactRevision: -1 });
  });

  it('covers compaction: equal for stores compacted alike, and it skips what compaction dropped', () => {
    const s = apply(newStore());
    const t = apply(newStore());
    const before = s.hashKV().hash;
    s.compact(4);
    t.compact(4);
    expect(s.hashKV().hash).toBe(t.hashKV().hash);
    expect(s.hashKV(5).hash).toBe(t.hashKV(5).hash);
    expect(s.hashKV().hash).not.toBe(before);
    expect(s.hashKV()).toMatchObject({ compactRevision: 4, header: { revision: 6 } });
    expect(thrownMessage(() => s.hashKV(4))).toBe('etcdserver: mvcc: required revision has been compacted');
    expect(thrownMessage(() => s.hashKV(7))).toBe('etcdserver: mvcc: required revision is a future revision');
    // Records a compaction at the hashed revision would drop do not count, so a member that compacted
    // further (to 5) hashes revision 6 the same.
    const at6 = s.hashKV(6).hash;
    t.compact(5);
    expect(t.hashKV(6).hash).toBe(at6);
  });

  it('differs between revisions of the same store', () => {
    const s = apply(newStore());
    expect(s.hashKV(2).hash).not.toBe(s.hashKV(3).hash);
  });
});

describe('snapshot', () => {
  it('round-trips to identical bytes and hash', () => {
    const s = apply(newStore());
    const bytes = s.snapshot();
    const restored = MvccStore.restore(bytes);
    expect(restored.snapshot()).toEqual(bytes);
    expect(restored.hashKV()).toEqual(s.hashKV());
    expect(restored.revision).toBe(s.revision);
    expect(restored.compactRevision).toBe(-1);
    expect(restored.range({ key: b('b'), revision: 3 })).toEqual(s.range({ key: b('b'), revision: 3 }));
  });

  it('gives the same bytes for the same state, and different bytes for different states', () => {
    expect(apply(newStore()).snapshot()).toEqual(apply(newStore()).snapshot());
    expect(apply(newStore()).snapshot()).not.toEqual(apply(newStore(), 1).snapshot());
  });

  it('keeps compaction, lease attachments and behaves like the original afterwards', () => {
    const s = apply(newStore());
    s.compact(4);
    const r = MvccStore.restore(s.snapshot());
    expect(r.compactRevision).toBe(4);
    expect(r.hashKV()).toEqual(s.hashKV());
    expect(r.stats).toEqual(s.stats);
    expect(r.keysForLease(9n).map((k) => [...k])).toEqual([[...b('d')]]);
    expect(r.keysForLease(7n)).toEqual([]);
    expect(r.leases()).toEqual([9n]);
    expect(thrownMessage(() => r.range({ key: b('b'), revision: 3 }))).toBe(
      'etcdserver: mvcc: required revision has been compacted',
    );
    for (const store of [s, r]) {
      put(store, 'b', 'again');
      store.deleteRange({ key: b('c') });
      put(store, 'c', 'back');
      store.compact(7);
    }
    expect(r.snapshot()).toEqual(s.snapshot());
    expect(r.hashKV()).toEqual(s.hashKV());
    expect(get(r, 'c')).toEqual(get(s, 'c'));
    expect(get(r, 'b')).toMatchObject({ version: 3, createRevision: 3 });
  });

  it('round-trips large revisions and lease IDs above 2^53', () => {
    const s = newStore();
    const lease = 0x7fff_ffff_ffff_fff0n;
    for (let i = 0; i < 300; i++) put(s, `k${i % 7}`, `v${i}`, { lease });
    const r = MvccStore.restore(s.snapshot());
    expect(get(r, 'k3')!.lease).toBe(lease);
    expect(r.hashKV()).toEqual(s.hashKV());
    expect(r.keysForLease(lease)).toHaveLength(7);
  });

  it('rejects bytes that are not a snapshot', () => {
    expect(() => MvccStore.restore(Uint8Array.of(0x93, 1, 2, 3))).toThrow(/corrupt snapshot/);
    expect(() => MvccStore.restore(Uint8Array.of(0xc0))).toThrow(/corrupt snapshot/);
  });

  it('a captured snapshot written in steps, with writes and compactions between them, is the one of its moment', () => {
    const s = newStore();
    for (let i = 0; i < 200; i++) put(s, `k${i % 23}`, `v${i}`, { lease: BigInt(i % 3) });
    s.deleteRange({ key: b('k3') });
    s.compact(50);
    const expected = s.snapshot();
    const captured = s.captureSnapshot();
    expect(captured.size).toBe(expected.length);
    const out = new Uint8Array(captured.size + 10).fill(0xee);
    const writer = captured.writer(out, 7);
    let steps = 0;
    while (!writer.step(9)) {
      steps++;
      put(s, `k${steps % 5}`, `later${steps}`);
      if (steps % 4 === 0) s.deleteRange({ key: b(`k${steps % 11}`) });
      if (steps === 10) s.compact(s.revision - 3);
    }
    expect(steps).toBeGreaterThan(10);
    expect(out.subarray(7, 7 + captured.size)).toEqual(expected);
    expect([...out.subarray(0, 7), ...out.subarray(7 + captured.size)]).toEqual(new Array(10).fill(0xee));
    expect(s.snapshot()).not.toEqual(expected);
  });

  it('reads format 1 (msgpack arrays, written by earlier versions) into the same state', () => {
    const s = apply(newStore());
    s.compact(4);
    const { currentRev, compactRev, records } = decodeSnapshotRecords(s.snapshot());
    const tuples = records.map((r) => [
      r.main,
      r.sub,
      r.kv.key,
      r.kv.value,
      r.kv.createRevision,
      r.kv.version,
      r.kv.lease,
      r.tombstone,
    ]);
    const legacy = encode([1, currentRev, compactRev, tuples], { useBigInt64: true });
    const r = MvccStore.restore(legacy);
    expect(r.snapshot()).toEqual(s.snapshot());
    expect(r.hashKV()).toEqual(s.hashKV());
    expect(r.compactRevision).toBe(4);
  });

  it('refuses a damaged format 2 snapshot with its own error: cut anywhere, counts and lengths past the end', () => {
    const s = apply(newStore());
    const bytes = s.snapshot();
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => MvccStore.restore(bytes.subarray(0, cut)), `cut at ${cut}`).toThrow(/corrupt snapshot/);
    }
    const trailing = new Uint8Array(bytes.length + 1);
    trailing.set(bytes);
    expect(() => MvccStore.restore(trailing)).toThrow(/trailing bytes/);
    const huge = bytes.slice();
    new DataView(huge.buffer).setFloat64(20, 2 ** 40, true); // the record count
    expect(() => MvccStore.restore(huge)).toThrow(/record count past the end/);
    const longKey = bytes.slice();
    new DataView(longKey.buffer).setUint32(28 + 13, 0xffffffff, true); // the first record's key length
    expect(() => MvccStore.restore(longKey)).toThrow(/record past the end/);
  });
});
