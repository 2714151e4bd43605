// A small synchronous cluster harness for the Raft core, in the manner of etcd-io/raft's `network` test helper.
//
// N RawNodes (ids 1n..Nn) each with an in-memory "disk" that follows the Ready contract exactly: persist the
// snapshot, entries and hard state, then send messagesAfterPersist, restore/apply, then advance(). Messages go
// into one queue and are delivered only when a test says so, so interleavings are under the test's control.
// The harness also checks invariants on every Ready (persistence contract, state machine safety, election
// safety) and records violations; in strict mode (the default) a violation throws at once.

import type { Random } from '../../src/env.ts';
import { decodeConfChange } from '../../src/raft/confchange.ts';
import type { RaftOptions } from '../../src/raft/config.ts';
import type { ProposalResult } from '../../src/raft/raft.ts';
import { RawNode, type Ready } from '../../src/raft/raw-node.ts';
import {
  type ConfChange,
  type ConfState,
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  type Message,
  type MessageType,
  type NodeId,
  type ReadState,
  type Snapshot,
} from '../../src/raft/types.ts';
import type { LoadedState } from '../../src/storage.ts';

/** mulberry32: a tiny seeded PRNG. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const enc = (s: string): Uint8Array => encoder.encode(s);
export const dec = (b: Uint8Array): string => decoder.decode(b);

/** Stable storage of one node: what survives a crash. */
export class Disk {
  hardState: HardState = EMPTY_HARD_STATE;
  snapshot?: Snapshot;
  entries: Entry[] = [];

  lastIndex(): number {
    if (this.entries.length > 0) return this.entries[this.entries.length - 1].index;
    return this.snapshot?.metadata.index ?? 0;
  }

  entry(index: number): Entry | undefined {
    const first = this.entries[0]?.index;
    if (first === undefined || index < first) return undefined;
    return this.entries[index - first];
  }

  /** One Ready's batch, in the order of the contract: snapshot, entries, hard state. */
  save(snapshot: Snapshot | undefined, entries: readonly Entry[], hardState: HardState | undefined): void {
    if (snapshot) {
      this.snapshot = snapshot;
      this.entries = [];
    }
    if (entries.length > 0) {
      const first = entries[0].index;
      const base = this.snapshot?.metadata.index ?? 0;
      if (first > this.lastIndex() + 1)
        throw new Error(`disk: gap: append at ${first} after ${this.lastIndex()}`);
      if (first <= base) throw new Error(`disk: append at ${first} at or below snapshot ${base}`);
      this.entries = this.entries.filter((e) => e.index < first);
      for (let i = 0; i < entries.length; i++) {
        if (entries[i].index !== first + i) throw new Error('disk: entries not contiguous');
        this.entries.push(entries[i]);
      }
    }
    if (hardState) this.hardState = hardState;
  }

  /** LogStorage.saveSnapshot + compact: a snapshot the local state machine produced. */
  saveSnapshot(snapshot: Snapshot): void {
    if (this.snapshot && this.snapshot.metadata.index >= snapshot.metadata.index) return;
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.metadata.index);
  }

  load(): LoadedState {
    return { hardState: this.hardState, snapshot: this.snapshot, entries: [...this.entries] };
  }
}

interface SmSnapshot {
  index: number;
  data: string[];
}

export class Member {
  node!: RawNode;
  up = true;
  readonly disk = new Disk();
  /** The tiny state machine: data of every applied normal entry (no-ops skipped), in order. */
  data: string[] = [];
  appliedIndex = 0;
  /** The configuration as the host last learned it (from applyConfChange or a snapshot). */
  conf: ConfState = { voters: [], learners: [] };
  readStates: ReadState[] = [];
  readies: Ready[] = [];
  pending?: Ready;
  pendingPersisted = false;
  readonly random: Random;

  constructor(
    readonly id: NodeId,
    readonly options: RaftOptions,
    readonly bootstrap: ConfState | undefined,
  ) {
    this.random = options.random;
    this.start();
  }

  start(): void {
    const loaded = this.disk.load();
    this.node = new RawNode(this.options, loaded, this.bootstrap);
    this.up = true;
    this.pending = undefined;
    this.pendingPersisted = false;
    const snap = loaded.snapshot;
    if (snap) {
      const sm = JSON.parse(dec(snap.data)) as SmSnapshot;
      this.data = [...sm.data];
      this.appliedIndex = snap.metadata.index;
      this.conf = snap.metadata.confState;
    } else {
      this.data = [];
      this.appliedIndex = 0;
      this.conf = { voters: [], learners: [] };
    }
  }
}

export type DropFilter = (m: Message) => boolean;

export interface ClusterOptions {
  /** Number of nodes; all voters in the bootstrap configuration unless `bootstrap` says otherwise. */
  size?: number;
  seed?: number;
  /** Raft options for every node (id and random are supplied by the harness). */
  raft?: Partial<Omit<RaftOptions, 'id' | 'random'>>;
  /** Per-node overrides. */
  nodeOptions?: (id: NodeId) => Partial<Omit<RaftOptions, 'id' | 'random'>>;
  bootstrap?: ConfState;
  /** Throw at the first invariant violation (default true). */
  strict?: boolean;
  /** Each node's randomness (default a mulberry32 stream per node from `seed`). */
  random?: (id: NodeId) => Random;
}

const AFTER_PERSIST_ONLY: ReadonlySet<MessageType> = new Set<MessageType>(['MsgAppResp', 'MsgVoteResp']);

export class Cluster {
  readonly members = new Map<NodeId, Member>();
  queue: Message[] = [];
  /** Every message handed to the network, in order. */
  readonly sent: Message[] = [];
  readonly delivered: Message[] = [];
  readonly dropped: Message[] = [];
  /** Directed links that drop everything: `${from}>${to}`. */
  readonly cut = new Set<string>();
  filters: DropFilter[] = [];
  readonly violations: string[] = [];
  /** State machine safety: what was applied at each index, by anybody. */
  readonly appliedAt = new Map<number, { term: number; data: string; by: NodeId }>();
  /** Election safety: the leader of each term. */
  readonly leaders = new Map<number, NodeId>();
  strict: boolean;
  readonly bootstrap: ConfState;
  private readonly seed: number;
  private readonly raftOptions: ClusterOptions['raft'];
  private readonly nodeOptions?: ClusterOptions['nodeOptions'];
  private readonly random?: ClusterOptions['random'];

  constructor(options: ClusterOptions = {}) {
    const size = options.size ?? 3;
    this.seed = options.seed ?? 1;
    this.strict = options.strict ?? true;
    this.raftOptions = options.raft ?? {};
    this.nodeOptions = options.nodeOptions;
    this.random = options.random;
    const ids: NodeId[] = [];
    for (let i = 1; i <= size; i++) ids.push(BigInt(i));
    this.bootstrap = options.bootstrap ?? { voters: ids, learners: [] };
    for (const id of ids) this.members.set(id, new Member(id, this.optionsFor(id), this.bootstrap));
  }

  optionsFor(id: NodeId): RaftOptions {
    return {
      ...this.raftOptions,
      ...(this.nodeOptions?.(id) ?? {}),
      id,
      random: this.random?.(id) ?? mulberry32(this.seed * 1_000_003 + Number(id) * 7919),
    };
  }

  /** A new member joining an existing cluster: empty storage, no bootstrap (it learns the conf from the log). */
  addMember(id: NodeId): Member {
    const m = new Member(id, this.optionsFor(id), undefined);
    this.members.set(id, m);
    return m;
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  node(id: NodeId): RawNode {
    return this.member(id).node;
  }

  ids(): NodeId[] {
    return [...this.members.keys()];
  }

  upIds(): NodeId[] {
    return this.ids().filter((id) => this.member(id).up);
  }

  // Invariants.

  private violation(what: string): void {
    this.violations.push(what);
    if (this.strict) throw new Error(`invariant violated: ${what}`);
  }

  // The Ready cycle.

  /** Takes a Ready and sends its `messages` (which need no persistence), leaving the rest for persist(). */
  readyWithoutPersist(id: NodeId): Ready {
    const m = this.member(id);
    if (m.pending) throw new Error(`node ${id} already has an outstanding Ready`);
    const rd = m.node.ready();
    m.readies.push(rd);
    m.pending = rd;
    m.pendingPersisted = false;
    for (const msg of rd.messages) {
      if (AFTER_PERSIST_ONLY.has(msg.type))
        this.violation(`node ${id}: ${msg.type} to ${msg.to} in Ready.messages (must wait for persistence)`);
    }
    // Committed entries are handed out only once durable here: they must already be on our disk.
    for (const e of rd.committedEntries) {
      const stored = m.disk.entry(e.index);
      if (!stored || stored.term !== e.term)
        this.violation(`node ${id}: committed entry ${e.index} handed out before it is durable`);
    }
    if (rd.softState?.role === 'leader') {
      const term = m.node.basicStatus().term;
      const prev = this.leaders.get(term);
      if (prev !== undefined && prev !== id) this.violation(`two leaders in term ${term}: ${prev} and ${id}`);
      this.leaders.set(term, id);
    }
    this.send(rd.messages);
    return rd;
  }

  /**
   * Persists the outstanding Ready and sends its after-persist messages; then (unless `advance: false`)
   * restores/applies and calls advance().
   */
  persist(id: NodeId, opts: { advance?: boolean } = {}): void {
    const m = this.member(id);
    const rd = m.pending;
    if (!rd) throw new Error(`node ${id} has no outstanding Ready`);
    if (!m.pendingPersisted) {
      m.disk.save(rd.snapshot, rd.entries, rd.hardState);
      m.pendingPersisted = true;
      if (m.disk.hardState.commit > m.disk.lastIndex())
        this.violation(`node ${id}: stored commit ${m.disk.hardState.commit} beyond stored log`);
      this.send(rd.messagesAfterPersist);
    }
    if (opts.advance ?? true) this.advance(id);
  }

  /** Applies the persisted outstanding Ready and calls advance(). */
  advance(id: NodeId): void {
    const m = this.member(id);
    const rd = m.pending;
    if (!rd || !m.pendingPersisted) throw new Error(`node ${id}: advance without a persisted Ready`);
    if (rd.snapshot) {
      const sm = JSON.parse(dec(rd.snapshot.data)) as SmSnapshot;
      m.data = [...sm.data];
      m.appliedIndex = rd.snapshot.metadata.index;
      m.conf = rd.snapshot.metadata.confState;
    }
    for (const e of rd.committedEntries) this.apply(m, e);
    m.readStates.push(...rd.readStates);
    m.pending = undefined;
    m.pendingPersisted = false;
    m.node.advance();
  }

  private apply(m: Member, e: Entry): void {
    if (e.index !== m.appliedIndex + 1)
      this.violation(`node ${m.id}: applied ${e.index} after ${m.appliedIndex} (gap or repeat)`);
    const data =
      e.type === 'confChange' ? `cc:${JSON.stringify(decodeConfChange(e.data), big)}` : dec(e.data);
    const seen = this.appliedAt.get(e.index);
    if (seen && (seen.term !== e.term || seen.data !== data)) {
      this.violation(
        `state machine safety: node ${m.id} applied ${e.index}@${e.term} "${data}", node ${seen.by} applied ${e.index}@${seen.term} "${seen.data}"`,
      );
    } else if (!seen) this.appliedAt.set(e.index, { term: e.term, data, by: m.id });
    if (e.type === 'confChange') m.conf = m.node.applyConfChange(decodeConfChange(e.data));
    else if (e.data.length > 0) m.data.push(dec(e.data));
    m.appliedIndex = e.index;
  }

  /** Runs one full Ready cycle on `id` if it has one. */
  processReady(id: NodeId): Ready | undefined {
    const m = this.member(id);
    if (!m.up || m.pending || !m.node.hasReady()) return undefined;
    const rd = this.readyWithoutPersist(id);
    this.persist(id);
    return rd;
  }

  // The network.

  private send(msgs: readonly Message[]): void {
    for (const msg of msgs) {
      this.sent.push(msg);
      this.queue.push(msg);
    }
  }

  private shouldDrop(msg: Message): boolean {
    const to = this.members.get(msg.to);
    if (!to?.up) return true;
    if (this.cut.has(`${msg.from}>${msg.to}`)) return true;
    return this.filters.some((f) => f(msg));
  }

  private deliverOne(msg: Message): void {
    if (this.shouldDrop(msg)) {
      this.dropped.push(msg);
      return;
    }
    this.delivered.push(msg);
    this.member(msg.to).node.step(msg);
  }

  /** Delivers every queued message (in order); returns how many were in the queue. */
  deliverAll(): number {
    const batch = this.queue;
    this.queue = [];
    for (const msg of batch) this.deliverOne(msg);
    return batch.length;
  }

  /** Delivers the queued messages matching `pred`, in order; the rest stay queued. */
  deliverWhere(pred: (m: Message) => boolean): number {
    const batch = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    for (const msg of batch) this.deliverOne(msg);
    return batch.length;
  }

  /** Removes the queued messages matching `pred` (lost in the network). */
  dropWhere(pred: (m: Message) => boolean): Message[] {
    const lost = this.queue.filter(pred);
    this.queue = this.queue.filter((m) => !pred(m));
    this.dropped.push(...lost);
    return lost;
  }

  /** Processes Readies and delivers messages until nothing moves. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let moved = false;
      for (const id of this.ids()) if (this.processReady(id)) moved = true;
      if (this.queue.length > 0) {
        this.deliverAll();
        moved = true;
      }
      if (!moved) return;
    }
    throw new Error(`stabilize: still busy after ${maxRounds} rounds`);
  }

  tick(id: NodeId, n = 1): void {
    for (let i = 0; i < n; i++) this.node(id).tick();
  }

  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) for (const id of this.upIds()) this.node(id).tick();
  }

  /** Ticks every up node once and stabilizes, `n` times. */
  tickAndStabilize(n = 1): void {
    for (let i = 0; i < n; i++) {
      this.tickAll();
      this.stabilize();
    }
  }

  /** The up leader with the highest term, if any. */
  leader(): NodeId | undefined {
    let best: NodeId | undefined;
    let bestTerm = -1;
    for (const id of this.upIds()) {
      const st = this.node(id).status();
      if (st.role === 'leader' && st.term > bestTerm) {
        best = id;
        bestTerm = st.term;
      }
    }
    return best;
  }

  /** Stabilizes, then ticks everybody until somebody leads. */
  tickUntilLeader(maxTicks = 500): NodeId {
    this.stabilize();
    for (let i = 0; i < maxTicks; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.tickAndStabilize();
    }
    throw new Error(`no leader after ${maxTicks} ticks`);
  }

  propose(id: NodeId, data: string): ProposalResult {
    return this.node(id).propose(enc(data));
  }

  proposeConfChange(id: NodeId, cc: ConfChange): ProposalResult {
    return this.node(id).proposeConfChange(cc);
  }

  /** Loses everything not persisted: the RawNode, its state machine, an outstanding Ready. */
  crash(id: NodeId): void {
    const m = this.member(id);
    m.up = false;
    m.pending = undefined;
    m.pendingPersisted = false;
  }

  /** A new RawNode from the disk; the state machine restarts from the stored snapshot. */
  restart(id: NodeId): void {
    this.member(id).start();
  }

  isolate(id: NodeId): void {
    for (const other of this.ids()) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }

  cutOneWay(from: NodeId, to: NodeId): void {
    this.cut.add(`${from}>${to}`);
  }

  heal(): void {
    this.cut.clear();
    this.filters = [];
  }

  /** Takes a state-machine snapshot at the applied index (host side), stores it and compacts the disk. */
  snapshot(id: NodeId): Snapshot {
    const m = this.member(id);
    if (m.pending) throw new Error('snapshot with a Ready outstanding');
    if (m.node.status().applied !== m.appliedIndex)
      throw new Error(`harness: applied ${m.appliedIndex} != core applied ${m.node.status().applied}`);
    const sm: SmSnapshot = { index: m.appliedIndex, data: m.data };
    const snap = m.node.createSnapshot(enc(JSON.stringify(sm)));
    if (!snap) throw new Error(`node ${id}: createSnapshot refused (a leader snapshot is pending)`);
    m.disk.saveSnapshot(snap);
    return snap;
  }

  // Observation helpers.

  count(pred: (m: Message) => boolean, list: readonly Message[] = this.sent): number {
    return list.filter(pred).length;
  }

  /** The sent messages from index `since` on. */
  sentSince(since: number): Message[] {
    return this.sent.slice(since);
  }

  /** A canonical text of every message sent so far (for determinism checks). */
  trace(): string[] {
    return this.sent.map((m) => JSON.stringify(m, big));
  }
}

/** JSON replacer for bigints and byte arrays. */
export function big(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `bytes:${Array.from(value).join(',')}`;
  return value;
}

export const isType =
  (...types: MessageType[]) =>
  (m: Message): boolean =>
    types.includes(m.type);

export const fromTo =
  (from: NodeId, to: NodeId, ...types: MessageType[]) =>
  (m: Message): boolean =>
    m.from === from && m.to === to && (types.length === 0 || types.includes(m.type));
