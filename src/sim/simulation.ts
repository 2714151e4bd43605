// The deterministic simulator (in the manner of FoundationDB's and TigerBeetle's): a whole Raft cluster in one
// process, on a virtual clock, with one seeded PRNG choosing message fates, partitions, crashes, membership
// changes and leadership transfers. Nodes are real RawNodes driven by the Ready contract over simulated disks.
// Safety invariants are checked as events happen; liveness once the faults heal. Same seed → same run.

import { decodeConfChange } from '../raft/confchange.ts';
import { RawNode, type Ready } from '../raft/raw-node.ts';
import type { ConfChange, Message, NodeId } from '../raft/types.ts';
import type { PersistBatch } from '../storage.ts';
import { SimDisk } from './disk.ts';
import { EventQueue } from './event-queue.ts';
import { FaultModel } from './fault-model.ts';
import { memberView } from './member-view.ts';
import { DEFAULT_SIM_OPTIONS, type SimOptions, type SimResult, type SimStats } from './options.ts';
import { Rng } from './rng.ts';
import { SafetyChecker, SafetyViolation } from './safety.ts';
import { SimStateMachine } from './state-machine.ts';
import { RunTrace, type TraceEvent } from './trace.ts';

export { DEFAULT_SIM_OPTIONS, type SimOptions, type SimResult, type SimStats } from './options.ts';

const textDecoder = new TextDecoder();

class SimNode {
  raw!: RawNode;
  sm = new SimStateMachine();
  readonly disk = new SimDisk();
  alive = false;
  /** Bumped on every crash, so events scheduled for an earlier incarnation are ignored. */
  incarnation = 0;
  writing?: { ready: Ready; batch: PersistBatch };
  lastSnapshotIndex = 0;
  lastCommit = 0;
  lastApplied = 0;
  removed = false;
  prevVoters: readonly NodeId[] = [];
  /** Extra fsync latency (a stalling disk), in ms. */
  slowDiskMs = 0;

  readonly id: NodeId;

  constructor(id: NodeId) {
    this.id = id;
  }
}

/** Runs one seed; `watch` sees every event as it happens (the demo's seed replay records them). */
export function runSimulation(
  opts: Partial<SimOptions> & { seed: number },
  watch?: (e: TraceEvent) => void,
): SimResult {
  return new Simulation({ ...DEFAULT_SIM_OPTIONS, ...opts }, watch).run();
}

class Simulation {
  private readonly rng: Rng;
  private readonly netRng: Rng;
  private readonly raftRng: Rng;
  private readonly faults: FaultModel;
  private readonly queue = new EventQueue();
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly checker = new SafetyChecker();
  private now = 0;
  private nextId: bigint;
  private proposalSeq = 0;
  private readonly proposed = new Set<string>();
  private readonly committed = new Set<string>();
  private readonly trace: RunTrace;
  private healed = false;
  private pendingTransfer?: { to: NodeId };
  private readonly snapshotEvery: number;
  private readonly maxSizePerMsg: number;
  private readonly stats: SimStats = {
    elections: 0,
    crashes: 0,
    crashesLostData: 0,
    partitions: 0,
    snapshotsCreated: 0,
    snapshotsInstalled: 0,
    snapshotChunks: 0,
    membershipChanges: 0,
    transfers: 0,
    proposalsCommitted: 0,
    messagesSent: 0,
    messagesDropped: 0,
    readIndexServed: 0,
  };

  private readonly opts: SimOptions;

  constructor(opts: SimOptions, watch?: (e: TraceEvent) => void) {
    this.opts = opts;
    this.trace = new RunTrace(opts.traceSize, () => this.now, watch);
    const root = new Rng(opts.seed);
    this.rng = root.fork();
    this.netRng = root.fork();
    this.raftRng = root.fork();
    this.faults = new FaultModel(this.netRng, { minDelayMs: 1, maxDelayMs: 8 });
    this.nextId = BigInt(opts.nodes + 1);
    this.snapshotEvery = this.rng.range(15, 60);
    this.maxSizePerMsg = this.rng.pick([64, 256, 1024, 4096]);
  }

  private log(line: string): void {
    this.trace.note(line);
  }

  private at(delay: number, run: () => void): void {
    this.queue.push(this.now + delay, run);
  }

  run(): SimResult {
    const voters: NodeId[] = [];
    for (let i = 1; i <= this.opts.nodes; i++) voters.push(BigInt(i));
    for (const id of voters) this.nodes.set(id, new SimNode(id));
    for (const id of voters) this.start(this.nodes.get(id)!, { voters, learners: [] });
    if (this.opts.faults) this.at(this.rng.range(200, 600), () => this.nemesis());
    this.at(this.rng.range(5, 30), () => this.client());
    this.at(100, () => this.checkLogs());
    const healAt = this.opts.durationMs;
    const endAt = healAt + this.opts.livenessMs;
    this.queue.push(healAt, () => this.heal());
    let violation: SimResult['violation'];
    let livenessOk = false;
    try {
      for (;;) {
        const ev = this.queue.pop();
        if (!ev) break;
        if (ev.time > endAt) break;
        this.now = ev.time;
        ev.run();
        if (this.healed && this.livenessReached()) {
          livenessOk = true;
          break;
        }
      }
      if (!livenessOk) {
        for (const n of this.nodes.values()) this.log(this.describe(n));
        throw new SafetyViolation(
          'liveness',
          `no leader with a proposal applied on every member within ${this.opts.livenessMs}ms of healing`,
        );
      }
      this.checkLogs(false);
    } catch (e) {
      if (!(e instanceof SafetyViolation)) {
        this.log(`crash of the simulator itself: ${(e as Error).stack}`);
        violation = { invariant: 'internal error', message: String((e as Error).message) };
      } else {
        violation = { invariant: e.invariant, message: e.message };
      }
      this.log(`VIOLATION ${violation.message}`);
    }
    this.stats.proposalsCommitted = this.committed.size;
    return {
      seed: this.opts.seed,
      ok: violation === undefined,
      violation,
      stats: this.stats,
      trace: this.trace.tail(this.opts.traceSize),
      digest: this.trace.hex(),
      virtualMs: this.now,
    };
  }

  // Node lifecycle.

  private start(node: SimNode, bootstrap?: { voters: NodeId[]; learners: NodeId[] }): void {
    node.alive = true;
    node.incarnation++;
    const loaded = node.disk.load();
    node.raw = new RawNode(
      {
        id: node.id,
        random: this.raftRng,
        electionTick: 10,
        heartbeatTick: 1,
        maxSizePerMsg: this.maxSizePerMsg,
        maxInflightMsgs: 8,
        snapshotChunkBytes: 96,
        snapshotCatchUpEntries: 4,
        maxApplyLag: 1000,
        testingUnsafeCommitAnyTerm: this.opts.unsafeCommitAnyTerm,
        testingBug: this.opts.bug,
      },
      loaded,
      bootstrap,
    );
    node.sm = loaded.snapshot ? SimStateMachine.restore(loaded.snapshot.data) : new SimStateMachine();
    node.lastSnapshotIndex = loaded.snapshot?.metadata.index ?? 0;
    node.writing = undefined;
    node.lastCommit = 0;
    node.lastApplied = node.sm.applied;
    const inc = node.incarnation;
    const tick = () => {
      if (!node.alive || node.incarnation !== inc) return;
      node.raw.tick();
      this.process(node);
      this.at(this.opts.tickMs, tick);
    };
    this.at(this.rng.range(1, this.opts.tickMs), tick);
    this.process(node);
  }

  private crash(node: SimNode): void {
    this.stats.crashes++;
    let what = 'nothing in flight';
    const w = node.writing;
    if (w) {
      // The write in flight survives entirely, not at all, or as a torn prefix of its entries.
      const roll = this.rng.int(3);
      const n = w.batch.entries.length;
      if (roll === 0) {
        node.disk.write(w.batch);
        what = 'in-flight write survived';
      } else {
        const prefix = roll === 1 ? 0 : this.rng.int(n + 1);
        if (prefix < n || w.batch.hardState) this.stats.crashesLostData++;
        node.disk.write(
          { entries: w.batch.entries, snapshot: prefix > 0 ? w.batch.snapshot : undefined },
          prefix,
        );
        what = `lost unsynced write (${n - prefix} of ${n} entries${w.batch.hardState ? ' and hard state' : ''})`;
      }
    }
    node.alive = false;
    node.incarnation++;
    node.writing = undefined;
    this.log(`crash n${node.id}: ${what}`);
    this.trace.memberDown(Number(node.id));
  }

  private restart(node: SimNode): void {
    if (node.alive || node.removed) return;
    this.log(
      `restart n${node.id} (durable last index ${node.disk.lastIndex()}, term ${node.disk.hardState.term})`,
    );
    this.start(node);
  }

  // The Ready loop, as a host runs it: send, persist, send what needed persistence, apply, advance.

  private process(node: SimNode): void {
    this.pump(node);
    if (this.trace.watched && node.alive)
      this.trace.member(Number(node.id), () => memberView(node.raw, node.sm.applied));
  }

  private pump(node: SimNode): void {
    // One Ready at a time: while a write is in flight nothing more is sent (what a host does; see replica.ts).
    while (node.alive && !node.writing && node.raw.hasReady()) {
      const rd = node.raw.ready();
      this.observeReady(node, rd);
      for (const m of rd.messages) this.send(node, m, false);
      const batch: PersistBatch = { entries: rd.entries, hardState: rd.hardState, snapshot: rd.snapshot };
      if (rd.entries.length === 0 && !rd.hardState && !rd.snapshot) {
        this.finish(node, rd, batch);
        continue;
      }
      node.writing = { ready: rd, batch };
      const inc = node.incarnation;
      this.at(this.rng.range(1, 4) + (node.slowDiskMs > 0 ? this.rng.range(0, node.slowDiskMs) : 0), () => {
        if (node.incarnation !== inc || !node.alive) return;
        this.finish(node, rd, batch);
        this.process(node);
      });
    }
  }

  private observeReady(node: SimNode, rd: Ready): void {
    const raft = node.raw.status();
    const log = node.raw.logView();
    if (rd.softState?.role === 'leader') {
      this.stats.elections++;
      this.log(`n${node.id} becomes leader of term ${raft.term}`);
      // A watcher sees the new leader at this line, not after the messages of its first Ready.
      if (this.trace.watched) this.trace.member(Number(node.id), () => memberView(node.raw, node.sm.applied));
      this.checker.leaderElected(node.id, raft.term, node.disk);
      this.checker.leaderCompleteness(node.id, raft.term, log);
      if (this.pendingTransfer?.to === node.id) {
        this.stats.transfers++;
        this.pendingTransfer = undefined;
      }
    }
    if (rd.entries.length > 0) this.checker.entriesPersisted(node.id, rd.entries);
    const commit = raft.commit;
    if (commit < node.lastCommit) {
      throw new SafetyViolation(
        'monotonic commit',
        `n${node.id} commit went from ${node.lastCommit} to ${commit}`,
      );
    }
    if (raft.role === 'leader' && commit > node.lastCommit) {
      // The commit may have been counted under the configuration before a change applied since the last
      // Ready (changes take effect when applied): either configuration's majority must hold it.
      const disks = (id: NodeId) => this.nodes.get(id)?.disk;
      const term = log.term(commit);
      try {
        this.checker.leaderCommitted(node.id, commit, term, raft.conf.voters, disks);
      } catch (e) {
        if (sameIds(node.prevVoters, raft.conf.voters)) throw e;
        this.checker.leaderCommitted(node.id, commit, term, node.prevVoters, disks);
      }
    }
    node.lastCommit = commit;
    node.prevVoters = raft.conf.voters;
  }

  private finish(node: SimNode, rd: Ready, batch: PersistBatch): void {
    node.disk.write(batch);
    node.writing = undefined;
    for (const m of rd.messagesAfterPersist) this.send(node, m, true);
    if (rd.snapshot) {
      node.sm = SimStateMachine.restore(rd.snapshot.data);
      node.lastSnapshotIndex = rd.snapshot.metadata.index;
      this.checker.snapshotRestored(node.id, node.sm.applied, node.sm.hash);
      this.stats.snapshotsInstalled++;
      this.log(`n${node.id} installed snapshot at ${rd.snapshot.metadata.index}`);
    }
    for (const e of rd.committedEntries) {
      if (e.index <= node.sm.applied) continue;
      node.sm.apply(e);
      this.checker.entryApplied(node.id, e, node.sm.hash);
      if (e.type === 'confChange') this.applyConfChange(node, e.index, decodeConfChange(e.data));
      else if (e.data.length > 0) {
        const key = textDecoder.decode(e.data.subarray(0, 24)).split('|')[0];
        if (this.proposed.has(key)) this.committed.add(key);
      }
    }
    if (node.sm.applied < node.lastApplied) {
      throw new SafetyViolation('monotonic apply', `n${node.id} applied went back to ${node.sm.applied}`);
    }
    node.lastApplied = node.sm.applied;
    this.stats.readIndexServed += rd.readStates.length;
    node.raw.advance();
    // A leader with a follower to catch up and no snapshot in memory asks for one (as after a restart).
    const wanted = node.raw.wantsSnapshot();
    if (node.alive && (wanted || node.sm.applied - node.lastSnapshotIndex >= this.snapshotEvery)) {
      const snap = node.raw.createSnapshot(node.sm.serialize(this.rng.range(100, 600)));
      if (snap) {
        node.disk.saveSnapshot(snap);
        node.lastSnapshotIndex = snap.metadata.index;
        this.stats.snapshotsCreated++;
      }
    }
  }

  private applyConfChange(node: SimNode, index: number, cc: ConfChange): void {
    const conf = node.raw.applyConfChange(cc);
    if (index > this.opts.nodes && node.raw.basicStatus().role === 'leader') {
      this.stats.membershipChanges++;
      this.log(`n${node.id} applied ${cc.type} n${cc.nodeId} at ${index}: voters ${conf.voters.join(',')}`);
    }
    if (cc.type === 'removeNode' && cc.nodeId === node.id && index > this.opts.nodes) {
      // Like etcd, a removed member shuts itself down once it applies its removal.
      node.removed = true;
      this.at(this.rng.range(10, 200), () => {
        if (node.alive) {
          node.alive = false;
          node.incarnation++;
          this.log(`n${node.id} shut down after its removal`);
          this.trace.memberDown(Number(node.id), true);
        }
      });
    }
  }

  // The network.

  private send(from: SimNode, m: Message, afterPersist: boolean): void {
    this.checker.messageSent(m, afterPersist, from.disk);
    if (m.type === 'MsgSnap') this.stats.snapshotChunks++;
    this.stats.messagesSent++;
    const to = this.nodes.get(m.to);
    if (!to) return;
    const delays = this.faults.plan(m.from, m.to);
    if (delays.length === 0) this.stats.messagesDropped++;
    const id = this.trace.sent(m, delays, !this.faults.canReach(m.from, m.to));
    for (const d of delays) {
      this.at(d, () => {
        this.trace.delivered(id, Number(to.id), to.alive);
        if (!to.alive) return;
        to.raw.step(m);
        this.process(to);
      });
    }
  }

  // Workload: proposals at random members (followers forward them).

  private client(): void {
    const live = [...this.nodes.values()].filter((n) => n.alive);
    if (live.length > 0) {
      const node = this.rng.pick(live);
      const key = `p${this.proposalSeq++}`;
      const data = new TextEncoder().encode(`${key}|${'x'.repeat(this.rng.range(0, 200))}`);
      const res = node.raw.propose(data);
      if (res.ok) this.proposed.add(key);
      if (this.rng.chance(0.1)) node.raw.readIndex(new TextEncoder().encode(key));
      this.process(node);
    }
    this.at(this.rng.range(3, 25), () => this.client());
  }

  // Faults.

  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const n of this.nodes.values()) {
      if (!n.alive) continue;
      const s = n.raw.basicStatus();
      if (s.role === 'leader' && (!best || s.term > best.raw.basicStatus().term)) best = n;
    }
    return best;
  }

  private nemesis(): void {
    if (this.healed) return;
    const roll = this.rng.int(100);
    const all = [...this.nodes.values()].filter((n) => !n.removed);
    const live = all.filter((n) => n.alive);
    const lead = this.leader();
    if (roll < 25) {
      if (live.length > 0) {
        // Half the time the leader: the most interesting member to lose (Jepsen's "kill the primary").
        const victim = lead && this.rng.chance(0.5) ? lead : this.rng.pick(live);
        this.crash(victim);
        this.at(this.rng.range(50, 1500), () => this.restart(victim));
      }
    } else if (roll < 45) {
      const ids = all.map((n) => n.id);
      const side = lead && this.rng.chance(0.5) ? [lead.id] : ids.filter(() => this.rng.chance(0.5));
      this.faults.partition([side]);
      this.stats.partitions++;
      this.log(`partition {${side.join(',')}} | rest`);
      this.at(this.rng.range(100, 2000), () => this.healNetwork());
    } else if (roll < 52) {
      if (all.length >= 2) {
        const a = this.rng.pick(all).id;
        const b = this.rng.pick(all).id;
        if (a !== b) {
          this.faults.cut(a, b);
          this.stats.partitions++;
          this.log(`cut n${a} -> n${b}`);
          this.at(this.rng.range(100, 1500), () => this.healNetwork());
        }
      }
    } else if (roll < 62) {
      const dropRate = this.rng.pick([0, 0.05, 0.2, 0.4]);
      const duplicateRate = this.rng.pick([0, 0.05, 0.2]);
      const maxDelayMs = this.rng.pick([8, 30, 80]);
      this.faults.setRates({ dropRate, duplicateRate, maxDelayMs });
      this.log(`network drop ${dropRate} dup ${duplicateRate} delay ≤${maxDelayMs}ms`);
    } else if (roll < 80) {
      this.membershipChange();
    } else if (roll < 90) {
      if (lead) {
        const voters = lead.raw.status().conf.voters.filter((v) => v !== lead.id);
        if (voters.length > 0) {
          const to = this.rng.pick(voters);
          this.log(`transfer leadership n${lead.id} -> n${to}`);
          this.pendingTransfer = { to };
          lead.raw.transferLeader(to);
          this.process(lead);
        }
      }
    } else if (roll < 95) {
      // A stalling disk (slow fsync), most interesting on the leader.
      const victim = lead && this.rng.chance(0.5) ? lead : this.rng.pick(all);
      victim.slowDiskMs = this.rng.range(20, 200);
      this.log(`slow disk n${victim.id} (up to +${victim.slowDiskMs}ms per write)`);
      this.at(this.rng.range(200, 2000), () => {
        victim.slowDiskMs = 0;
      });
    } else {
      if (all.length >= 2) {
        const a = this.rng.pick(all).id;
        const b = this.rng.pick(all).id;
        if (a !== b) {
          this.faults.slowLink(a, b, this.rng.range(20, 150));
          this.log(`slow link n${a} -> n${b}`);
        }
      }
    }
    this.networkView();
    this.at(this.rng.range(100, 700), () => this.nemesis());
  }

  /** For a watcher: which links partitions and cuts block now. */
  private networkView(): void {
    if (!this.trace.watched) return;
    const ids = [...this.nodes.keys()].map(Number);
    this.trace.network(ids, (a, b) => this.faults.canReach(BigInt(a), BigInt(b)));
  }

  private membershipChange(): void {
    const lead = this.leader();
    if (!lead) return;
    const { voters, learners } = lead.raw.status().conf;
    let cc: ConfChange | undefined;
    const roll = this.rng.int(3);
    if (roll === 0 && voters.length + learners.length < 6) {
      const id = this.nextId++;
      const node = new SimNode(id);
      this.nodes.set(id, node);
      this.start(node);
      cc = { type: 'addLearner', nodeId: id };
    } else if (roll === 1 && learners.length > 0) {
      cc = { type: 'addNode', nodeId: this.rng.pick(learners) };
    } else if (voters.length > 3) {
      cc = { type: 'removeNode', nodeId: this.rng.pick(voters) };
    }
    if (!cc) return;
    const res = lead.raw.proposeConfChange(cc);
    this.log(`propose ${cc.type} n${cc.nodeId} at n${lead.id}: ${res.ok ? 'accepted' : res.reason}`);
    this.process(lead);
  }

  private healNetwork(): void {
    this.faults.heal();
    this.networkView();
  }

  private heal(): void {
    this.healed = true;
    this.faults.heal();
    this.faults.setRates({ dropRate: 0, duplicateRate: 0, maxDelayMs: 8 });
    this.networkView();
    this.log('heal: network healed, crashed members restart');
    for (const n of this.nodes.values()) if (!n.alive && !n.removed) this.restart(n);
    this.livenessProbe();
  }

  private livenessKey?: string;

  private livenessProbe(): void {
    const lead = this.leader();
    if (lead) {
      if (!this.livenessKey) this.livenessKey = `p${this.proposalSeq++}`;
      const key = this.livenessKey;
      if (!this.committed.has(key)) {
        const res = lead.raw.propose(new TextEncoder().encode(`${key}|liveness`));
        if (res.ok) this.proposed.add(key);
        this.process(lead);
      }
    }
    this.at(200, () => this.livenessProbe());
  }

  /** After healing: a leader exists and the liveness proposal is applied on every member of its config. */
  private livenessReached(): boolean {
    const key = this.livenessKey;
    if (!key || !this.committed.has(key)) return false;
    const lead = this.leader();
    if (!lead) return false;
    const { conf, commit } = lead.raw.status();
    const { voters, learners } = conf;
    for (const id of [...voters, ...learners]) {
      const n = this.nodes.get(id);
      if (!n?.alive || n.sm.applied < commit) return false;
    }
    return true;
  }

  private describe(n: SimNode): string {
    if (!n.alive) return `n${n.id} down${n.removed ? ' (removed)' : ''}`;
    const s = n.raw.status();
    const progress = [...s.progress].map(([id, p]) => `n${id}:${p.state}/${p.match}/${p.next}`).join(' ');
    return (
      `n${n.id} ${s.role} term ${s.term} lead n${s.lead} commit ${s.commit} applied ${s.applied} ` +
      `last ${s.lastIndex} first ${s.firstIndex} voters ${s.conf.voters.join(',')} learners ` +
      `${s.conf.learners.join(',')} ${progress}`
    );
  }

  private checkLogs(reschedule = true): void {
    const live = [...this.nodes.values()].filter((n) => n.alive);
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        this.checker.logsMatch(live[i].id, live[i].raw.logView(), live[j].id, live[j].raw.logView());
      }
    }
    if (reschedule) this.at(100, () => this.checkLogs());
  }
}

/** The same members in the same order (configurations are kept sorted). */
function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id, i) => id === b[i]);
}
