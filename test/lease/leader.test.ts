import { describe, expect, it } from 'vitest';
import { Lessor } from '../../src/lease/index.ts';

function leaderWith(leases: [bigint, number][], now = 0, extend = 0): Lessor {
  const l = new Lessor();
  for (const [id, ttl] of leases) l.applyGrant(id, ttl, now);
  l.promote(now, extend);
  return l;
}

describe('expiry', () => {
  it('names leases whose deadline passed, oldest deadline first', () => {
    const l = new Lessor();
    l.promote(0, 0);
    l.applyGrant(1n, 10, 0); // 10_000
    l.applyGrant(2n, 5, 1_000); // 6_000
    l.applyGrant(3n, 3, 4_000); // 7_000
    l.applyGrant(4n, 20, 0); // 20_000
    expect(l.expired(5_999)).toEqual([]);
    expect(l.expired(6_000)).toEqual([2n]);
    // 2 was named at 6_000 and not revoked: it is due again at 9_000 (retry interval 3 s), between 3 and 1.
    expect(l.expired(12_000)).toEqual([3n, 2n, 1n]);
    l.applyRevoke(1n);
    l.applyRevoke(2n);
    l.applyRevoke(3n);
    expect(l.expired(19_999)).toEqual([]);
    expect(l.expired(20_000)).toEqual([4n]);
  });

  it('respects the limit and keeps the rest for the next call', () => {
    const l = leaderWith([
      [1n, 2],
      [2n, 3],
      [3n, 4],
      [4n, 5],
    ]);
    expect(l.expired(10_000, 3)).toEqual([1n, 2n, 3n]);
    expect(l.expired(10_000, 3)).toEqual([4n]);
  });

  it('does not name a lease again within the retry interval, but does after it', () => {
    const l = new Lessor({ expiredRetryMs: 3_000 });
    l.promote(0, 0);
    l.applyGrant(1n, 2, 0);
    l.applyGrant(2n, 4, 0);
    expect(l.expired(2_000)).toEqual([1n]);
    expect(l.expired(2_100)).toEqual([]);
    expect(l.expired(4_000)).toEqual([2n]);
    expect(l.expired(4_999)).toEqual([]);
    expect(l.expired(5_000)).toEqual([1n]); // revoke for 1 was lost: named again
    expect(l.expired(7_000)).toEqual([2n]);
    l.applyRevoke(1n);
    expect(l.expired(100_000)).toEqual([2n]);
    expect(l.expired(100_000)).toEqual([]);
  });

  it('a keep-alive moves the deadline; an expired lease cannot be renewed', () => {
    const l = leaderWith([[1n, 10]]);
    expect(l.renew(1n, 8_000)).toEqual({ status: 'renewed', ttl: 10 });
    expect(l.expired(17_999)).toEqual([]);
    expect(l.expired(18_000)).toEqual([1n]);
    expect(l.renew(1n, 18_000)).toEqual({ status: 'expired' });
    expect(l.timeToLive(1n, 18_000)?.ttl).toBe(-1);
  });

  it('nothing expires on a non-leader, and demote forgets deadlines', () => {
    const l = new Lessor();
    l.applyGrant(1n, 2, 0);
    expect(l.expired(1e12)).toEqual([]);
    l.promote(0, 0);
    expect(l.deadline(1n)).toBe(2_000);
    l.demote();
    expect(l.isLeader).toBe(false);
    expect(l.deadline(1n)).toBeUndefined();
    expect(l.expired(1e12)).toEqual([]);
    expect(l.dueCheckpoints(1e12)).toEqual([]);
  });

  it('applyRevoke removes a lease from the expiry queue', () => {
    const l = leaderWith([
      [1n, 2],
      [2n, 2],
    ]);
    l.applyRevoke(1n);
    expect(l.expired(10_000)).toEqual([2n]);
  });
});

describe('promote', () => {
  it('uses the full TTL without a checkpoint, the checkpoint otherwise, plus the extension', () => {
    const l = new Lessor();
    l.applyGrant(1n, 60, 0);
    l.applyGrant(2n, 60, 0);
    l.applyCheckpoint(2n, 12);
    l.promote(100_000, 1_000);
    expect(l.deadline(1n)).toBe(100_000 + 60_000 + 1_000);
    expect(l.deadline(2n)).toBe(100_000 + 12_000 + 1_000);
    expect(l.expired(113_000)).toEqual([2n]);
  });

  it('applyCheckpoint on the leader does not move the deadline', () => {
    const l = leaderWith([[1n, 60]]);
    l.applyCheckpoint(1n, 5);
    expect(l.deadline(1n)).toBe(60_000);
  });

  it('a keep-alive after a checkpoint asks for a reset; after applyRenew promote uses the full TTL', () => {
    const members = [new Lessor(), new Lessor()];
    for (const m of members) m.applyGrant(1n, 30, 0);
    const [a, b] = members;
    a.promote(0, 1_000);
    for (const m of members) m.applyCheckpoint(1n, 20);
    expect(a.renew(1n, 12_000)).toEqual({ status: 'checkpointReset', ttl: 30 });
    expect(a.deadline(1n)).toBe(42_000); // renewed locally at once
    // Before the reset commits, a new leader would still use the checkpoint.
    b.promote(13_000, 1_000);
    expect(b.deadline(1n)).toBe(34_000);
    b.demote();
    for (const m of members) m.applyRenew(1n, 12_500);
    expect(a.deadline(1n)).toBe(42_500);
    expect(a.renew(1n, 15_000)).toEqual({ status: 'renewed', ttl: 30 });
    b.promote(16_000, 1_000);
    expect(b.deadline(1n)).toBe(16_000 + 30_000 + 1_000);
  });

  it('a lease expired on the old leader lives again (extended) on the new one', () => {
    const l = leaderWith([[1n, 2]]);
    expect(l.expired(2_000)).toEqual([1n]);
    l.demote();
    l.promote(2_500, 1_000);
    expect(l.renew(1n, 2_600)).toEqual({ status: 'renewed', ttl: 2 });
  });
});

describe('checkpoints', () => {
  it('checkpoints every lease once per interval with the remaining TTL rounded up', () => {
    const l = leaderWith([
      [1n, 60],
      [2n, 20],
    ]);
    expect(l.dueCheckpoints(4_999, 5_000)).toEqual([]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([
      { id: 1n, remainingTtl: 55 },
      { id: 2n, remainingTtl: 15 },
    ]);
    expect(l.dueCheckpoints(9_999, 5_000)).toEqual([]);
    expect(l.dueCheckpoints(10_100, 5_000)).toEqual([
      { id: 1n, remainingTtl: 50 }, // 49.9 s → 50
      { id: 2n, remainingTtl: 10 },
    ]);
  });

  it('skips a lease whose replicated value is already exact', () => {
    const l = leaderWith([[1n, 60]]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]);
    l.applyCheckpoint(1n, 55);
    // Renewed at 9_000 → has a checkpoint, so a reset is needed; without it the checkpoint carries the new value.
    expect(l.renew(1n, 9_000).status).toBe('checkpointReset');
    expect(l.dueCheckpoints(10_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 59 }]);
    l.applyCheckpoint(1n, 59);
    expect(l.dueCheckpoints(15_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 54 }]);
    l.applyCheckpoint(1n, 54);
    l.applyRenew(1n, 16_000);
    // Renewed, no checkpoint: the granted TTL is exact, so nothing is due until one interval later.
    expect(l.dueCheckpoints(20_000, 5_000)).toEqual([]);
    expect(l.dueCheckpoints(21_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]);
  });

  it('a keep-alive without a checkpoint restarts the lease schedule', () => {
    const l = leaderWith([[1n, 60]]);
    expect(l.renew(1n, 3_000).status).toBe('renewed');
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([]);
    expect(l.dueCheckpoints(8_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]);
  });

  it('never checkpoints 0 and skips expired leases', () => {
    const l = leaderWith([
      [1n, 5],
      [2n, 6],
    ]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([{ id: 2n, remainingTtl: 1 }]);
    l.renew(2n, 5_500);
    expect(l.dueCheckpoints(10_999, 5_000)).toEqual([{ id: 2n, remainingTtl: 1 }]);
  });

  it('respects the limit; the rest stay due', () => {
    const l = leaderWith([
      [1n, 60],
      [2n, 60],
      [3n, 60],
    ]);
    expect(l.dueCheckpoints(5_000, 5_000, 2).map((c) => c.id)).toEqual([1n, 2n]);
    expect(l.dueCheckpoints(5_000, 5_000, 2).map((c) => c.id)).toEqual([3n]);
  });

  it('new leases get a schedule; revoked ones lose it', () => {
    const l = leaderWith([[1n, 60]]);
    l.applyGrant(2n, 60, 1_000);
    l.applyRevoke(1n);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([]);
    expect(l.dueCheckpoints(6_000, 5_000)).toEqual([{ id: 2n, remainingTtl: 55 }]);
  });
});

describe('checkpoints in flight', () => {
  it('a keep-alive while a handed-out checkpoint has not applied yet asks for a reset', () => {
    const l = leaderWith([[1n, 60]]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]);
    // Not applied yet: it would apply after this renewal and shorten the lease on a leader change.
    expect(l.renew(1n, 5_100)).toEqual({ status: 'checkpointReset', ttl: 60 });
    l.applyCheckpoint(1n, 55);
    l.applyRenew(1n, 5_200);
    expect(l.renew(1n, 5_300)).toEqual({ status: 'renewed', ttl: 60 });
  });

  it('a reset settles only the checkpoints handed out before it was asked for', () => {
    const l = leaderWith([[1n, 60]]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]); // lost
    expect(l.renew(1n, 6_000).status).toBe('checkpointReset');
    expect(l.dueCheckpoints(10_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 56 }]); // still in flight
    l.applyRenew(1n, 10_100);
    expect(l.renew(1n, 10_200).status).toBe('checkpointReset');
    l.applyCheckpoint(1n, 56);
    l.applyRenew(1n, 10_300);
    expect(l.renew(1n, 10_400).status).toBe('renewed');
  });

  it('an applied checkpoint settles older ones, not newer ones', () => {
    const l = leaderWith([[1n, 60]]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]);
    expect(l.renew(1n, 6_000).status).toBe('checkpointReset');
    expect(l.dueCheckpoints(10_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 56 }]);
    l.applyCheckpoint(1n, 55);
    l.applyRenew(1n, 10_100);
    expect(l.get(1n)?.remainingTtl).toBe(0);
    expect(l.renew(1n, 10_200).status).toBe('checkpointReset'); // 56 may still apply
  });

  it('a lost checkpoint heals: the next one is handed out even if the value looks exact', () => {
    const l = leaderWith([[1n, 60]]);
    expect(l.dueCheckpoints(5_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 55 }]); // lost
    expect(l.renew(1n, 9_500).status).toBe('checkpointReset'); // lost too
    expect(l.dueCheckpoints(10_000, 5_000)).toEqual([{ id: 1n, remainingTtl: 60 }]);
    l.applyCheckpoint(1n, 60);
    l.applyRenew(1n, 10_100);
    expect(l.renew(1n, 10_200).status).toBe('renewed');
  });

  it('demote and promote forget what was in flight', () => {
    const l = leaderWith([[1n, 60]]);
    l.dueCheckpoints(5_000, 5_000);
    l.demote();
    l.promote(6_000, 1_000);
    expect(l.renew(1n, 6_100).status).toBe('renewed');
  });
});
