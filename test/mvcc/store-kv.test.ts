import { describe, expect, it } from 'vitest';
import { EtcdError } from '../../src/etcd/errors.ts';
import { b, get, newStore, put, str, thrownMessage } from './helpers.ts';

describe('MvccStore: put, range, delete', () => {
  it('starts at revision 1; the first write makes revision 2', () => {
    const s = newStore();
    expect(s.revision).toBe(1);
    expect(s.compactRevision).toBe(-1);
    expect(s.range({ key: b('a') })).toEqual({
      header: { clusterId: 0n, memberId: 0n, revision: 1, raftTerm: 0 },
      kvs: [],
      more: false,
      count: 0,
    });
    expect(put(s, 'a', '1').response.header.revision).toBe(2);
    expect(s.revision).toBe(2);
  });

  it('tracks create revision, mod revision and version', () => {
    const s = newStore();
    put(s, 'foo', 'bar');
    put(s, 'other', 'x');
    put(s, 'foo', 'baz');
    const kv = get(s, 'foo')!;
    expect({ ...kv, key: str(kv.key), value: str(kv.value) }).toEqual({
      key: 'foo',
      value: 'baz',
      createRevision: 2,
      modRevision: 4,
      version: 2,
      lease: 0n,
    });
  });

  it('restarts version and create revision after a delete', () => {
    const s = newStore();
    put(s, 'k', '1');
    put(s, 'k', '2');
    const del = s.deleteRange({ key: b('k') });
    expect(del.response.deleted).toBe(1);
    expect(del.response.header.revision).toBe(4);
    expect(get(s, 'k')).toBeUndefined();
    put(s, 'k', '3');
    expect(get(s, 'k')).toMatchObject({ createRevision: 5, modRevision: 5, version: 1 });
  });

  it('reads history at a revision; the header carries the current revision', () => {
    const s = newStore();
    put(s, 'k', 'v1'); // 2
    put(s, 'k', 'v2'); // 3
    s.deleteRange({ key: b('k') }); // 4
    put(s, 'k', 'v3'); // 5
    const at = (rev: number) => s.range({ key: b('k'), revision: rev });
    expect(at(1).kvs).toEqual([]);
    expect(str(at(2).kvs[0].value)).toBe('v1');
    expect(at(3).kvs[0]).toMatchObject({ version: 2, modRevision: 3, createRevision: 2 });
    expect(at(4).kvs).toEqual([]);
    expect(str(at(5).kvs[0].value)).toBe('v3');
    expect(at(0).kvs[0].version).toBe(1);
    expect(at(-3).kvs[0].version).toBe(1);
    expect(at(2).header.revision).toBe(5);
    expect(thrownMessage(() => at(6))).toBe('etcdserver: mvcc: required revision is a future revision');
  });

  it('returns prev_kv on put and delete when asked', () => {
    const s = newStore();
    expect(put(s, 'k', 'a', { prevKv: true }).response.prevKv).toBeUndefined();
    const second = put(s, 'k', 'b', { prevKv: true }).response;
    expect(str(second.prevKv!.value)).toBe('a');
    expect(put(s, 'k', 'c').response.prevKv).toBeUndefined();
    put(s, 'k2', 'd');
    const del = s.deleteRange({ key: b('k'), rangeEnd: b('l'), prevKv: true }).response;
    expect(del.deleted).toBe(2);
    expect(del.prevKvs.map((kv) => str(kv.value))).toEqual(['c', 'd']);
    expect(s.deleteRange({ key: b('k') }).response.prevKvs).toEqual([]);
  });

  it('does not move the revision when a delete deletes nothing', () => {
    const s = newStore();
    put(s, 'a', '1');
    const res = s.deleteRange({ key: b('zzz'), prevKv: true });
    expect(res.response).toMatchObject({ deleted: 0, prevKvs: [], header: { revision: 2 } });
    expect(res.events).toEqual([]);
    expect(s.revision).toBe(2);
  });

  it('deletes a whole range in one revision', () => {
    const s = newStore();
    for (const k of ['a', 'b', 'c', 'd']) put(s, k, k);
    const res = s.deleteRange({ key: b('b'), rangeEnd: new Uint8Array([0]) });
    expect(res.response.deleted).toBe(3);
    expect(s.revision).toBe(6);
    expect(res.events.map((e) => [e.type, str(e.kv.key), e.kv.modRevision])).toEqual([
      ['DELETE', 'b', 6],
      ['DELETE', 'c', 6],
      ['DELETE', 'd', 6],
    ]);
  });

  it('ignore_value keeps the value and ignore_lease the lease, but still bump mod revision and version', () => {
    const s = newStore();
    put(s, 'k', 'v', { lease: 7n });
    s.put({ key: b('k'), ignoreValue: true, lease: 9n });
    expect(get(s, 'k')).toMatchObject({ value: b('v'), lease: 9n, version: 2, modRevision: 3 });
    s.put({ key: b('k'), value: b('w'), ignoreLease: true });
    expect(get(s, 'k')).toMatchObject({ value: b('w'), lease: 9n, version: 3, modRevision: 4 });
    s.put({ key: b('k'), ignoreValue: true, ignoreLease: true });
    expect(get(s, 'k')).toMatchObject({ value: b('w'), lease: 9n, version: 4 });
  });

  it('rejects what etcd rejects, changing nothing', () => {
    const s = newStore();
    put(s, 'k', 'v');
    const msg = (fn: () => unknown) => thrownMessage(fn);
    expect(msg(() => s.put({ key: b('missing'), ignoreValue: true }))).toBe('etcdserver: key not found');
    expect(msg(() => s.put({ key: b('missing'), value: b('x'), ignoreLease: true }))).toBe(
      'etcdserver: key not found',
    );
    expect(msg(() => s.put({ key: b('k'), value: b('x'), ignoreValue: true }))).toBe(
      'etcdserver: value is provided',
    );
    expect(msg(() => s.put({ key: b('k'), lease: 5n, ignoreLease: true }))).toBe(
      'etcdserver: lease is provided',
    );
    expect(msg(() => s.put({ key: new Uint8Array(0), value: b('x') }))).toBe(
      'etcdserver: key is not provided',
    );
    expect(msg(() => s.range({ key: new Uint8Array(0) }))).toBe('etcdserver: key is not provided');
    expect(msg(() => s.deleteRange({ key: new Uint8Array(0) }))).toBe('etcdserver: key is not provided');
    expect(s.revision).toBe(2);
    try {
      s.put({ key: b('missing'), ignoreValue: true });
    } catch (err) {
      expect(EtcdError.is(err, 'ErrKeyNotFound')).toBe(true);
      expect((err as EtcdError).code).toBe(3);
    }
  });

  it('checks leases through the leaseExists hook', () => {
    const s = newStore({ leaseExists: (id) => id === 1n });
    put(s, 'a', '1', { lease: 1n });
    expect(thrownMessage(() => put(s, 'b', '1', { lease: 2n }))).toBe(
      'etcdserver: requested lease not found',
    );
    expect(s.revision).toBe(2);
  });

  it('puts an empty value', () => {
    const s = newStore();
    put(s, 'k', '');
    expect(get(s, 'k')).toMatchObject({ value: new Uint8Array(0), version: 1 });
  });

  it('owns its bytes: changing the caller buffers later changes nothing', () => {
    const s = newStore();
    const key = b('k');
    const value = b('v');
    s.put({ key, value });
    key[0] = 0x7a;
    value[0] = 0x7a;
    expect(str(get(s, 'k')!.value)).toBe('v');
  });

  it('treats keys as bytes, not text', () => {
    const s = newStore();
    s.put({ key: Uint8Array.of(0xff, 0), value: b('hi') });
    s.put({ key: Uint8Array.of(0), value: b('zero') });
    const all = s.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) });
    expect(all.kvs.map((kv) => [...kv.key])).toEqual([[0], [0xff, 0]]);
  });
});
