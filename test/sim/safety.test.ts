// The checker must be able to fail: feed it crafted bad states and histories.
import { describe, expect, it } from 'vitest';
import type { Entry, Message } from '../../src/raft/types.ts';
import { SimDisk } from '../../src/sim/disk.ts';
import { type LogView, SafetyChecker, SafetyViolation } from '../../src/sim/safety.ts';

const enc = new TextEncoder();
const entry = (index: number, term: number, data = `e${index}t${term}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: enc.encode(data),
});

function logOf(entries: Entry[]): LogView {
  return {
    firstIndex: () => 1,
    lastIndex: () => entries.length,
    term: (i) => (i === 0 ? 0 : entries[i - 1]?.term),
    slice: (lo, hi) => entries.slice(lo - 1, hi - 1),
  };
}

function diskWithVote(term: number, vote: bigint): SimDisk {
  const d = new SimDisk();
  d.write({ entries: [], hardState: { term, vote, commit: 0 } });
  return d;
}

function violation(f: () => void): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SafetyViolation) return e.invariant;
    throw e;
  }
  return 'none';
}

describe('SafetyChecker', () => {
  it('election safety: two leaders in one term', () => {
    const c = new SafetyChecker();
    c.leaderElected(1n, 5, diskWithVote(5, 1n));
    expect(violation(() => c.leaderElected(2n, 5, diskWithVote(5, 2n)))).toBe('election safety');
    expect(violation(() => c.leaderElected(2n, 6, diskWithVote(6, 2n)))).toBe('none');
  });

  it('a leader whose self-vote is not durable', () => {
    const c = new SafetyChecker();
    expect(violation(() => c.leaderElected(1n, 3, diskWithVote(2, 1n)))).toBe('durable vote');
  });

  it('log matching: same index and term, different data', () => {
    const c = new SafetyChecker();
    c.entriesPersisted(1n, [entry(1, 1, 'a')]);
    expect(violation(() => c.entriesPersisted(2n, [entry(1, 1, 'b')]))).toBe('log matching');
  });

  it('log matching: logs agreeing on a later entry but differing before it', () => {
    const c = new SafetyChecker();
    const a = logOf([entry(1, 1, 'x'), entry(2, 2)]);
    const b = logOf([entry(1, 1, 'y'), entry(2, 2)]);
    expect(violation(() => c.logsMatch(1n, a, 2n, b))).toBe('log matching');
    const divergentTail = logOf([entry(1, 1, 'x'), entry(2, 3)]);
    expect(violation(() => c.logsMatch(1n, a, 3n, divergentTail))).toBe('none');
  });

  it('state machine safety: different entries applied at one index', () => {
    const c = new SafetyChecker();
    c.entryApplied(1n, entry(1, 1, 'a'), 100);
    expect(violation(() => c.entryApplied(2n, entry(1, 2, 'b'), 200))).toBe('state machine safety');
  });

  it('state machine safety: a snapshot with a state nobody reached', () => {
    const c = new SafetyChecker();
    c.entryApplied(1n, entry(1, 1), 100);
    expect(violation(() => c.snapshotRestored(2n, 1, 999))).toBe('state machine safety');
    expect(violation(() => c.snapshotRestored(2n, 1, 100))).toBe('none');
  });

  it('leader completeness: a new leader missing an applied entry (a stale read or lost write waiting to happen)', () => {
    const c = new SafetyChecker();
    c.entryApplied(1n, entry(1, 1), 1);
    c.entryApplied(1n, entry(2, 1), 2);
    expect(violation(() => c.leaderCompleteness(2n, 2, logOf([entry(1, 1)])))).toBe('leader completeness');
    expect(violation(() => c.leaderCompleteness(2n, 2, logOf([entry(1, 1), entry(2, 2)])))).toBe(
      'leader completeness',
    );
    expect(violation(() => c.leaderCompleteness(2n, 2, logOf([entry(1, 1), entry(2, 1)])))).toBe('none');
  });

  it('durable commit: a leader committing what a majority does not hold', () => {
    const c = new SafetyChecker();
    const holding = new SimDisk();
    holding.write({ entries: [entry(1, 1)] });
    const empty = new SimDisk();
    const disks = new Map([
      [1n, holding],
      [2n, empty],
      [3n, empty],
    ]);
    expect(violation(() => c.leaderCommitted(1n, 1, 1, [1n, 2n, 3n], (id) => disks.get(id)))).toBe(
      'durable commit',
    );
    disks.set(2n, holding);
    expect(violation(() => c.leaderCommitted(1n, 1, 1, [1n, 2n, 3n], (id) => disks.get(id)))).toBe('none');
  });

  it('persist before send: a vote or an ack not backed by the disk', () => {
    const c = new SafetyChecker();
    const vote: Message = { type: 'MsgVoteResp', from: 1n, to: 2n, term: 4 };
    expect(violation(() => c.messageSent(vote, false, diskWithVote(4, 2n)))).toBe('persist before send');
    expect(violation(() => c.messageSent(vote, true, diskWithVote(3, 2n)))).toBe('persist before send');
    expect(violation(() => c.messageSent(vote, true, diskWithVote(4, 2n)))).toBe('none');
    const ack: Message = { type: 'MsgAppResp', from: 1n, to: 2n, term: 4, index: 3 };
    const disk = new SimDisk();
    disk.write({ entries: [entry(1, 1), entry(2, 1)] });
    expect(violation(() => c.messageSent(ack, true, disk))).toBe('persist before send');
    disk.write({ entries: [entry(3, 4)] });
    expect(violation(() => c.messageSent(ack, true, disk))).toBe('none');
  });
});
