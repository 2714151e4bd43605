// Bugs the simulator found, replayed as scenarios that do not depend on how a seed consumes the PRNG.
import { describe, expect, it } from 'vitest';
import { RawNode } from '../../src/raft/raw-node.ts';
import type { Entry, Message } from '../../src/raft/types.ts';
import { Rng } from '../../src/sim/rng.ts';

const e = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new Uint8Array([index]),
});
const app = (from: bigint, term: number, index: number, logTerm: number, entries: Entry[]): Message => ({
  type: 'MsgApp',
  from,
  to: 2n,
  term,
  index,
  logTerm,
  entries,
  commit: 3,
});

describe('regressions found by the simulator', () => {
  // Seed 536 (raft sim). A follower acknowledged entries that were overwritten before they were ever persisted:
  //   n2 persists entry 4 (Ready R1 in flight)
  //   n1 (term 2) appends 5..6 → n2 queues "ack 6" for after the next persist
  //   n3 (term 3) appends 5@3  → n2 truncates 5..6 and queues "ack 5"
  //   R1 done; Ready R2 persists 5@3 and sends what waited — "ack 6" would be a lie: n1 could count it.
  it('seed 536: an ack queued for persistence is dropped when its entries are overwritten', () => {
    const n = new RawNode(
      { id: 2n, random: new Rng(1) },
      { hardState: { term: 0, vote: 0n, commit: 0 }, entries: [] },
      { voters: [1n, 2n, 3n], learners: [] },
    );
    n.ready();
    n.advance();
    n.step(app(1n, 2, 3, 1, [e(4, 2)]));
    const r1 = n.ready(); // persisting entry 4
    expect(r1.entries.map((x) => x.index)).toEqual([4]);
    n.step(app(1n, 2, 4, 2, [e(5, 2), e(6, 2)]));
    n.step(app(3n, 3, 4, 2, [e(5, 3)]));
    n.advance();
    const r2 = n.ready();
    expect(r2.entries.map((x) => `${x.index}@${x.term}`)).toEqual(['5@3']);
    const acks = r2.messagesAfterPersist.filter((m) => m.type === 'MsgAppResp' && !m.reject);
    expect(acks.map((m) => `to n${m.to} index ${m.index}`)).toEqual(['to n3 index 5']);
  });

  // Found while wiring the simulator's hosts: a candidate must not lead on peer votes alone before its own vote
  // is durable, or a crash could let it win the same term twice with different logs.
  it('a candidate whose own vote is not yet durable does not become leader', () => {
    const n = new RawNode(
      { id: 1n, random: new Rng(2), preVote: false },
      { hardState: { term: 0, vote: 0n, commit: 0 }, entries: [] },
      { voters: [1n, 2n, 3n], learners: [] },
    );
    while (n.hasReady()) {
      n.ready();
      n.advance();
    }
    n.campaign();
    const rd = n.ready(); // persists term 2, vote for self; the self-vote waits for advance()
    expect(rd.hardState?.vote).toBe(1n);
    n.step({ type: 'MsgVoteResp', from: 2n, to: 1n, term: rd.hardState!.term });
    n.step({ type: 'MsgVoteResp', from: 3n, to: 1n, term: rd.hardState!.term });
    expect(n.basicStatus().role).toBe('candidate');
    n.advance();
    expect(n.basicStatus().role).toBe('leader');
  });
});
