// The interaction environment behind test/raft/testdata/*.txt, in the manner of etcd-io/raft's rafttest
// (interaction_env*.go): a cluster of our RawNodes (test/raft/harness.ts: in-memory disks that follow the Ready
// contract, invariant checks on every Ready) driven one command at a time, every step printed.
//
// Commands (ids are member numbers; `(a,b)` lists):
//   add-nodes <n> [voters=(..)] [learners=(..)] [prevote=bool] [checkquorum=bool] [election=ticks]
//             [heartbeat=ticks] [catchup=entries]   a new cluster (bootstrapped as ours is: its configuration as
//                                                   committed entries at term 1), or, once one exists, n members
//                                                   joining it (empty, no bootstrap). Election timeouts are not
//                                                   randomized: a node campaigns after exactly `election` ticks.
//   campaign <id>                                   start an election now
//   propose <id> <data>                             propose a normal entry
//   transfer-leadership from=<id> to=<id>
//   tick-election <id> / tick-heartbeat <id>        tick an election / heartbeat interval
//   process-ready <id..>                            take the Ready, send `messages`, persist, send
//                                                   `messagesAfterPersist`, apply, advance
//   ready <id> / persist <id>                       the two halves of process-ready: a Ready whose write is in
//                                                   flight, then its completion
//   deliver-msgs <id..> [type=MsgX] [drop=(..)]     deliver (or drop) the queued messages to those ids, in order
//   step <id>                                       step the messages given as input lines (describeMessage's form)
//   stabilize [id..]                                process Readies and deliver messages until nothing moves
//   isolate <id> / heal                             cut a member off the network / restore every link
//   snapshot <id>                                   the host snapshots its state machine at the applied index
//   raft-state / raft-log <id> / status <id>        what the nodes know
//   log-level <debug|info|warn|error|none>          what is printed (none: only `ok`)
// Besides the Ready and message lines, each change of a node's role or term is printed as an INFO line, and the
// core's own logger writes at its levels.

import type { LogFields, Logger, Random } from '../../../src/env.ts';
import type { Message, NodeId } from '../../../src/raft/types.ts';
import type { Arg, Directive } from '../../support/datadriven.ts';
import { Cluster } from '../harness.ts';
import { describeEntry, describeMessage, describeReady, describeSnapshot, parseMessage } from './describe.ts';

const LEVELS = ['debug', 'info', 'warn', 'error', 'none'] as const;
type Level = (typeof LEVELS)[number];

/** Election timeouts at exactly electionTick: scripts say when a node campaigns, not the PRNG. */
const noJitter: Random = { next: () => 0 };

export class InteractionEnv {
  private cluster: Cluster | undefined;
  private level: Level = 'debug';
  private out: string[] = [];
  private indent = '';

  handle(d: Directive): string {
    this.out = [];
    const args = d.args;
    const ids = () => args.filter((a) => a.vals.length === 0).map((a) => BigInt(a.key));
    const id = () => {
      const first = args[0];
      if (first === undefined || first.vals.length > 0) throw new Error(`${d.cmd}: which node?`);
      return BigInt(first.key);
    };
    switch (d.cmd) {
      case 'log-level':
        this.level = parseLevel(args[0]?.key);
        break;
      case 'add-nodes':
        this.addNodes(Number(args[0]?.key), args.slice(1));
        break;
      case 'campaign':
        this.observe(id(), () => this.c.node(id()).campaign());
        break;
      case 'propose': {
        const result = this.observe(id(), () => this.c.propose(id(), args[1]?.key ?? ''));
        if (!result.ok) this.print(`propose refused: ${result.reason}`);
        break;
      }
      case 'transfer-leadership': {
        const from = BigInt(value(args, 'from'));
        this.observe(from, () => this.c.node(from).transferLeader(BigInt(value(args, 'to'))));
        break;
      }
      case 'tick-election':
      case 'tick-heartbeat': {
        const n = this.c.member(id()).options;
        const ticks = d.cmd === 'tick-election' ? (n.electionTick ?? 10) : (n.heartbeatTick ?? 1);
        this.observe(id(), () => this.c.tick(id(), ticks));
        break;
      }
      case 'process-ready':
        this.forEach(ids(), 'handling Ready', (n) => this.processReady(n));
        break;
      case 'ready':
        this.ready(id());
        break;
      case 'persist':
        this.observe(id(), () => this.c.persist(id()));
        break;
      case 'deliver-msgs':
        if (this.deliver(ids(), value(args, 'type', ''), values(args, 'drop').map(BigInt)) === 0)
          this.print('no messages');
        break;
      case 'step':
        for (const line of d.input) {
          const m = parseMessage(line);
          this.observe(id(), () => this.c.node(id()).step(m));
        }
        break;
      case 'stabilize':
        this.stabilize(ids().length > 0 ? ids() : this.c.ids());
        break;
      case 'isolate':
        this.c.isolate(id());
        break;
      case 'heal':
        this.c.heal();
        break;
      case 'snapshot':
        this.print(`snapshot ${describeSnapshot(this.c.snapshot(id()))}`);
        break;
      case 'raft-state':
        this.raftState();
        break;
      case 'raft-log':
        this.raftLog(id());
        break;
      case 'status':
        this.status(id());
        break;
      default:
        throw new Error(`unknown command '${d.cmd}'`);
    }
    return this.level === 'none' ? 'ok' : this.out.join('\n');
  }

  private get c(): Cluster {
    if (!this.cluster) throw new Error('add-nodes first');
    return this.cluster;
  }

  private print(line: string): void {
    this.out.push(this.indent + line);
  }

  private log(level: Exclude<Level, 'none'>, line: string): void {
    if (LEVELS.indexOf(level) >= LEVELS.indexOf(this.level)) this.print(`${level.toUpperCase()} ${line}`);
  }

  private logger(id: NodeId): Logger {
    const line = (message: string, fields?: LogFields) =>
      [`${id} ${message}`, ...Object.entries(fields ?? {}).map(([k, v]) => `${k}=${String(v)}`)].join(' ');
    return {
      debug: (m, f) => this.log('debug', line(m, f)),
      info: (m, f) => this.log('info', line(m, f)),
      warn: (m, f) => this.log('warn', line(m, f)),
      error: (m, f) => this.log('error', line(m, f)),
    };
  }

  private addNodes(n: number, args: readonly Arg[]): void {
    if (this.cluster) {
      const first = this.cluster.ids().length + 1;
      for (let i = 0; i < n; i++) this.cluster.addMember(BigInt(first + i));
      return;
    }
    const flag = (key: string, fallback: boolean) => value(args, key, String(fallback)) === 'true';
    const voters = values(args, 'voters').map(BigInt);
    const all = Array.from({ length: n }, (_, i) => BigInt(i + 1));
    this.cluster = new Cluster({
      size: n,
      bootstrap: {
        voters: voters.length > 0 ? voters : all,
        learners: values(args, 'learners').map(BigInt),
      },
      random: () => noJitter,
      raft: {
        preVote: flag('prevote', true),
        checkQuorum: flag('checkquorum', true),
        electionTick: Number(value(args, 'election', '3')),
        heartbeatTick: Number(value(args, 'heartbeat', '1')),
        snapshotCatchUpEntries: Number(value(args, 'catchup', '5000')),
      },
      nodeOptions: (id) => ({ logger: this.logger(id) }),
    });
  }

  /** Runs `f` on node `id` and prints the changes of its role or term that it caused. */
  private observe<T>(id: NodeId, f: () => T): T {
    const node = this.c.node(id);
    const before = node.basicStatus();
    const result = f();
    const after = this.c.node(id).basicStatus();
    if (after.role !== before.role || after.term !== before.term)
      this.log('info', `${id} became ${after.role} at term ${after.term}`);
    return result;
  }

  /** Runs `f` for each id; with several, under a `> id <what>` header each. */
  private forEach(ids: readonly NodeId[], what: string, f: (id: NodeId) => void): void {
    if (ids.length === 1) {
      f(ids[0]);
      return;
    }
    for (const id of ids) this.section(`> ${id} ${what}`, () => f(id));
  }

  private section(header: string, f: () => void): void {
    this.print(header);
    const indent = this.indent;
    this.indent += '  ';
    try {
      f();
    } finally {
      this.indent = indent;
    }
  }

  private ready(id: NodeId): void {
    if (!this.c.node(id).hasReady()) throw new Error(`node ${id} has no Ready`);
    const rd = this.c.readyWithoutPersist(id);
    for (const line of describeReady(rd)) this.print(line);
  }

  private processReady(id: NodeId): void {
    this.ready(id);
    this.observe(id, () => this.c.persist(id));
  }

  /** Delivers (or drops) the queued messages to `to` and to `drop`, in queue order; returns how many. */
  private deliver(to: readonly NodeId[], type: string, drop: readonly NodeId[]): number {
    const c = this.c;
    const matches = (m: Message, ids: readonly NodeId[]) => ids.includes(m.to) && (!type || m.type === type);
    let n = 0;
    for (const m of c.queue.filter((m) => matches(m, drop))) {
      c.dropWhere((q) => q === m);
      this.print(`dropped: ${describeMessage(m)}`);
      n++;
    }
    for (const m of c.queue.filter((m) => matches(m, to))) {
      // The harness's network drops what a cut link or a down member would lose.
      const lost = !c.members.get(m.to)?.up || c.cut.has(`${m.from}>${m.to}`) || c.filters.some((f) => f(m));
      this.print(`${lost ? 'dropped: ' : ''}${describeMessage(m)}`);
      this.observe(m.to, () => c.deliverWhere((q) => q === m));
      n++;
    }
    return n;
  }

  private stabilize(ids: readonly NodeId[]): void {
    const c = this.c;
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (const id of ids) {
        const m = c.member(id);
        if (!m.up || m.pending || !m.node.hasReady()) continue;
        this.section(`> ${id} handling Ready`, () => this.processReady(id));
        moved = true;
      }
      for (const id of ids) {
        if (!c.queue.some((m) => m.to === id)) continue;
        this.section(`> ${id} receiving messages`, () => this.deliver([id], '', []));
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error('stabilize: still busy after 10,000 rounds');
  }

  private raftState(): void {
    for (const id of this.c.ids()) {
      const s = this.c.node(id).status();
      const kind = s.conf.voters.includes(id) ? 'voter' : s.conf.learners.includes(id) ? 'learner' : 'none';
      this.print(`${id}: ${s.role} (${kind}) Term:${s.term} Lead:${s.lead}`);
    }
  }

  private raftLog(id: NodeId): void {
    const log = this.c.node(id).logView();
    const entries = log.slice(log.firstIndex(), log.lastIndex() + 1);
    if (entries.length === 0)
      this.print(`log is empty: first index=${log.firstIndex()}, last index=${log.lastIndex()}`);
    for (const e of entries) this.print(describeEntry(e));
  }

  private status(id: NodeId): void {
    const s = this.c.node(id).status();
    this.print(
      `${id}: ${s.role} Term:${s.term} Vote:${s.vote} Lead:${s.lead} Commit:${s.commit} Applied:${s.applied} Last:${s.lastIndex} First:${s.firstIndex}`,
    );
    for (const [peer, p] of s.progress) this.print(`${peer}: ${p.state} match=${p.match} next=${p.next}`);
  }
}

function parseLevel(text: string | undefined): Level {
  const level = (text ?? '').toLowerCase() as Level;
  if (!LEVELS.includes(level)) throw new Error(`log-level: one of ${LEVELS.join(', ')}`);
  return level;
}

/** The value of `key=value`, or `fallback`. */
function value(args: readonly Arg[], key: string, fallback?: string): string {
  const found = args.find((a) => a.key === key)?.vals[0];
  if (found !== undefined) return found;
  if (fallback === undefined) throw new Error(`missing ${key}=`);
  return fallback;
}

/** The values of `key=(a,b)` (none when absent). */
function values(args: readonly Arg[], key: string): readonly string[] {
  return args.find((a) => a.key === key)?.vals ?? [];
}
