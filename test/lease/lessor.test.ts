import { describe, expect, it } from 'vitest';
import { EtcdError } from '../../src/etcd/errors.ts';
import { Lessor, MAX_LEASE_TTL, minLeaseTtl } from '../../src/lease/index.ts';

function etcdError(fn: () => unknown): EtcdError {
  try {
    fn();
  } catch (err) {
    if (err instanceof EtcdError) return err;
    throw err;
  }
  throw new Error('expected an EtcdError');
}

const enc = (s: string) => new TextEncoder().encode(s);

describe('grant', () => {
  it('stores the lease with its TTL and no checkpoint', () => {
    const l = new Lessor();
    expect(l.applyGrant(5n, 60, 0)).toEqual({ id: 5n, ttl: 60, remainingTtl: 0 });
    expect(l.get(5n)).toEqual({ id: 5n, ttl: 60, remainingTtl: 0 });
    expect(l.has(5n)).toBe(true);
    expect(l.count).toBe(1);
  });

  it('raises a TTL below the minimum to it (default 2 s), including 0 and negative', () => {
    const l = new Lessor();
    expect(l.minTtl).toBe(2);
    expect(l.applyGrant(1n, 1, 0).ttl).toBe(2);
    expect(l.applyGrant(2n, 0, 0).ttl).toBe(2);
    expect(l.applyGrant(3n, -5, 0).ttl).toBe(2);
    expect(l.applyGrant(4n, 3, 0).ttl).toBe(3);
    const m = new Lessor({ minTtl: 7 });
    expect(m.applyGrant(1n, 5, 0).ttl).toBe(7);
  });

  it('computes the minimum TTL as etcd does', () => {
    expect(minLeaseTtl(10, 100)).toBe(2); // 1.5 s → 2
    expect(minLeaseTtl(20, 100)).toBe(3);
    expect(minLeaseTtl(5, 100)).toBe(1); // (15/2 = 7) × 100 ms → 1
    expect(minLeaseTtl(10, 300)).toBe(5); // 4.5 s → 5
  });

  it('rejects a TTL above the maximum', () => {
    const l = new Lessor();
    const err = etcdError(() => l.applyGrant(1n, MAX_LEASE_TTL + 1, 0));
    expect(err.message).toBe('etcdserver: too large lease TTL');
    expect(err.code).toBe(11);
    expect(l.applyGrant(2n, MAX_LEASE_TTL, 0).ttl).toBe(MAX_LEASE_TTL);
    expect(l.count).toBe(1);
  });

  it('rejects a duplicate ID and ID 0', () => {
    const l = new Lessor();
    l.applyGrant(9n, 10, 0);
    const dup = etcdError(() => l.applyGrant(9n, 20, 0));
    expect(dup.message).toBe('etcdserver: lease already exists');
    expect(dup.code).toBe(9);
    expect(l.get(9n)?.ttl).toBe(10);
    expect(etcdError(() => l.applyGrant(0n, 10, 0)).message).toBe('etcdserver: requested lease not found');
  });

  it('checks in etcd order: ID 0, then TTL, then duplicate', () => {
    const l = new Lessor();
    l.applyGrant(9n, 10, 0);
    expect(etcdError(() => l.applyGrant(0n, MAX_LEASE_TTL + 1, 0)).errorName).toBe('ErrLeaseNotFound');
    expect(etcdError(() => l.applyGrant(9n, MAX_LEASE_TTL + 1, 0)).errorName).toBe('ErrLeaseTTLTooLarge');
  });

  it('accepts int64 IDs, including negative ones, and refuses others', () => {
    const l = new Lessor();
    l.applyGrant(2n ** 63n - 1n, 10, 0);
    l.applyGrant(-(2n ** 63n), 10, 0);
    expect(() => l.applyGrant(2n ** 63n, 10, 0)).toThrow(RangeError);
    expect(() => l.applyGrant(3n, 1.5, 0)).toThrow(RangeError);
    expect(l.leases().map((x) => x.id)).toEqual([-(2n ** 63n), 2n ** 63n - 1n]);
  });
});

describe('revoke', () => {
  it('returns the attached keys and forgets the lease', () => {
    const attached = new Map<bigint, Uint8Array[]>([[3n, [enc('a'), enc('b')]]]);
    const l = new Lessor({ keysForLease: (id) => attached.get(id) ?? [] });
    l.applyGrant(3n, 10, 0);
    l.applyGrant(4n, 10, 0);
    expect(l.applyRevoke(3n)).toEqual([enc('a'), enc('b')]);
    expect(l.applyRevoke(4n)).toEqual([]);
    expect(l.count).toBe(0);
    expect(l.get(3n)).toBeUndefined();
  });

  it('returns no keys without keysForLease', () => {
    const l = new Lessor();
    l.applyGrant(3n, 10, 0);
    expect(l.applyRevoke(3n)).toEqual([]);
  });

  it('fails for an unknown lease', () => {
    const l = new Lessor();
    const err = etcdError(() => l.applyRevoke(3n));
    expect(err.message).toBe('etcdserver: requested lease not found');
    expect(err.code).toBe(5);
    l.applyGrant(3n, 10, 0);
    l.applyRevoke(3n);
    expect(etcdError(() => l.applyRevoke(3n)).errorName).toBe('ErrLeaseNotFound');
  });

  it('lets the ID be granted again', () => {
    const l = new Lessor();
    l.applyGrant(3n, 10, 0);
    l.applyRevoke(3n);
    expect(l.applyGrant(3n, 20, 0).ttl).toBe(20);
  });
});

describe('checkpoint and renew (replicated)', () => {
  it('applyCheckpoint records the remaining TTL; unknown leases are ignored', () => {
    const l = new Lessor();
    l.applyGrant(1n, 60, 0);
    expect(l.applyCheckpoint(1n, 42)).toBe(true);
    expect(l.get(1n)?.remainingTtl).toBe(42);
    expect(l.applyCheckpoint(2n, 42)).toBe(false);
    expect(() => l.applyCheckpoint(1n, -1)).toThrow(RangeError);
    expect(() => l.applyCheckpoint(1n, 0.5)).toThrow(RangeError);
  });

  it('applyRenew clears the checkpoint and returns the TTL', () => {
    const l = new Lessor();
    l.applyGrant(1n, 60, 0);
    l.applyCheckpoint(1n, 42);
    expect(l.applyRenew(1n, 0)).toBe(60);
    expect(l.get(1n)?.remainingTtl).toBe(0);
  });

  it('applyRenew fails for an unknown lease', () => {
    const l = new Lessor();
    expect(etcdError(() => l.applyRenew(1n, 0)).errorName).toBe('ErrLeaseNotFound');
  });
});

describe('queries', () => {
  it('leases() is ascending by ID regardless of grant order', () => {
    const l = new Lessor();
    for (const id of [30n, -4n, 7n, 1n]) l.applyGrant(id, 10, 0);
    expect(l.leases().map((x) => x.id)).toEqual([-4n, 1n, 7n, 30n]);
  });

  it('renew on a non-leader says notLeader; unknown lease says notFound', () => {
    const l = new Lessor();
    l.applyGrant(1n, 10, 0);
    expect(l.renew(1n, 0)).toEqual({ status: 'notLeader' });
    l.promote(0, 0);
    expect(l.renew(2n, 0)).toEqual({ status: 'notFound' });
    expect(l.renew(1n, 0)).toEqual({ status: 'renewed', ttl: 10 });
  });

  it('timeToLive on a non-leader estimates from the checkpoint or the granted TTL', () => {
    const l = new Lessor();
    l.applyGrant(1n, 60, 0);
    expect(l.timeToLive(1n, 123_456)).toEqual({ id: 1n, ttl: 60, grantedTtl: 60, estimated: true });
    l.applyCheckpoint(1n, 17);
    expect(l.timeToLive(1n, 0)).toEqual({ id: 1n, ttl: 17, grantedTtl: 60, estimated: true });
    expect(l.timeToLive(2n, 0)).toBeUndefined();
  });

  it('timeToLive on the leader counts down from the deadline (truncated), -1 once it passed', () => {
    const l = new Lessor();
    l.promote(0, 0);
    l.applyGrant(1n, 60, 1_000);
    expect(l.timeToLive(1n, 1_000)).toEqual({ id: 1n, ttl: 60, grantedTtl: 60, estimated: false });
    expect(l.timeToLive(1n, 1_001)?.ttl).toBe(59); // etcd shows 59 right after granting 60
    expect(l.timeToLive(1n, 60_500)?.ttl).toBe(0);
    expect(l.timeToLive(1n, 61_000)?.ttl).toBe(-1);
    expect(l.deadline(1n)).toBe(61_000);
  });

  it('apply with a different `now` on followers gives the same replicated state', () => {
    const a = new Lessor();
    const b = new Lessor();
    a.promote(0, 1000);
    for (const [l, now] of [
      [a, 5],
      [b, 999_999],
    ] as const) {
      l.applyGrant(1n, 30, now);
      l.applyCheckpoint(1n, 12);
      l.applyRenew(1n, now + 1);
      l.applyGrant(2n, 1, now);
    }
    expect(a.leases()).toEqual(b.leases());
    expect(a.snapshot()).toEqual(b.snapshot());
  });
});
