// The simulator with the whole member (Replica: Raft + MVCC + watch + leases) and client workloads: clients
// issue get / put / delete / compare-and-set / lease operations against random members while the network,
// disks and processes fail. Checked: Raft safety (as in simulation.ts, through the Replica's I/O), the
// linearizability of the client history (per key), that every watcher sees every event of its range exactly
// once and in order, that a kept-alive lease's key never vanishes, that members converge to one keyspace
// hash, and liveness after healing. The members, network and clock are in kv-cluster.ts (KvCluster, which this
// simulation extends); here are the options, the workloads, the nemesis and the checks.

import type { EtcdError } from '../etcd/errors.ts';
import type { Event } from '../etcd/types.ts';
import type { ApplyResult } from '../server/state-machine.ts';
import type { WatchStream } from '../watch/index.ts';
import { ELECTION_TICKS, KvCluster, Member, TICK_MS } from './kv-cluster.ts';
import {
  checkOperations,
  etcdKvModel,
  type KvInput,
  type KvOperation,
  type KvOutput,
} from './linearizability/index.ts';
import { DEFAULT_KV_SIM_OPTIONS, type KvSimOptions, type KvSimResult } from './options.ts';
import { RuntimeModel } from './profiles.ts';
import { SafetyViolation } from './safety.ts';
import type { TraceEvent } from './trace.ts';

export {
  DEFAULT_KV_SIM_OPTIONS,
  type KvSimOptions,
  type KvSimResult,
  type KvSimStats,
} from './options.ts';

const DEBUG = (globalThis as { SIM_DEBUG?: boolean }).SIM_DEBUG === true;
const LEASE_TTL_S = 2;
const enc = new TextEncoder();
const dec = new TextDecoder();

interface WatchClient {
  readonly member: Member;
  readonly incarnation: number;
  readonly stream: WatchStream;
  readonly start: number;
  readonly events: Event[];
  lastRevision: number;
  canceled: boolean;
}

/** Runs one seed; `watch` sees every event as it happens (the demo's seed replay records them). */
export function runKvSimulation(
  opts: Partial<KvSimOptions> & { seed: number },
  watch?: (e: TraceEvent) => void,
): KvSimResult {
  return new KvSimulation({ ...DEFAULT_KV_SIM_OPTIONS, ...opts }, watch).run();
}

class KvSimulation extends KvCluster {
  private readonly history: KvOperation[] = [];
  private readonly pending = new Map<number, KvOperation>();
  private readonly watchers: WatchClient[] = [];
  private livenessDone = false;
  /** The lease client: its lease, its key, and the call time of its last successful keep-alive. */
  private lease?: {
    id: bigint;
    key: Uint8Array;
    lastKeepAliveCall: number;
    keepingAlive: boolean;
    stoppedAt: number;
  };

  run(): KvSimResult {
    const profiles = this.opts.profiles;
    for (let i = 1; i <= (profiles?.length ?? this.opts.nodes); i++) {
      const id = BigInt(i);
      const profile = profiles?.[i - 1];
      this.bootstrap.push({ id, name: `n${i}`, peerURLs: [`sim://n${i}`], isLearner: profile?.learner });
      this.members.set(id, new Member(id, profile && new RuntimeModel(profile, this.rng.fork())));
    }
    for (const m of this.members.values()) this.start(m);
    for (let c = 0; c < this.opts.clients; c++) this.at(this.rng.range(50, 300), () => this.client(c));
    this.at(this.rng.range(300, 800), () => this.startLeaseClient());
    this.at(this.rng.range(200, 600), () => this.startWatcher());
    if (this.opts.faults) this.at(this.rng.range(300, 800), () => this.nemesis());
    this.queue.push(this.opts.durationMs, () => this.heal());
    const endAt = this.opts.durationMs + this.opts.livenessMs;
    let violation: KvSimResult['violation'];
    try {
      for (;;) {
        const ev = this.queue.pop();
        if (!ev || ev.time > endAt) break;
        this.now = ev.time;
        ev.run();
        if (this.livenessDone) break;
      }
      if (!this.livenessDone)
        throw new SafetyViolation('liveness', 'no write completed on a healed cluster in time');
      this.finalChecks();
    } catch (e) {
      if (e instanceof SafetyViolation) violation = { invariant: e.invariant, message: e.message };
      else {
        this.log(`simulator error: ${(e as Error).stack}`);
        violation = { invariant: 'internal error', message: String((e as Error).message) };
      }
      this.log(`VIOLATION ${violation.message}`);
    }
    return {
      seed: this.opts.seed,
      ok: !violation,
      violation,
      stats: this.stats,
      trace: this.trace.tail(this.opts.traceSize),
      digest: this.trace.hex(),
    };
  }

  // Clients: each issues one operation at a time against a random live member.

  private client(c: number): void {
    const live = this.clientTargets();
    if (live.length === 0) {
      this.at(50, () => this.client(c));
      return;
    }
    const m = this.rng.pick(live);
    const key = `k${this.rng.int(this.opts.keys)}`;
    const roll = this.rng.int(100);
    let input: KvInput;
    if (roll < 35) input = { op: 'get', key };
    else if (roll < 70) input = { op: 'put', key, value: `v${c}-${this.rng.int(1_000_000)}` };
    else if (roll < 80) input = { op: 'delete', key };
    else {
      const known = [...this.history].reverse().find((o) => o.input.key === key && 'value' in o.output);
      const expected = known && 'value' in known.output ? (known.output.value as string | null) : null;
      input = { op: 'cas', key, expectedValue: expected, newValue: `c${c}-${this.rng.int(1_000_000)}` };
    }
    const call = this.now;
    const inc = m.incarnation;
    let finished = false;
    const op = describeInput(input);
    this.trace.client(c, Number(m.id), op, 'invoke');
    // Still pending when the run ends: a write may have taken effect, so it counts as indeterminate.
    this.pending.set(c, {
      clientId: c,
      input,
      call,
      output: { unknown: true },
      return: Number.POSITIVE_INFINITY,
    });
    const finish = (output: KvOutput | undefined, failure?: EtcdError) => {
      if (finished) return;
      finished = true;
      this.pending.delete(c);
      if (DEBUG)
        this.log(
          `client ${c} ${JSON.stringify(input)} at n${m.id} -> ${output ? JSON.stringify(output) : failure?.message}`,
        );
      this.trace.client(
        c,
        Number(m.id),
        op,
        output ? 'ok' : failure && definiteFailure(failure) && m.incarnation === inc ? 'fail' : 'unknown',
        output ? JSON.stringify(output) : (failure?.message ?? 'member crashed'),
      );
      if (output) {
        this.history.push({ clientId: c, input, call, output, return: this.now });
        this.stats.opsOk++;
        if (input.op === 'get') this.stats.readsOk++;
      } else if (failure && definiteFailure(failure) && m.incarnation === inc) {
        this.stats.opsFailed++;
      } else if (input.op !== 'get') {
        // Timed out, member crashed, leader changed: the write may or may not have happened.
        this.history.push({
          clientId: c,
          input,
          call,
          output: { unknown: true },
          return: Number.POSITIVE_INFINITY,
        });
        this.stats.opsIndeterminate++;
      } else {
        this.stats.opsFailed++;
      }
      this.at(this.rng.range(1, 20), () => this.client(c));
    };
    const r = m.replica;
    const k = enc.encode(key);
    switch (input.op) {
      case 'get':
        r.read((err) => {
          if (err) return finish(undefined, err);
          const kv = r.sm.mvcc.range({ key: k }).kvs[0];
          if (DEBUG)
            this.log(
              `get ${key} at n${m.id} rev ${r.sm.mvcc.revision} applied ${r.sm.appliedIndex} -> ${kv ? dec.decode(kv.value) : null}`,
            );
          finish({ value: kv ? dec.decode(kv.value) : null });
        });
        break;
      case 'put':
        r.submit({ type: 'put', request: { key: k, value: enc.encode(input.value) } }, (res) =>
          res.ok ? finish({}) : finish(undefined, res.error),
        );
        break;
      case 'delete':
        r.submit({ type: 'deleteRange', request: { key: k } }, (res) =>
          res.ok
            ? finish({ deleted: (res.value as { deleted: number }).deleted })
            : finish(undefined, res.error),
        );
        break;
      case 'cas': {
        const compare =
          input.expectedValue === null
            ? { key: k, target: 'VERSION' as const, result: 'EQUAL' as const, version: 0 }
            : {
                key: k,
                target: 'VALUE' as const,
                result: 'EQUAL' as const,
                value: enc.encode(input.expectedValue),
              };
        const put = { requestPut: { key: k, value: enc.encode(input.newValue) } };
        r.submit({ type: 'txn', request: { compare: [compare], success: [put] } }, (res: ApplyResult) => {
          if (!res.ok) return finish(undefined, res.error);
          const succeeded = (res.value as { succeeded: boolean }).succeeded;
          if (succeeded) this.stats.casSucceeded++;
          finish({ succeeded });
        });
        break;
      }
    }
    // A member that crashes drops its callbacks (stop() answers them); nothing else can hang a client.
  }

  // Watchers: a watcher on the whole "k" prefix from a past revision, on a random member.

  private startWatcher(): void {
    const live = this.live();
    if (live.length > 0 && this.watchers.length < 6) {
      const m = this.rng.pick(live);
      const rev = m.replica.sm.mvcc.revision;
      const start = Math.max(1, rev - this.rng.int(20));
      const stream = m.replica.watchable.newStream();
      const w: WatchClient = {
        member: m,
        incarnation: m.incarnation,
        stream,
        start,
        events: [],
        lastRevision: 0,
        canceled: false,
      };
      stream.handle({
        createRequest: { key: enc.encode('k'), rangeEnd: enc.encode('l'), startRevision: start },
      });
      this.watchers.push(w);
      this.drainWatcher(w);
    }
    if (!this.healed) this.at(this.rng.range(300, 1500), () => this.startWatcher());
  }

  private drainWatcher(w: WatchClient): void {
    if (w.member.incarnation !== w.incarnation || w.canceled) return;
    // A slow consumer now and then: it drains late, so its watcher falls behind and catches up from history.
    const slow = this.rng.chance(0.2);
    for (const resp of w.stream.take(slow ? 1 : 100)) {
      if (resp.canceled) {
        w.canceled = true;
        return;
      }
      for (const ev of resp.events) {
        if (ev.kv.modRevision < w.lastRevision) {
          throw new SafetyViolation(
            'watch order',
            `watcher went back from revision ${w.lastRevision} to ${ev.kv.modRevision}`,
          );
        }
        if (ev.kv.modRevision < w.start) {
          throw new SafetyViolation(
            'watch start',
            `watcher from ${w.start} got revision ${ev.kv.modRevision}`,
          );
        }
        w.lastRevision = ev.kv.modRevision;
        w.events.push(ev);
        this.stats.watchEvents++;
      }
    }
    this.at(slow ? this.rng.range(50, 400) : this.rng.range(5, 30), () => this.drainWatcher(w));
  }

  // Leases: one client keeps a lease alive, with a key attached; its key must never vanish meanwhile.

  private startLeaseClient(): void {
    const live = this.live();
    if (live.length === 0) return void this.at(200, () => this.startLeaseClient());
    const m = this.rng.pick(live);
    const id = m.replica.randomId();
    m.replica.submit({ type: 'leaseGrant', request: { ID: id, TTL: LEASE_TTL_S } }, (res) => {
      if (!res.ok) return void this.at(100, () => this.startLeaseClient());
      const key = enc.encode(`lease/${id}`);
      const call = this.now;
      m.replica.submit({ type: 'put', request: { key, value: enc.encode('x'), lease: id } }, (put) => {
        if (!put.ok) return void this.at(100, () => this.startLeaseClient());
        this.lease = { id, key, lastKeepAliveCall: call, keepingAlive: true, stoppedAt: 0 };
        this.log(`lease ${id} granted, key attached`);
        this.keepAlive();
        this.checkLeaseKey();
      });
    });
  }

  private keepAlive(): void {
    const lease = this.lease;
    if (!lease?.keepingAlive) return;
    const live = this.live();
    if (live.length > 0) {
      const m = this.rng.pick(live);
      const call = this.now;
      m.leases.keepAlive(lease.id, (ttl) => {
        if (typeof ttl === 'number' && ttl > 0) {
          lease.lastKeepAliveCall = Math.max(lease.lastKeepAliveCall, call);
          this.stats.leaseKeepAlives++;
        }
      });
    }
    // Every TTL/4, as clients do (etcd's client keeps alive every TTL/3).
    this.at((LEASE_TTL_S * 1000) / 4, () => this.keepAlive());
  }

  private checkLeaseKey(): void {
    const lease = this.lease;
    if (!lease) return;
    const live = this.live();
    if (live.length > 0) {
      const m = this.rng.pick(live);
      m.replica.read((err) => {
        if (err) return;
        const present = m.replica.sm.mvcc.range({ key: lease.key }).kvs.length > 0;
        // The lease was renewed at some point after lastKeepAliveCall, so it lives at least TTL after it;
        // a new leader only ever extends that (checkpoints never shorten a renewed lease).
        const slack = 2 * TICK_MS * ELECTION_TICKS;
        if (
          !present &&
          lease.keepingAlive &&
          this.now < lease.lastKeepAliveCall + LEASE_TTL_S * 1000 - slack
        ) {
          throw new SafetyViolation(
            'lease',
            `key of lease ${lease.id} vanished at ${this.now}, kept alive at ${lease.lastKeepAliveCall}`,
          );
        }
        if (!present && !lease.keepingAlive) {
          this.stats.leasesExpired++;
          this.lease = undefined;
          this.log(`lease ${lease.id} expired and its key is gone`);
        }
      });
    }
    this.at(this.rng.range(100, 400), () => this.checkLeaseKey());
  }

  // Faults.

  private nemesis(): void {
    if (this.healed) return;
    const roll = this.rng.int(100);
    const live = this.live();
    const leader = live.find((m) => m.replica.raw.basicStatus().role === 'leader');
    if (roll < 30 && live.length > 0) {
      const victim = leader && this.rng.chance(0.5) ? leader : this.rng.pick(live);
      this.crash(victim);
      this.at(this.rng.range(100, 1500), () => {
        if (!victim.alive) {
          this.log(`restart n${victim.id}`);
          this.start(victim);
        }
      });
    } else if (roll < 55) {
      const ids = [...this.members.keys()];
      const side = leader && this.rng.chance(0.5) ? [leader.id] : ids.filter(() => this.rng.chance(0.5));
      this.faults.partition([side]);
      this.stats.partitions++;
      this.log(`partition {${side.join(',')}}`);
      this.at(this.rng.range(200, 2000), () => {
        this.faults.heal();
        this.networkView();
      });
    } else if (roll < 70) {
      this.faults.setRates({
        dropRate: this.rng.pick([0, 0.05, 0.2]),
        duplicateRate: this.rng.pick([0, 0.05, 0.2]),
        maxDelayMs: this.rng.pick([6, 30, 60]),
      });
    } else if (roll < 80 && leader) {
      const voters = leader.replica.status().conf.voters.filter((v) => v !== leader.id);
      if (voters.length > 0) leader.replica.raw.transferLeader(this.rng.pick(voters));
    } else if (roll < 90 && live.length > 0) {
      const victim = this.rng.pick(live);
      victim.slowDiskMs = this.rng.range(20, 150);
      this.at(this.rng.range(200, 1500), () => {
        victim.slowDiskMs = 0;
      });
    } else if (this.lease?.keepingAlive && this.rng.chance(0.5)) {
      this.lease.keepingAlive = false;
      this.lease.stoppedAt = this.now;
      this.log(`lease client stops keeping lease ${this.lease.id} alive`);
    } else if (leader) {
      // Compaction through Raft, a little behind the head.
      const rev = leader.replica.sm.mvcc.revision - this.rng.int(10);
      if (rev > leader.replica.sm.mvcc.compactRevision) {
        leader.replica.submit({ type: 'compact', request: { revision: rev } }, () => {});
      }
    }
    this.networkView();
    this.at(this.rng.range(150, 700), () => this.nemesis());
  }

  private heal(): void {
    this.healed = true;
    this.faults.heal();
    this.faults.setRates({ dropRate: 0, duplicateRate: 0, maxDelayMs: 6 });
    this.networkView();
    for (const m of this.members.values()) {
      m.slowDiskMs = 0;
      if (m.runtime) {
        this.stats.runtimePauses += m.runtime.pauses;
        m.runtime.pauses = 0;
        m.runtime.pausedUntil = 0;
      }
      if (!m.alive) this.start(m);
    }
    this.log('heal');
    this.livenessProbe();
  }

  private livenessProbe(): void {
    const live = this.clientTargets();
    const m = this.rng.pick(live);
    m.replica.submit(
      { type: 'put', request: { key: enc.encode('liveness'), value: enc.encode('ok') } },
      (res) => {
        if (res.ok) this.livenessDone = true;
      },
    );
    this.at(300, () => {
      if (!this.livenessDone) this.livenessProbe();
    });
  }

  // Checks at the end.

  private finalChecks(): void {
    // Let in-flight work settle so that members converge.
    const settleUntil = this.now + 1500;
    for (;;) {
      const ev = this.queue.pop();
      if (!ev || ev.time > settleUntil) break;
      this.now = ev.time;
      ev.run();
    }
    for (const w of this.watchers) this.drainAll(w);
    for (const op of this.pending.values()) if (op.input.op !== 'get') this.history.push(op);
    const report = checkOperations(etcdKvModel, this.history, { budget: this.opts.checkBudget });
    this.stats.linearizabilitySteps = report.steps;
    if (report.result !== 'ok') {
      throw new SafetyViolation(
        'linearizability',
        `${report.result}: ${report.explanation ?? ''}`.slice(-3000),
      );
    }
    this.checkWatchers();
    this.checkConvergence();
  }

  private drainAll(w: WatchClient): void {
    if (w.member.incarnation !== w.incarnation || w.canceled) return;
    for (let i = 0; i < 10_000; i++) {
      w.member.replica.watchable.syncWatchers();
      const batch = w.stream.take(1000);
      if (batch.length === 0) break;
      for (const resp of batch) {
        if (resp.canceled) w.canceled = true;
        for (const ev of resp.events) {
          if (ev.kv.modRevision < w.lastRevision)
            throw new SafetyViolation('watch order', 'went back in revisions');
          w.lastRevision = ev.kv.modRevision;
          w.events.push(ev);
          this.stats.watchEvents++;
        }
      }
    }
  }

  /** Each watcher's events equal the authoritative history of its range from its start revision. */
  private checkWatchers(): void {
    const ref = this.live().reduce((a, b) =>
      b.replica.sm.mvcc.revision > a.replica.sm.mvcc.revision ? b : a,
    );
    const store = ref.replica.sm.mvcc;
    for (const w of this.watchers) {
      if (w.canceled || w.events.length === 0) continue;
      const from = w.start;
      if (from <= store.compactRevision) continue;
      const want = store.eventsSince({
        key: enc.encode('k'),
        rangeEnd: enc.encode('l'),
        fromRevision: from,
        toRevision: w.lastRevision,
      });
      const got = w.events.map(eventKey);
      const expected = want.map(eventKey);
      if (got.length !== expected.length || got.some((g, i) => g !== expected[i])) {
        const firstDiff = got.findIndex((g, i) => g !== expected[i]);
        throw new SafetyViolation(
          'watch completeness',
          `watcher on n${w.member.id} from ${from}: got ${got.length} events, history has ${expected.length} ` +
            `(first difference at ${firstDiff}: got ${got[firstDiff]} want ${expected[firstDiff]})`,
        );
      }
      this.stats.watchersChecked++;
    }
  }

  /**
   * Members hold the same keyspace (etcd's HashKV corruption check): compared among members at the same compacted
   * revision (compaction moves no revision, so a member that has not yet applied a compaction hashes differently).
   */
  private checkConvergence(): void {
    const groups = new Map<number, Member[]>();
    for (const m of this.live()) {
      const c = m.replica.sm.mvcc.compactRevision;
      groups.set(c, [...(groups.get(c) ?? []), m]);
    }
    for (const [compacted, members] of groups) {
      if (members.length < 2) continue;
      const rev = Math.min(...members.map((m) => m.replica.sm.mvcc.revision));
      if (rev <= compacted) continue;
      const hashes = members.map((m) => `n${m.id}:${m.replica.sm.mvcc.hashKV(rev).hash}`);
      if (new Set(hashes.map((h) => h.split(':')[1])).size > 1) {
        throw new SafetyViolation('convergence', `members disagree at revision ${rev}: ${hashes.join(' ')}`);
      }
    }
  }
}

/** A client operation as the trace shows it: `put k1=v0-12`, `cas k2 v1-3→c1-7`. */
function describeInput(input: KvInput): string {
  switch (input.op) {
    case 'get':
      return `get ${input.key}`;
    case 'put':
      return `put ${input.key}=${input.value}`;
    case 'delete':
      return `delete ${input.key}`;
    case 'cas':
      return `cas ${input.key} ${input.expectedValue ?? '∅'}→${input.newValue}`;
  }
}

function eventKey(ev: Event): string {
  return `${ev.type}:${dec.decode(ev.kv.key)}@${ev.kv.modRevision}=${ev.type === 'PUT' ? dec.decode(ev.kv.value) : ''}`;
}

/** Errors that prove the write was not (and will never be) applied. */
function definiteFailure(e: EtcdError): boolean {
  return /no leader|too many requests|request is too large|leader changed/.test(e.message);
}
