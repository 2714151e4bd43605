// The nemesis: faults against a real cluster whose peer traffic runs through PeerProxy (one per member).
//
//   partition-random   isolate a random member (both directions), by dropping or black-holing its links
//   partition-leader   the same, aimed at the current leader
//   partition-oneway   cut a single directed link A → B (asymmetric), drop or black-hole
//   partition-bridge   A and C cannot talk, B talks to both (a non-transitive partition)
//   kill               kill -9 a member (the leader or a random one), restart it after a while
//   pause              SIGSTOP a member (the leader or a random one), SIGCONT after a while
//   restart-all        kill -9 every member, restart them all
//
// Each fault is followed by a heal (all cuts removed, paused members continued, dead members restarted). Only
// processes this test started are signalled, by PID through the TestCluster.

import type { TestCluster } from '../cluster-harness.ts';
import type { CutMode, PeerProxy } from './proxy.ts';

export type NemesisKind =
  | 'partition-random'
  | 'partition-leader'
  | 'partition-oneway'
  | 'partition-bridge'
  | 'kill'
  | 'pause'
  | 'restart-all';

export const ALL_NEMESES: readonly NemesisKind[] = [
  'partition-random',
  'partition-leader',
  'partition-oneway',
  'partition-bridge',
  'kill',
  'pause',
  'restart-all',
];

export class Nemesis {
  readonly log: string[] = [];
  /** Behaviour checked during faults: a member isolated for long enough must not still claim leadership. */
  readonly violations: string[] = [];
  private isolated: { name: string; since: number } | undefined;
  private readonly paused = new Set<string>();
  private readonly dead = new Set<string>();
  private readonly t0 = performance.now();

  constructor(
    private readonly cluster: TestCluster,
    private readonly proxies: ReadonlyMap<string, PeerProxy>,
    /** Member name → member ID (decimal), as the handshake carries it. */
    private readonly ids: ReadonlyMap<string, string>,
    private readonly random: () => number,
  ) {}

  private note(s: string): void {
    this.log.push(`${((performance.now() - this.t0) / 1000).toFixed(1)}s ${s}`);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)];
  }

  private get names(): string[] {
    return this.cluster.members.map((m) => m.name);
  }

  private mode(): CutMode {
    return this.random() < 0.5 ? 'drop' : 'blackhole';
  }

  /** The member that claims leadership with the highest term, asked over the gateway with a short timeout. */
  async leader(): Promise<string | undefined> {
    let best: { name: string; term: number } | undefined;
    await Promise.all(
      this.names
        .filter((n) => this.cluster.isRunning(n) && !this.paused.has(n))
        .map(async (n) => {
          try {
            const r = await fetch(`http://${this.cluster.endpoint(n)}/v3/maintenance/status`, {
              method: 'POST',
              body: '{}',
              signal: AbortSignal.timeout(1000),
            });
            const s = (await r.json()) as {
              leader?: string;
              raftTerm?: string;
              header?: { member_id?: string };
            };
            const term = Number(s.raftTerm ?? 0);
            if (s.leader && s.leader === s.header?.member_id && (!best || term > best.term)) {
              best = { name: n, term };
            }
          } catch {
            // down, paused or slow: not a candidate
          }
        }),
    );
    return best?.name;
  }

  private async target(aimAtLeader: boolean): Promise<string> {
    if (aimAtLeader) {
      const l = await this.leader();
      if (l) return l;
    }
    return this.pick(this.names);
  }

  /** Cuts from → to. */
  private cutLink(from: string, to: string, mode: CutMode): void {
    const id = this.ids.get(from);
    const proxy = this.proxies.get(to);
    if (!id || !proxy) throw new Error(`no link ${from} → ${to}`);
    proxy.cut(id, mode);
  }

  private isolate(victim: string, mode: CutMode): void {
    this.proxies.get(victim)?.cut('*', mode);
    for (const other of this.names) if (other !== victim) this.cutLink(victim, other, mode);
  }

  /** Applies one fault of the given kind. */
  async inject(kind: NemesisKind): Promise<void> {
    switch (kind) {
      case 'partition-random':
      case 'partition-leader': {
        const victim = await this.target(kind === 'partition-leader');
        const mode = this.mode();
        this.isolate(victim, mode);
        this.isolated = { name: victim, since: performance.now() };
        this.note(`isolate ${victim} (${mode})`);
        break;
      }
      case 'partition-oneway': {
        const from = await this.target(this.random() < 0.5);
        const to = this.pick(this.names.filter((n) => n !== from));
        const mode = this.mode();
        this.cutLink(from, to, mode);
        this.note(`cut ${from} → ${to} (${mode})`);
        break;
      }
      case 'partition-bridge': {
        const bridge = this.pick(this.names);
        const [a, b] = this.names.filter((n) => n !== bridge);
        const mode = this.mode();
        this.cutLink(a, b, mode);
        this.cutLink(b, a, mode);
        this.note(`bridge via ${bridge}: ${a} ↮ ${b} (${mode})`);
        break;
      }
      case 'kill': {
        const victim = await this.target(this.random() < 0.5);
        if (this.paused.has(victim)) this.cont(victim);
        this.cluster.kill9(victim);
        this.dead.add(victim);
        this.note(`kill -9 ${victim} (pid ${this.cluster.pid(victim)})`);
        break;
      }
      case 'pause': {
        const victim = await this.target(this.random() < 0.5);
        if (this.dead.has(victim)) break;
        this.cluster.signal(victim, 'SIGSTOP');
        this.paused.add(victim);
        this.note(`SIGSTOP ${victim}`);
        break;
      }
      case 'restart-all': {
        for (const n of this.names) {
          if (this.paused.has(n)) this.cont(n);
          this.cluster.kill9(n);
          this.dead.add(n);
        }
        this.note('kill -9 all');
        break;
      }
    }
  }

  private cont(name: string): void {
    this.cluster.signal(name, 'SIGCONT');
    this.paused.delete(name);
  }

  /**
   * Check-quorum: a member cut off from both peers for several election timeouts (the harness uses 500 ms) must
   * have stepped down by now, whatever it was.
   */
  private async checkIsolated(): Promise<void> {
    const iso = this.isolated;
    this.isolated = undefined;
    if (!iso || performance.now() - iso.since < 2500 || !this.cluster.isRunning(iso.name)) return;
    try {
      const r = await fetch(`http://${this.cluster.endpoint(iso.name)}/v3/maintenance/status`, {
        method: 'POST',
        body: '{}',
        signal: AbortSignal.timeout(1000),
      });
      const s = (await r.json()) as { leader?: string; header?: { member_id?: string } };
      if (s.leader && s.leader === s.header?.member_id) {
        this.violations.push(
          `${iso.name} still claims leadership after ${Math.round(performance.now() - iso.since)} ms cut off`,
        );
      }
    } catch {
      // its client port is slow: nothing to conclude
    }
  }

  /** Removes every fault: cuts healed, paused members continued, dead members restarted. */
  async heal(): Promise<void> {
    await this.checkIsolated();
    const reset = this.random() < 0.5;
    for (const p of this.proxies.values()) p.heal(reset);
    for (const n of [...this.paused]) this.cont(n);
    for (const n of [...this.dead]) {
      await this.cluster.restart(n);
      this.dead.delete(n);
    }
    this.note(`heal${reset ? ' (held connections reset)' : ''}`);
  }
}
