// The cluster half of the whole-member simulator (kv-simulation.ts): the members (Replicas on simulated disks),
// their ticks, crashes and restarts, the network between them (the fault model, runtime profiles' delays), the
// virtual clock, the trace (./trace.ts, which also computes the digest), and the Raft safety checks on every message and Ready. The workloads,
// the nemesis and the end-of-run checks are in KvSimulation, which extends this class. Keep-alives at a follower go
// to the leader as lease messages (src/server/lease-forward.ts) between Node members, over the same faulty network
// (not in the trace); members with a runtime profile lack them, as the fetch and browser transports do.

import { DEFAULT_MAX_REQUEST_BYTES, DEFAULT_MAX_TXN_OPS } from '../etcd/limits.ts';
import { MemorySpill } from '../mvcc/memory-spill.ts';
import type { NodeId } from '../raft/types.ts';
import { KeepAliveForwarder } from '../server/lease-forward.ts';
import { type BootstrapMember, Replica, type ReplicaConfig } from '../server/replica.ts';
import { drainSnapshotSource, type PersistBatch } from '../storage.ts';
import type { LeaseMessage, LeaseSendResult } from '../transport.ts';
import { SimDisk } from './disk.ts';
import { EventQueue } from './event-queue.ts';
import { FaultModel } from './fault-model.ts';
import { memberView } from './member-view.ts';
import type { KvSimOptions, KvSimStats } from './options.ts';
import type { RuntimeModel } from './profiles.ts';
import { Rng } from './rng.ts';
import { SafetyChecker } from './safety.ts';
import { RunTrace, type TraceEvent } from './trace.ts';

export const TICK_MS = 10;
export const ELECTION_TICKS = 10;

export class Member {
  replica!: Replica;
  /** Where the workload's keep-alives go (a follower forwards them to the leader). */
  leases!: KeepAliveForwarder;
  readonly disk = new SimDisk();
  alive = false;
  incarnation = 0;
  /** The write in flight (a crash may leave a torn prefix of it). */
  writing?: PersistBatch;
  lastLeaderTerm = 0;
  slowDiskMs = 0;
  readonly id: NodeId;
  /** Absent: a Node member, driven exactly as before profiles existed (seeds keep their runs). */
  readonly runtime?: RuntimeModel;

  constructor(id: NodeId, runtime?: RuntimeModel) {
    this.id = id;
    this.runtime = runtime;
  }
}

export abstract class KvCluster {
  protected readonly rng: Rng;
  protected readonly faults: FaultModel;
  protected readonly queue = new EventQueue();
  protected readonly members = new Map<NodeId, Member>();
  protected readonly checker = new SafetyChecker();
  protected readonly bootstrap: BootstrapMember[] = [];
  protected now = 0;
  protected healed = false;
  protected readonly trace: RunTrace;
  protected readonly stats: KvSimStats = {
    opsOk: 0,
    opsFailed: 0,
    opsIndeterminate: 0,
    readsOk: 0,
    casSucceeded: 0,
    watchEvents: 0,
    watchersChecked: 0,
    leaseKeepAlives: 0,
    leasesExpired: 0,
    crashes: 0,
    partitions: 0,
    elections: 0,
    snapshotsInstalled: 0,
    linearizabilitySteps: 0,
    runtimePauses: 0,
  };
  protected readonly opts: KvSimOptions;

  constructor(opts: KvSimOptions, watch?: (e: TraceEvent) => void) {
    this.opts = opts;
    this.trace = new RunTrace(opts.traceSize, () => this.now, watch);
    const root = new Rng(opts.seed ^ 0x5bd1e995);
    this.rng = root.fork();
    this.faults = new FaultModel(root.fork(), { minDelayMs: 1, maxDelayMs: 6 });
  }

  protected log(line: string): void {
    this.trace.note(line);
  }

  protected at(delay: number, run: () => void): void {
    this.queue.push(this.now + delay, run);
  }

  // Members.

  protected config(id: NodeId): ReplicaConfig {
    return {
      id,
      clusterId: 0xc105n,
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      snapshotCount: this.rng.range(20, 80),
      requestTimeoutMs: 1500,
      maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
      maxTxnOps: DEFAULT_MAX_TXN_OPS,
      leaseCheckpointIntervalMs: 500,
      raft: {
        snapshotChunkBytes: 512,
        snapshotCatchUpEntries: 5,
        maxInflightMsgs: 16,
        maxSizePerMsg: 4096,
        testingBug: this.opts.bug,
      },
      // Half the seeds also compact automatically (the leader's duty, through Raft).
      autoCompaction:
        this.opts.seed % 2 === 0 ? { mode: 'revision', retention: 40, intervalMs: 700 } : undefined,
    };
  }

  protected start(m: Member): void {
    m.alive = true;
    m.incarnation++;
    const inc = m.incarnation;
    const loaded = m.disk.load();
    m.replica = new Replica(
      this.config(m.id),
      loaded,
      this.bootstrap,
      {
        send: (messages, afterPersist) => {
          for (const msg of messages) this.send(m, msg, afterPersist);
        },
        persist: (batch, done) => {
          this.checker.entriesPersisted(m.id, batch.entries);
          m.writing = batch;
          const base = m.runtime ? m.runtime.diskLatency() : this.rng.range(1, 4);
          const latency = base + (m.slowDiskMs > 0 ? this.rng.range(0, m.slowDiskMs) : 0);
          this.at(latency, () => {
            if (m.incarnation !== inc || !m.alive) return;
            m.disk.write(batch);
            m.writing = undefined;
            if (batch.snapshot) {
              this.stats.snapshotsInstalled++;
              this.log(`n${m.id} installed snapshot at ${batch.snapshot.metadata.index}`);
            }
            done();
          });
        },
        saveSnapshot: (snapshot, done) => {
          m.disk.saveSnapshot(snapshot);
          done();
        },
        // Read at once (as saveSnapshot: the same events), in odd-sized pieces so that records are cut anywhere.
        saveSnapshotStream: (source, done) => {
          m.disk.saveSnapshot(drainSnapshotSource(source, 13 + (source.metadata.index % 241)));
          done();
        },
        // Values through a spill of a few segments: every seed reads values back from it (value-store.ts).
        values: () => ({ spill: new MemorySpill(), residentBytes: 128, segmentBytes: 64 }),
        now: () => this.now,
        applied: (e) => this.checker.entryApplied(m.id, e, 0),
      },
      this.rng.fork(),
      { debug() {}, info() {}, warn() {}, error() {} },
    );
    const replica = m.replica;
    m.leases = new KeepAliveForwarder(
      {
        id: m.id,
        requestTimeoutMs: replica.config.requestTimeoutMs,
        electionTimeoutMs: replica.electionTimeoutMs,
        now: () => this.now,
        leader: () => replica.leaderId,
        applied: () => replica.sm.appliedIndex,
        keepAlive: (lease, cb, forwarded) => replica.keepAlive(lease, cb, forwarded),
        timeToLive: (lease) => replica.sm.lessor.timeToLive(lease, this.now),
        send: (message) => this.sendLease(m, message),
      },
      inc << 16, // no draw from the seed's generator: runs without keep-alives stay as they were
    );
    m.replica.onChange(() => this.observe(m));
    const tick = () => {
      if (m.incarnation !== inc || !m.alive) return;
      m.replica.tick();
      m.leases.tick();
      this.at(m.runtime ? m.runtime.nextTick(this.now, TICK_MS) - this.now : TICK_MS, tick);
    };
    this.at(this.rng.range(1, TICK_MS), tick);
  }

  protected observe(m: Member): void {
    const raft = m.replica.raw.basicStatus();
    if (raft.role === 'leader' && m.lastLeaderTerm !== raft.term) {
      m.lastLeaderTerm = raft.term;
      this.stats.elections++;
      this.log(`n${m.id} leads term ${raft.term}`);
      this.checker.leaderElected(m.id, raft.term, m.disk);
      this.checker.leaderCompleteness(m.id, raft.term, m.replica.raw.logView());
    }
    if (this.trace.watched && m.alive) this.trace.member(Number(m.id), () => memberView(m.replica.raw));
  }

  protected crash(m: Member): void {
    this.stats.crashes++;
    if (m.writing && this.rng.chance(0.5)) {
      const n = m.writing.entries.length;
      const prefix = this.rng.int(n + 1);
      m.disk.write(
        { entries: m.writing.entries, snapshot: prefix > 0 ? m.writing.snapshot : undefined },
        prefix,
      );
    }
    m.writing = undefined;
    m.alive = false;
    m.incarnation++;
    m.replica.stop();
    m.leases.stop();
    this.log(`crash n${m.id}`);
    this.trace.memberDown(Number(m.id));
  }

  protected send(
    from: Member,
    msg: Parameters<SafetyChecker['messageSent']>[0],
    afterPersist: boolean,
  ): void {
    this.checker.messageSent(msg, afterPersist, from.disk);
    const to = this.members.get(msg.to);
    if (!to) return;
    const delays = this.faults
      .plan(msg.from, msg.to)
      .map((d) => (to.runtime || from.runtime ? this.runtimeDelay(from, to, d) : d));
    const id = this.trace.sent(msg, delays, !this.faults.canReach(msg.from, msg.to));
    for (const delay of delays) {
      this.at(delay, () => {
        this.trace.delivered(id, Number(to.id), to.alive);
        if (to.alive) to.replica.step(msg);
      });
    }
  }

  /** A lease message, between Node members only; 'never' otherwise (the keep-alive then goes through Raft). */
  protected sendLease(from: Member, message: LeaseMessage): LeaseSendResult {
    const to = this.members.get(message.to);
    if (!to || to.runtime || from.runtime) return 'never';
    for (const delay of this.faults.plan(message.from, message.to)) {
      this.at(delay, () => {
        if (to.alive) to.leases.receive(message);
      });
    }
    return 'sent';
  }

  /** A message's delay through both members' runtimes (links, and a frozen receiver that handles it later). */
  protected runtimeDelay(from: Member, to: Member, d: number): number {
    const at = this.now + d + (from.runtime?.netDelay() ?? 0) + (to.runtime?.netDelay() ?? 0);
    return (to.runtime ? to.runtime.deliveryTime(at) : at) - this.now;
  }

  /** For a watcher: which links partitions and cuts block now. */
  protected networkView(): void {
    if (!this.trace.watched) return;
    const ids = [...this.members.keys()].map(Number);
    this.trace.network(ids, (a, b) => this.faults.canReach(BigInt(a), BigInt(b)));
  }

  protected live(): Member[] {
    return [...this.members.values()].filter((m) => m.alive);
  }

  /** Where clients send linearizable reads and writes: the voters (learners refuse them, as etcd's do). */
  protected clientTargets(): Member[] {
    return this.live().filter((m) => !m.runtime?.profile.learner);
  }
}
