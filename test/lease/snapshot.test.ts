import { encode } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { EtcdError } from '../../src/etcd/errors.ts';
import { Lessor, MAX_LEASE_TTL, MinHeap } from '../../src/lease/index.ts';

function build(order: bigint[], leader: boolean): Lessor {
  const l = new Lessor();
  if (leader) l.promote(0, 1_000);
  for (const id of order) l.applyGrant(id, Number((id < 0n ? -id : id) % 1000n) + 1, order.indexOf(id) * 7);
  l.applyCheckpoint(5n, 3);
  if (l.has(9n)) l.applyRevoke(9n);
  return l;
}

describe('snapshot', () => {
  it('is byte-identical for identical replicated state, whatever the apply order or leadership', () => {
    const a = build([1n, 5n, 9n, -3n, 2n ** 62n], true);
    const b = build([2n ** 62n, 9n, -3n, 5n, 1n], false);
    a.renew(1n, 10); // leader-local only
    a.dueCheckpoints(1e9, 1); // leader-local: not applied, so not replicated
    expect(a.snapshot()).toEqual(b.snapshot());
    b.applyCheckpoint(1n, 1);
    expect(a.snapshot()).not.toEqual(b.snapshot());
  });

  it('round-trips through restore, byte for byte, including big TTLs and negative IDs', () => {
    const a = build([1n, 5n, 9n, -3n, 2n ** 62n], false);
    a.applyGrant(-(2n ** 63n), MAX_LEASE_TTL, 0);
    a.applyCheckpoint(-(2n ** 63n), MAX_LEASE_TTL - 1);
    const bytes = a.snapshot();
    const b = Lessor.fromSnapshot(bytes);
    expect(b.leases()).toEqual(a.leases());
    expect(b.snapshot()).toEqual(bytes);
    expect(b.get(-(2n ** 63n))).toEqual({
      id: -(2n ** 63n),
      ttl: MAX_LEASE_TTL,
      remainingTtl: MAX_LEASE_TTL - 1,
    });
  });

  it('restore replaces the state and drops leadership', () => {
    const a = build([1n, 5n], false);
    const b = new Lessor();
    b.promote(0, 0);
    b.applyGrant(77n, 10, 0);
    b.restore(a.snapshot());
    expect(b.isLeader).toBe(false);
    expect(b.has(77n)).toBe(false);
    expect(b.leases()).toEqual(a.leases());
    expect(b.expired(1e12)).toEqual([]);
    b.promote(0, 0);
    expect(b.expired(1e12)).toEqual([1n, 5n]);
  });

  it('an empty lessor snapshots and restores', () => {
    const bytes = new Lessor().snapshot();
    expect(Lessor.fromSnapshot(bytes).count).toBe(0);
  });

  it('rejects corrupt snapshots with DataLoss', () => {
    const bad = [
      new Uint8Array([0xc1]),
      encode([2, []]),
      encode([1, [[1, 10]]]),
      encode([1, [[0, 10, 0]]]),
      encode([1, [[1, 0, 0]]]),
      encode([
        1,
        [
          [2, 10, 0],
          [1, 10, 0],
        ],
      ]),
      encode([1, [[1, 10, -1]]]),
      encode([1, [[1, 1.5, 0]]]),
    ];
    for (const bytes of bad) {
      let err: unknown;
      try {
        Lessor.fromSnapshot(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(EtcdError);
      expect((err as EtcdError).codeName).toBe('DataLoss');
    }
  });
});

describe('MinHeap', () => {
  it('pops in (time, insertion) order and retains by predicate', () => {
    const h = new MinHeap<string>();
    const input: [number, string][] = [
      [5, 'a'],
      [1, 'b'],
      [5, 'c'],
      [3, 'd'],
      [1, 'e'],
      [9, 'f'],
    ];
    for (const [at, s] of input) h.push(at, s, 0);
    h.retain((e) => e.item !== 'd');
    const out: string[] = [];
    for (let e = h.pop(); e !== undefined; e = h.pop()) out.push(e.item);
    expect(out).toEqual(['b', 'e', 'a', 'c', 'f']);
    expect(h.size).toBe(0);
  });
});
