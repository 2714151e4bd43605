// The Raft state machine (etcd-io/raft raft.go): roles and terms, ticks, elections (pre-vote, leader lease), the
// message dispatch per role, the follower side (appends, heartbeats, InstallSnapshot in chunks) and membership.
// What a leader does — proposals, replication, commit, ReadIndex, transfer — and the state every role shares are
// in raft-leader.ts, which this class extends. Pure: no I/O, no clock, no randomness except the injected Random
// that draws election timeouts. Hosts drive it through RawNode (raw-node.ts).

import { randomInt } from '../env.ts';
import { applyChange, decodeConfChange } from './confchange.ts';
import type { RaftConfig } from './config.ts';
import { RaftLog } from './log.ts';
import { RaftLeader } from './raft-leader.ts';
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  NONE,
  type NodeId,
  type Snapshot,
  type SnapshotChunk,
} from './types.ts';

export type { ProposalRejection, ProposalResult } from './raft-leader.ts';

export class Raft extends RaftLeader {
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** A snapshot arriving in chunks (follower side). */
  private incoming?: {
    from: NodeId;
    term: number;
    total: number;
    metadata: Snapshot['metadata'];
    parts: Uint8Array[];
    received: number;
  };

  constructor(
    config: RaftConfig,
    hardState: HardState,
    snapshot: Snapshot | undefined,
    entries: readonly Entry[],
  ) {
    super(config, RaftLog.recover(snapshot, entries, hardState.commit));
    this.tracker.setConf(snapshot?.metadata.confState ?? { voters: [], learners: [] }, this.log.lastIndex());
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.becomeFollower(this.term, NONE);
  }

  private get electionTimeout(): number {
    return this.config.electionTick;
  }

  // Role transitions.

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout =
      this.electionTimeout + randomInt(this.config.random, this.electionTimeout);
    this.leadTransferee = NONE;
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex(), this.id);
    this.readOnly.reset();
    this.uncommittedBytes = 0;
    this.appendsDirty = false;
    this.commitDirty = false;
  }

  becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.lead = lead;
    this.role = 'follower';
  }

  private becomeCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
  }

  private becomePreCandidate(): void {
    if (this.role === 'leader') throw new Error('raft: invalid transition leader -> preCandidate');
    // Pre-vote changes neither term nor vote, so a partitioned node rejoining cannot disrupt the cluster.
    this.tracker.resetVotes();
    this.lead = NONE;
    this.role = 'preCandidate';
  }

  private becomeLeader(): void {
    if (this.role === 'follower') throw new Error('raft: invalid transition follower -> leader');
    this.reset(this.term);
    this.lead = this.id;
    this.role = 'leader';
    const self = this.tracker.progress.get(this.id);
    if (self) {
      self.match = this.log.stable;
      self.becomeReplicate();
    }
    // Conservatively assume the log tail may hold an unapplied membership change.
    this.pendingConfIndex = this.log.lastIndex();
    // Raft §8: a no-op entry of the new term, so that earlier entries get committed (and ReadIndex served).
    this.appendEntries([{ type: 'normal', data: new Uint8Array(0) }]);
  }

  // Ticks.

  /** Ticks since the election timer last reset, and the (randomized) number at which it fires. */
  electionTimer(): { readonly elapsed: number; readonly timeout: number } {
    return { elapsed: this.electionElapsed, timeout: this.randomizedElectionTimeout };
  }

  tick(): void {
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.step({ type: 'MsgHup', from: this.id, to: this.id, term: 0 });
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.electionTimeout) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum) this.step({ type: 'MsgCheckQuorum', from: this.id, to: this.id, term: 0 });
      // A transfer that did not finish within an election timeout is abandoned.
      if (this.role === 'leader' && this.leadTransferee !== NONE) this.leadTransferee = NONE;
    }
    if (this.role !== 'leader') return;
    if (this.heartbeatElapsed >= this.config.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.step({ type: 'MsgBeat', from: this.id, to: this.id, term: 0 });
    }
  }

  // Elections.

  private hup(transfer: boolean): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // Do not campaign while committed membership changes are unapplied: our configuration may be stale.
    if (this.hasUnappliedConfChanges()) return;
    if (this.config.preVote && !transfer) this.campaign('pre', false);
    else this.campaign('election', transfer);
  }

  private hasUnappliedConfChanges(): boolean {
    const lo = Math.max(this.log.applied + 1, this.log.firstIndex());
    if (lo > this.log.committed) return false;
    return this.log.slice(lo, this.log.committed + 1).some((e) => e.type === 'confChange');
  }

  private campaign(kind: 'pre' | 'election', transfer: boolean): void {
    let term: number;
    let type: MessageType;
    if (kind === 'pre') {
      this.becomePreCandidate();
      type = 'MsgPreVote';
      term = this.term + 1; // the term we would campaign in
    } else {
      this.becomeCandidate();
      type = 'MsgVote';
      term = this.term;
    }
    for (const id of this.tracker.voters) {
      if (id === this.id) {
        if (kind === 'pre') {
          this.tracker.recordVote(id, true);
        } else {
          // Our own vote counts only once it is durable: it travels as a message to ourselves, after persist.
          this.send({ type: 'MsgVoteResp', to: id, term });
        }
        continue;
      }
      this.send({
        type,
        to: id,
        term,
        index: this.log.lastIndex(),
        logTerm: this.log.lastTerm(),
        transfer: transfer || undefined,
      });
    }
    if (kind === 'pre') this.pollResult();
  }

  private pollResult(): void {
    const result = this.tracker.tallyVotes();
    // Votes of peers alone may already form a quorum, but a candidate leads only once its own term and vote are
    // durable: otherwise a crash could let it win the same term again, with a different log.
    if (result === 'won' && this.role === 'candidate' && this.tracker.votes.get(this.id) !== true) return;
    if (result === 'won') {
      if (this.role === 'preCandidate') this.campaign('election', false);
      else {
        this.becomeLeader();
        this.appendsDirty = true;
      }
    } else if (result === 'lost') {
      this.becomeFollower(this.term, NONE);
    }
  }

  // Message handling.

  step(m: Message): void {
    if (m.term === 0) {
      // Local message.
    } else if (m.term > this.term) {
      if (m.type === 'MsgVote' || m.type === 'MsgPreVote') {
        // Leader lease (Raft §4.2.3): while we hear from a leader, ignore disruptive candidates, unless the
        // election was asked for by a leadership transfer.
        const inLease =
          this.config.checkQuorum && this.lead !== NONE && this.electionElapsed < this.electionTimeout;
        if (inLease && !m.transfer) return;
      }
      if (m.type === 'MsgPreVote') {
        // A pre-vote never changes our term.
      } else if (m.type === 'MsgPreVoteResp' && !m.reject) {
        // We will move to this term ourselves if the pre-vote succeeds.
      } else if (m.type === 'MsgApp' || m.type === 'MsgHeartbeat' || m.type === 'MsgSnap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if (
        (this.config.checkQuorum || this.config.preVote) &&
        (m.type === 'MsgHeartbeat' || m.type === 'MsgApp')
      ) {
        // A stale leader (partitioned, then healed) learns our term from this and steps down; without it,
        // pre-vote/check-quorum could leave it stuck disrupting nobody but also never rejoining.
        this.send({ type: 'MsgAppResp', to: m.from });
      } else if (m.type === 'MsgPreVote') {
        this.send({ type: 'MsgPreVoteResp', to: m.from, reject: true });
      }
      return;
    }

    switch (m.type) {
      case 'MsgHup':
        this.hup(false);
        return;
      case 'MsgVote':
      case 'MsgPreVote':
        this.handleVoteRequest(m);
        return;
    }
    if (this.role === 'leader') this.stepLeader(m);
    else if (this.role === 'follower') this.stepFollower(m);
    else this.stepCandidate(m);
  }

  private handleVoteRequest(m: Message): void {
    const canVote =
      this.vote === m.from ||
      (this.vote === NONE && this.lead === NONE) ||
      (m.type === 'MsgPreVote' && m.term > this.term);
    const respType = m.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp';
    const upToDate =
      this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0) || this.config.testingBug === 'voteIgnoresLog';
    if (canVote && upToDate) {
      // A granted pre-vote answers in the candidate's future term so that it can count it.
      this.send({ type: respType, to: m.from, term: m.term });
      if (m.type === 'MsgVote') {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    const myVoteResp = this.role === 'preCandidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    switch (m.type) {
      case 'MsgApp':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'MsgHeartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshotChunk(m);
        return;
      case myVoteResp:
        this.tracker.recordVote(m.from, !m.reject);
        this.pollResult();
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case 'MsgApp':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleAppend(m);
        return;
      case 'MsgHeartbeat':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleHeartbeat(m);
        return;
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.lead = m.from;
        this.handleSnapshotChunk(m);
        return;
      case 'MsgProp':
        // A proposal another member sent us (it took us for the leader) goes on in our name: peer links refuse a
        // message whose sender is not the link's peer (no member may speak for another), so a relay keeping the
        // original sender was dropped on the way, and the client's write with it.
        if (this.lead !== NONE) this.msgs.push({ ...m, from: this.id, to: this.lead, term: 0 });
        return;
      case 'MsgTransferLeader':
      case 'MsgReadIndex':
        if (this.lead !== NONE) this.msgs.push({ ...m, to: this.lead, term: 0 });
        return;
      case 'MsgTimeoutNow':
        // Leadership transfer: campaign at once, skipping pre-vote (the leader asked us to).
        this.hup(true);
        return;
      case 'MsgReadIndexResp':
        this.readStates.push({ index: m.index ?? 0, context: m.context ?? new Uint8Array(0) });
        return;
    }
  }

  private handleAppend(m: Message): void {
    const prevIndex = m.index ?? 0;
    if (prevIndex < this.log.committed) {
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed });
      return;
    }
    const appended = this.log.maybeAppend(prevIndex, m.logTerm ?? 0, m.entries ?? []);
    if (appended !== undefined) {
      if (appended.truncatedFrom !== undefined) this.dropAcksFrom(appended.truncatedFrom);
      this.log.commitTo(Math.min(m.commit ?? 0, appended.lastNew));
      this.send({ type: 'MsgAppResp', to: m.from, index: appended.lastNew });
      return;
    }
    // Fast backtracking: tell the leader the largest index whose term is ≤ the one it tried, so it can skip
    // every entry of a mismatching term in one round trip.
    const hint = this.log.findConflictByTerm(Math.min(prevIndex, this.log.lastIndex()), m.logTerm ?? 0);
    this.send({
      type: 'MsgAppResp',
      to: m.from,
      index: prevIndex,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  /**
   * Entries from `index` on were just overwritten. Acknowledgements still waiting for persistence that vouch
   * for them would be lies once sent (the old leader could count them toward a commit): drop them. Acks already
   * handed to the host in a Ready stay true: they go out once that Ready's write, which holds those entries,
   * is durable. (Found by the simulator, seed 536.)
   */
  private dropAcksFrom(index: number): void {
    this.msgsAfterPersist = this.msgsAfterPersist.filter(
      (m) => !(m.type === 'MsgAppResp' && !m.reject && (m.index ?? 0) >= index),
    );
  }

  private handleHeartbeat(m: Message): void {
    this.log.commitTo(Math.min(m.commit ?? 0, this.log.lastIndex()));
    this.send({ type: 'MsgHeartbeatResp', to: m.from, context: m.context });
  }

  /** InstallSnapshot in chunks (Raft §7): collect them in order; install when the last one arrives. */
  private handleSnapshotChunk(m: Message): void {
    const chunk = m.snapshot as SnapshotChunk;
    const { index } = chunk.metadata;
    if (index <= this.log.committed) {
      this.incoming = undefined;
      this.send({ type: 'MsgAppResp', to: m.from, index: this.log.committed });
      return;
    }
    const cur = this.incoming;
    // Chunks belong together only if one leader sent them for one snapshot in one term: a different leader may
    // serialize the same index differently.
    const same =
      cur !== undefined &&
      cur.from === m.from &&
      cur.term === m.term &&
      cur.total === chunk.total &&
      cur.metadata.index === index &&
      cur.metadata.term === chunk.metadata.term;
    if (chunk.offset === 0 && !(same && cur.received > 0)) {
      this.incoming = {
        from: m.from,
        term: m.term,
        total: chunk.total,
        metadata: chunk.metadata,
        parts: [],
        received: 0,
      };
    } else if (!same || chunk.offset !== cur.received) {
      // Out of order or duplicate: tell the leader where we are.
      this.send({ type: 'MsgSnapResp', to: m.from, index, offset: same ? cur.received : 0 });
      return;
    }
    const inc = this.incoming!;
    if (chunk.offset === inc.received) {
      inc.parts.push(chunk.data);
      inc.received += chunk.data.length;
    }
    if (inc.received < chunk.total) {
      this.send({ type: 'MsgSnapResp', to: m.from, index, offset: inc.received });
      return;
    }
    const data = concat(inc.parts, inc.received);
    this.incoming = undefined;
    // Only a real restore vouches for our whole log; after a mere commit fast-forward our tail beyond the
    // snapshot may still diverge from the leader's, so we vouch for the commit index only (as etcd does).
    const restored = this.restore({ metadata: inc.metadata, data });
    this.send({
      type: 'MsgAppResp',
      to: m.from,
      index: restored ? this.log.lastIndex() : this.log.committed,
    });
  }

  private restore(snapshot: Snapshot): boolean {
    const { index, term, confState } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    if (this.log.matchTerm(index, term)) {
      // We already have this prefix: just fast-forward the commit index.
      this.log.commitTo(index);
      return false;
    }
    // A snapshot taken before we were added does not list us; we accept it anyway and learn of our own
    // addition from the log entries that follow it.
    // Our entries from the snapshot's index on disagree with it (or are missing): they are all discarded.
    this.dropAcksFrom(index);
    this.log.restore(snapshot);
    this.tracker.setConf(confState, this.log.lastIndex());
    return true;
  }

  // Membership.

  /** Applies a committed membership change (the host calls this when it applies the entry). */
  applyConfChange(cc: ConfChange): ConfState {
    const conf = applyChange(this.tracker.confState(), cc);
    this.tracker.setConf(conf, this.log.lastIndex());
    if (this.role === 'leader') {
      if (!this.tracker.isVoter(this.id)) {
        // A removed (or demoted) leader steps down; the rest elect a new one.
        this.becomeFollower(this.term, NONE);
        return conf;
      }
      if (this.leadTransferee !== NONE && !this.tracker.isVoter(this.leadTransferee))
        this.leadTransferee = NONE;
      // The quorum changed: entries may now be committed (e.g. a slow voter was removed).
      if (this.maybeCommit()) this.commitDirty = true;
      this.appendsDirty = true;
    }
    return conf;
  }

  /** Sets the configuration directly (bootstrap), bypassing the log. */
  setConf(conf: ConfState): void {
    this.tracker.setConf(conf, this.log.lastIndex());
  }

  /** Decodes a conf change entry's data (exposed so hosts need not import the codec). */
  static decodeConfChange(data: Uint8Array): ConfChange {
    return decodeConfChange(data);
  }
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
