// A keep-alive that reaches a follower is forwarded to the leader, as etcd's LeaseRenew does (etcdserver/
// v3_server.go → leasehttp.RenewHTTP, a POST to the leader's peer URL): the leader renews in its lessor and answers
// the TTL — no Raft entry, no fsync per keep-alive. A LeaseTimeToLive likewise (etcd's leasehttp.TimeToLiveHTTP):
// only the leader knows a lease's deadline (keep-alives renew it there); where the leader cannot take the message,
// the member answers from its own replicated state (the granted or checkpointed TTL). It travels as the transport's optional lease messages
// (src/transport.ts); where the leader cannot take them (an older member, a transport without them) the
// keep-alive goes through Raft as before; where only the connection to the leader is down, it waits for one. The leader serves a forwarded keep-alive as its own (Replica.keepAlive:
// a lease with a checkpoint to reset still goes through Raft) and only while Raft lets it lead.
//
// Waits are bounded as etcd's: the request timeout overall, then "request timed out", or "no leader" when there
// is none (etcd's waitLeader); meanwhile the request is sent again when the leader changes, when it answers
// 'retry' (next tick, as etcd sleeps 50 ms), or when it says nothing for an election timeout (etcd's leasehttp
// gives up waiting after 1 s). A resent keep-alive may renew twice: harmless. Sans I/O: time comes from now().

import { type EtcdError, errors } from '../etcd/errors.ts';
import type { LeaseTimeToLive } from '../lease/index.ts';
import { NONE, type NodeId } from '../raft/types.ts';
import type { LeaseMessage, LeaseSendResult } from '../transport.ts';

export type KeepAliveAnswer = (ttl: number | EtcdError) => void;
/** A TimeToLive's answer: the lease's seconds left and granted TTL, undefined when there is no such lease. */
export type TimeToLiveAnswer = (
  ttl: Pick<LeaseTimeToLive, 'ttl' | 'grantedTtl'> | undefined | EtcdError,
) => void;

/** What the forwarder needs from its member (the host wires a Replica and a Transport). */
export interface ForwardingMember {
  readonly id: NodeId;
  readonly requestTimeoutMs: number;
  readonly electionTimeoutMs: number;
  now(): number;
  leader(): NodeId;
  applied(): number;
  /** Serves a keep-alive here (Replica.keepAlive): renewed as leader, else through Raft, unless `forwarded`. */
  keepAlive(lease: bigint, cb: KeepAliveAnswer, forwarded?: { readonly applied: number }): void;
  /** The lessor's TimeToLive here: exact where it leads (`estimated` false), else from replicated state. */
  timeToLive(lease: bigint): LeaseTimeToLive | undefined;
  /** Transport.sendLease ('never' where the transport has none). */
  send(message: LeaseMessage): LeaseSendResult;
}

interface Pending {
  readonly type: 'renew' | 'ttl';
  readonly lease: bigint;
  readonly deadline: number;
  /** The member asked last (NONE: none yet), and when to ask again if it says nothing. */
  asked: NodeId;
  resendAt: number;
  /** The leader's answer ('renewed' or 'ttlIs' as asked, or 'notFound'). */
  answered(message: LeaseMessage): void;
  failed(error: EtcdError): void;
  /** Served here instead: leading now, or the leader cannot take the message. */
  local(): void;
}

export class KeepAliveForwarder {
  private readonly member: ForwardingMember;
  private readonly pending = new Map<number, Pending>();
  private nextRequest: number;

  /** `firstRequest`: a random u32, so that a restarted member's requests do not take its old answers. */
  constructor(member: ForwardingMember, firstRequest: number) {
    this.member = member;
    this.nextRequest = firstRequest >>> 0;
  }

  /** Requests sent to the leader and not answered yet. */
  get forwarding(): number {
    return this.pending.size;
  }

  keepAlive(lease: bigint, cb: KeepAliveAnswer): void {
    const m = this.member;
    const local = () => m.keepAlive(lease, cb);
    if (m.leader() === m.id) return local();
    this.forward('renew', lease, {
      answered: (msg) => cb(msg.type === 'renewed' ? msg.ttl : errors.leaseNotFound()),
      failed: cb,
      local,
    });
  }

  /** etcd's LeaseTimeToLive: the leader's answer; this member's own where the leader cannot take the message. */
  timeToLive(lease: bigint, cb: TimeToLiveAnswer): void {
    const m = this.member;
    const local = () => cb(m.timeToLive(lease));
    if (m.leader() === m.id) return local();
    this.forward('ttl', lease, {
      answered: (msg) => cb(msg.type === 'ttlIs' ? { ttl: msg.ttl, grantedTtl: msg.grantedTtl } : undefined),
      failed: cb,
      local,
    });
  }

  /** A lease message from a peer: a follower's request to serve, or the answer to one of ours. */
  receive(message: LeaseMessage): void {
    const m = this.member;
    if (message.to !== m.id) return;
    if (message.type === 'renew') return this.serveRenew(message);
    if (message.type === 'ttl') return this.serveTimeToLive(message);
    const p = this.pending.get(message.request);
    // Only the member asked answers, about the lease asked about (etcd's "renew id mismatch"), in kind.
    if (!p || p.asked !== message.from || p.lease !== message.lease) return;
    if ((message.type === 'renewed' && p.type !== 'renew') || (message.type === 'ttlIs' && p.type !== 'ttl'))
      return;
    if (message.type === 'retry') {
      p.resendAt = m.now();
      return;
    }
    this.pending.delete(message.request);
    p.answered(message);
  }

  /** Every tick: ends requests past their deadline, asks again where the leader changed or said nothing. */
  tick(): void {
    if (this.pending.size === 0) return;
    const m = this.member;
    const now = m.now();
    const leader = m.leader();
    for (const [request, p] of [...this.pending]) {
      if (now >= p.deadline) {
        this.pending.delete(request);
        p.failed(leader === NONE ? errors.noLeader() : errors.timeout());
      } else if (p.asked !== leader || now >= p.resendAt) this.ask(request, p, now);
    }
  }

  /** The member stopped: every waiting request fails. */
  stop(): void {
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.failed(errors.stopped());
  }

  private forward(
    type: Pending['type'],
    lease: bigint,
    on: Pick<Pending, 'answered' | 'failed' | 'local'>,
  ): void {
    const m = this.member;
    const request = this.nextRequest;
    this.nextRequest = (request + 1) >>> 0;
    const now = m.now();
    const p: Pending = { type, lease, deadline: now + m.requestTimeoutMs, asked: NONE, resendAt: now, ...on };
    this.pending.set(request, p);
    this.ask(request, p, now);
  }

  private ask(request: number, p: Pending, now: number): void {
    const m = this.member;
    const leader = m.leader();
    p.asked = leader;
    if (leader === NONE) return; // waits for one (tick)
    p.resendAt = now + m.electionTimeoutMs;
    const sent =
      leader === m.id
        ? 'never'
        : m.send({ type: p.type, from: m.id, to: leader, request, lease: p.lease, applied: m.applied() });
    if (sent === 'sent') return;
    if (sent === 'notNow') {
      // No connection up to the leader now (one failed, say): asked again next tick. Raft would not do better:
      // a proposal reaches the leader over the same link.
      p.resendAt = now;
      return;
    }
    // Leading now, or the leader cannot take the message: served here (a keep-alive through Raft on a follower).
    this.pending.delete(request);
    p.local();
  }

  private serveRenew(req: LeaseMessage & { readonly type: 'renew' }): void {
    const m = this.member;
    const answer = { from: m.id, to: req.from, request: req.request, lease: req.lease };
    m.keepAlive(
      req.lease,
      (ttl) => {
        // An answer that cannot leave now is lost: the follower asks again.
        if (typeof ttl === 'number') m.send({ ...answer, type: 'renewed', ttl });
        else
          m.send({ ...answer, type: errors.leaseNotFound().message === ttl.message ? 'notFound' : 'retry' });
      },
      { applied: req.applied },
    );
  }

  /**
   * A follower's TimeToLive: answered only by a member whose lessor leads (it knows the deadline), and "not found"
   * only once it has applied what the follower had (the grant, maybe); else 'retry'.
   */
  private serveTimeToLive(req: LeaseMessage & { readonly type: 'ttl' }): void {
    const m = this.member;
    const answer = { from: m.id, to: req.from, request: req.request, lease: req.lease };
    const leading = m.leader() === m.id;
    const ttl = leading ? m.timeToLive(req.lease) : undefined;
    if (!leading || ttl?.estimated) m.send({ ...answer, type: 'retry' });
    else if (ttl) m.send({ ...answer, type: 'ttlIs', ttl: ttl.ttl, grantedTtl: ttl.grantedTtl });
    else m.send({ ...answer, type: m.applied() < req.applied ? 'retry' : 'notFound' });
  }
}
