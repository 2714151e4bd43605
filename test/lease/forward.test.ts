// A keep-alive that reaches a follower goes to the leader as a lease message (src/server/lease-forward.ts), as
// etcd's LeaseRenew forwards to the leader's peer URL: the answers, the fallback to Raft where the leader cannot
// take lease messages, and the bounded waits (etcd's texts: request timed out, no leader), on a virtual clock.

import { describe, expect, it } from 'vitest';
import { type EtcdError, errors } from '../../src/etcd/errors.ts';
import type { LeaseTimeToLive } from '../../src/lease/index.ts';
import { NONE } from '../../src/raft/types.ts';
import {
  type ForwardingMember,
  type KeepAliveAnswer,
  KeepAliveForwarder,
} from '../../src/server/lease-forward.ts';
import type { LeaseMessage, LeaseSendResult } from '../../src/transport.ts';

const SELF = 2n;
const LEADER = 1n;
const OTHER = 3n;
const LEASE = 0x1234n;

class FakeMember implements ForwardingMember {
  readonly id = SELF;
  readonly requestTimeoutMs = 7_000;
  readonly electionTimeoutMs = 1_000;
  time = 0;
  lead: bigint = LEADER;
  appliedIndex = 40;
  /** Peers that take lease messages. */
  takes = new Set([LEADER, OTHER]);
  /** Peers that take them but have no connection up now. */
  down = new Set<bigint>();
  readonly sent: LeaseMessage[] = [];
  /** keepAlive calls served here: [lease, forwarded]. */
  readonly served: { lease: bigint; cb: KeepAliveAnswer; forwarded?: { readonly applied: number } }[] = [];

  now(): number {
    return this.time;
  }
  leader(): bigint {
    return this.lead;
  }
  applied(): number {
    return this.appliedIndex;
  }
  keepAlive(lease: bigint, cb: KeepAliveAnswer, forwarded?: { readonly applied: number }): void {
    this.served.push({ lease, cb, ...(forwarded ? { forwarded } : {}) });
  }
  /** The lessor's TimeToLive answers here, by lease. */
  ttls = new Map<bigint, LeaseTimeToLive>();
  timeToLive(lease: bigint): LeaseTimeToLive | undefined {
    return this.ttls.get(lease);
  }
  send(message: LeaseMessage): LeaseSendResult {
    if (!this.takes.has(message.to)) return 'never';
    if (this.down.has(message.to)) return 'notNow';
    this.sent.push(message);
    return 'sent';
  }
}

function setup() {
  const member = new FakeMember();
  const forwarder = new KeepAliveForwarder(member, 0xffff_fffe);
  const answers: (number | EtcdError)[] = [];
  const keepAlive = (lease = LEASE) => forwarder.keepAlive(lease, (ttl) => answers.push(ttl));
  /** Advances the clock by `ms` in 100 ms ticks. */
  const run = (ms: number) => {
    for (let t = 0; t < ms; t += 100) {
      member.time += 100;
      forwarder.tick();
    }
  };
  return { member, forwarder, answers, keepAlive, run };
}

const answer = (req: LeaseMessage, from: bigint, rest: Partial<LeaseMessage> & Pick<LeaseMessage, 'type'>) =>
  ({ from, to: req.from, request: req.request, lease: req.lease, ...rest }) as LeaseMessage;

describe('a follower forwarding a keep-alive', () => {
  it('asks the leader and answers its TTL, proposing nothing here', () => {
    const { member, forwarder, answers, keepAlive } = setup();
    keepAlive();
    expect(member.sent).toEqual([
      { type: 'renew', from: SELF, to: LEADER, request: 0xffff_fffe, lease: LEASE, applied: 40 },
    ]);
    expect(forwarder.forwarding).toBe(1);
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'renewed', ttl: 60 }));
    expect(answers).toEqual([60]);
    expect(member.served).toEqual([]);
    expect(forwarder.forwarding).toBe(0);
    // Request IDs are u32s: they wrap.
    keepAlive();
    keepAlive();
    expect(member.sent.slice(1).map((m) => m.request)).toEqual([0xffff_ffff, 0]);
  });

  it("answers a lease the leader does not know with etcd's not found", () => {
    const { member, forwarder, answers, keepAlive } = setup();
    keepAlive();
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'notFound' }));
    expect(answers).toEqual([errors.leaseNotFound()]);
    expect((answers[0] as EtcdError).message).toBe('etcdserver: requested lease not found');
  });

  it('serves the keep-alive itself on the leader, and through Raft where the leader cannot take lease messages', () => {
    const { member, forwarder, keepAlive } = setup();
    member.lead = SELF;
    keepAlive();
    member.lead = LEADER;
    member.takes.delete(LEADER);
    keepAlive();
    expect(member.sent).toEqual([]);
    expect(member.served.map((s) => [s.lease, s.forwarded])).toEqual([
      [LEASE, undefined],
      [LEASE, undefined],
    ]);
    expect(forwarder.forwarding).toBe(0);
  });

  it('waits while no connection is up to the leader, asking again every tick; nothing goes through Raft', () => {
    const { member, forwarder, answers, keepAlive, run } = setup();
    member.down.add(LEADER);
    keepAlive();
    run(300);
    expect(member.sent).toEqual([]);
    expect(member.served).toEqual([]);
    expect(forwarder.forwarding).toBe(1);
    member.down.delete(LEADER);
    run(100);
    expect(member.sent.map((m) => [m.type, m.to])).toEqual([['renew', LEADER]]);
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'renewed', ttl: 60 }));
    expect(answers).toEqual([60]);
    expect(member.served).toEqual([]);
    // Down until the deadline: etcd's "request timed out", still nothing through Raft.
    member.down.add(LEADER);
    keepAlive();
    run(7_000);
    expect(answers).toEqual([60, errors.timeout()]);
    expect(member.served).toEqual([]);
  });

  it('ignores answers from a member not asked, about another lease, or to an unknown request', () => {
    const { member, forwarder, answers, keepAlive } = setup();
    keepAlive();
    const req = member.sent[0];
    forwarder.receive(answer(req, OTHER, { type: 'renewed', ttl: 5 }));
    forwarder.receive({ ...answer(req, LEADER, { type: 'renewed', ttl: 5 }), lease: LEASE + 1n });
    forwarder.receive({ ...answer(req, LEADER, { type: 'renewed', ttl: 5 }), request: 7 });
    forwarder.receive({ ...answer(req, LEADER, { type: 'renewed', ttl: 5 }), to: OTHER });
    expect(answers).toEqual([]);
    forwarder.receive(answer(req, LEADER, { type: 'renewed', ttl: 5 }));
    forwarder.receive(answer(req, LEADER, { type: 'renewed', ttl: 5 })); // a duplicate: answered once
    expect(answers).toEqual([5]);
  });

  it('asks again on the next tick when told to retry, and after an election timeout of silence', () => {
    const { member, forwarder, answers, keepAlive, run } = setup();
    keepAlive();
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'retry' }));
    run(100);
    expect(member.sent).toHaveLength(2);
    run(900);
    expect(member.sent).toHaveLength(2);
    run(100);
    expect(member.sent).toHaveLength(3);
    expect(new Set(member.sent.map((m) => m.request)).size).toBe(1);
    forwarder.receive(answer(member.sent[2], LEADER, { type: 'renewed', ttl: 9 }));
    expect(answers).toEqual([9]);
  });

  it('follows a leader change; the old leader is no longer heard', () => {
    const { member, forwarder, answers, keepAlive, run } = setup();
    keepAlive();
    member.lead = OTHER;
    run(100);
    expect(member.sent.map((m) => m.to)).toEqual([LEADER, OTHER]);
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'renewed', ttl: 1 }));
    expect(answers).toEqual([]);
    forwarder.receive(answer(member.sent[1], OTHER, { type: 'renewed', ttl: 2 }));
    expect(answers).toEqual([2]);
  });

  it('becoming leader meanwhile: serves it here', () => {
    const { member, forwarder, keepAlive, run } = setup();
    keepAlive();
    member.lead = SELF;
    run(100);
    expect(member.served).toHaveLength(1);
    expect(forwarder.forwarding).toBe(0);
  });

  it("times out as etcd does: 'request timed out' with a leader, 'no leader' without", () => {
    const { member, answers, keepAlive, run } = setup();
    keepAlive();
    run(6_900);
    expect(answers).toEqual([]);
    run(100);
    expect(answers).toEqual([errors.timeout()]);
    member.lead = NONE;
    keepAlive();
    run(7_000);
    expect(answers.map((a) => (a as EtcdError).message)).toEqual([
      'etcdserver: request timed out',
      'etcdserver: no leader',
    ]);
  });

  it('waits for a leader, then asks it', () => {
    const { member, answers, keepAlive, run } = setup();
    member.lead = NONE;
    keepAlive();
    run(2_000);
    expect(member.sent).toEqual([]);
    member.lead = LEADER;
    run(100);
    expect(member.sent).toHaveLength(1);
    expect(answers).toEqual([]);
  });

  it('fails what waits when the member stops', () => {
    const { forwarder, answers, keepAlive } = setup();
    keepAlive();
    forwarder.stop();
    expect(answers).toEqual([errors.stopped()]);
  });
});

describe('the leader serving a forwarded keep-alive', () => {
  const renew = (applied = 12): LeaseMessage => ({
    type: 'renew',
    from: OTHER,
    to: SELF,
    request: 9,
    lease: LEASE,
    applied,
  });

  it('serves it as its own (marked forwarded) and answers the asker', () => {
    const { member, forwarder } = setup();
    member.lead = SELF;
    forwarder.receive(renew());
    forwarder.receive({ ...renew(), to: OTHER }); // not for this member
    expect(member.served.map((s) => [s.lease, s.forwarded])).toEqual([[LEASE, { applied: 12 }]]);
    const cb = member.served[0].cb;
    cb(30);
    cb(errors.leaseNotFound());
    cb(errors.notLeader());
    cb(errors.timeout());
    const header = { from: SELF, to: OTHER, request: 9, lease: LEASE };
    expect(member.sent).toEqual([
      { ...header, type: 'renewed', ttl: 30 },
      { ...header, type: 'notFound' },
      { ...header, type: 'retry' },
      { ...header, type: 'retry' },
    ]);
  });
});

describe('a LeaseTimeToLive at a follower (etcd forwards it: only the leader knows the deadline)', () => {
  const exact = (ttl: number): LeaseTimeToLive => ({ id: LEASE, ttl, grantedTtl: 60, estimated: false });
  const estimate: LeaseTimeToLive = { id: LEASE, ttl: 60, grantedTtl: 60, estimated: true };

  it("asks the leader and answers with the leader's seconds left; a lease the leader lacks is not found", () => {
    const { member, forwarder } = setup();
    member.ttls.set(LEASE, estimate);
    const got: unknown[] = [];
    forwarder.timeToLive(LEASE, (r) => got.push(r));
    expect(member.sent).toEqual([
      { type: 'ttl', from: SELF, to: LEADER, request: 0xffff_fffe, lease: LEASE, applied: 40 },
    ]);
    // An answer of the other kind, to this request, is not taken.
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'renewed', ttl: 5 }));
    expect(got).toEqual([]);
    forwarder.receive(answer(member.sent[0], LEADER, { type: 'ttlIs', ttl: 17, grantedTtl: 60 }));
    expect(got).toEqual([{ ttl: 17, grantedTtl: 60 }]);
    forwarder.timeToLive(LEASE, (r) => got.push(r));
    forwarder.receive(answer(member.sent[1], LEADER, { type: 'notFound' }));
    expect(got).toEqual([{ ttl: 17, grantedTtl: 60 }, undefined]);
    expect(forwarder.forwarding).toBe(0);
  });

  it('answers from its own state where it leads, or where the leader cannot take the message', () => {
    const { member, forwarder } = setup();
    member.ttls.set(LEASE, estimate);
    const got: unknown[] = [];
    member.takes.delete(LEADER);
    forwarder.timeToLive(LEASE, (r) => got.push(r));
    member.lead = SELF;
    member.ttls.set(LEASE, exact(12));
    forwarder.timeToLive(LEASE, (r) => got.push(r));
    expect(got).toEqual([estimate, exact(12)]);
    expect(member.sent).toEqual([]);
  });

  it('the leader answers only with a deadline it knows, and "not found" only once it applied what the asker had', () => {
    const { member, forwarder } = setup();
    const ask = (applied: number): LeaseMessage => ({
      type: 'ttl',
      from: OTHER,
      to: SELF,
      request: 4,
      lease: LEASE,
      applied,
    });
    const header = { from: SELF, to: OTHER, request: 4, lease: LEASE };
    forwarder.receive(ask(40)); // not leading
    member.lead = SELF;
    member.ttls.set(LEASE, estimate); // leading, lessor not promoted yet
    forwarder.receive(ask(40));
    member.ttls.set(LEASE, exact(-1)); // expired, its revoke pending
    forwarder.receive(ask(40));
    member.ttls.delete(LEASE);
    forwarder.receive(ask(41)); // the asker applied more: the grant may be on its way
    forwarder.receive(ask(40));
    expect(member.sent).toEqual([
      { ...header, type: 'retry' },
      { ...header, type: 'retry' },
      { ...header, type: 'ttlIs', ttl: -1, grantedTtl: 60 },
      { ...header, type: 'retry' },
      { ...header, type: 'notFound' },
    ]);
  });
});
