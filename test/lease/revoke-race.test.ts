// An expiry revoke decided by the leader, and a keep-alive that went through Raft and committed before it: the
// keep-alive answered the client "renewed" when it applied, so the revoke that follows it in the log must not take
// the lease (and its keys) away. Found by the simulator (mixed group, seed 283, with a Ready loop that sends
// nothing while a save is in flight): the key of a lease kept alive at t=4030 with a 2 s TTL vanished at t=4265.
import { describe, expect, it } from 'vitest';
import { ServerStateMachine } from '../../src/server/state-machine.ts';

const te = new TextEncoder();
const ID = 77n;
const key = te.encode('lease/77');

function member(): ServerStateMachine {
  return new ServerStateMachine({ minLeaseTtl: 1 }, { onEvents: () => {}, onCompacted: () => {} });
}

function granted(): ServerStateMachine {
  const sm = member();
  expect(sm.apply({ type: 'leaseGrant', request: { ID, TTL: 2 } }, 0, 1).ok).toBe(true);
  expect(sm.apply({ type: 'put', request: { key, value: te.encode('x'), lease: ID } }, 0, 2).ok).toBe(true);
  sm.appliedIndex = 2;
  return sm;
}

const present = (sm: ServerStateMachine) => sm.mvcc.range({ key }).kvs.length === 1;

describe('an expiry revoke and a keep-alive committed before it', () => {
  it('the keep-alive wins: the lease and its key stay, on every member alike', () => {
    const sm = granted();
    // The leader decides at applied index 2 that the lease expired; meanwhile a follower's keep-alive commits.
    const revoke = { type: 'leaseRevoke', id: ID, unlessRenewedAfter: 2 } as const;
    expect(sm.apply({ type: 'leaseRenew', id: ID }, 100, 3)).toEqual({ ok: true, value: { ID, TTL: 2 } });
    // A member that restores a snapshot taken between the two decides the same.
    const restored = member();
    restored.restore(sm.snapshot());
    for (const m of [sm, restored]) {
      expect(m.apply(revoke, 200, 4).ok).toBe(true);
      expect(m.lessor.get(ID)).toBeDefined();
      expect(present(m)).toBe(true);
    }
  });

  it('without a keep-alive after the decision, the revoke takes the lease and its key', () => {
    const sm = granted();
    expect(sm.apply({ type: 'leaseRenew', id: ID }, 100, 3).ok).toBe(true);
    expect(sm.apply({ type: 'leaseRevoke', id: ID, unlessRenewedAfter: 3 }, 200, 4).ok).toBe(true);
    expect(sm.lessor.get(ID)).toBeUndefined();
    expect(present(sm)).toBe(false);
  });

  it("a client's LeaseRevoke is unconditional", () => {
    const sm = granted();
    expect(sm.apply({ type: 'leaseRenew', id: ID }, 100, 3).ok).toBe(true);
    expect(sm.apply({ type: 'leaseRevoke', id: ID }, 200, 4).ok).toBe(true);
    expect(present(sm)).toBe(false);
  });
});
