/// <reference lib="dom" />
// One edgecd member in its own module Web Worker: the real core (createNode) persisted to IndexedDB (one
// database per member), talking Raft over an InPageTransport to the page's hub, and serving etcd's JSON gateway
// (createGateway) to the page's client panel. It reports its state (role, term, vote, log, keyspace, leases) to
// the page after each change, at most every REPORT_MS.

import { IndexedDbStorage } from '../../adapters/storage/indexeddb/index.ts';
import { InPageTransport, PausableClock } from '../../adapters/transport/in-page/index.ts';
import { createGateway, type FetchHandler } from '../../src/api/gateway/index.ts';
import { decodeConfChange } from '../../src/raft/confchange.ts';
import type { Entry } from '../../src/raft/types.ts';
import { inspectNode, type NodeInspection } from '../../src/server/inspect.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { decodeProposal } from '../../src/server/ops.ts';
import {
  type FromWorker,
  KEY_VIEW_LIMIT,
  type KeyView,
  LOG_VIEW_ENTRIES,
  type LogEntryView,
  type MemberConfig,
  type MemberEvent,
  type MemberState,
  type ToWorker,
} from './protocol.ts';
import { ScaledClock, setSpeed } from './scaled-clock.ts';

/** The worker's global scope, typed as far as this file needs it (the program's lib is DOM, not WebWorker). */
const scope = self as unknown as {
  postMessage(message: FromWorker): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<ToWorker>) => void): void;
};

const REPORT_MS = 60;
const DEMO_SNAPSHOT_COUNT = 40;
const DEMO_SNAPSHOT_CATCH_UP = 10;

/** Real time scaled by the page's speed setting (one per worker; the page sends each change). */
let baseClock = new ScaledClock(1);

let clock: PausableClock | undefined;
let node: EdgeNode | undefined;
let gateway: FetchHandler | undefined;
let inspection: NodeInspection | undefined;
let memberId = 0;
let tickMs = 100;
const requests = new Map<number, AbortController>();
const labels = new Map<string, string>();
const decoder = new TextDecoder();

function post(message: FromWorker): void {
  scope.postMessage(message);
}

scope.addEventListener('message', (event) => {
  const msg = event.data;
  switch (msg.kind) {
    case 'init':
      start(msg.config, msg.port).catch((err: unknown) => {
        post({ kind: 'error', id: msg.config.id, message: String((err as Error)?.stack ?? err) });
      });
      break;
    case 'pause':
      clock?.pause();
      break;
    case 'resume':
      clock?.resume();
      break;
    case 'advance':
      clock?.advance(msg.ms);
      break;
    case 'speed':
      if (clock) setSpeed(clock, baseClock, msg.rate);
      break;
    case 'timeout':
      forceElectionTimeout();
      break;
    case 'http':
      void serveHttp(msg.reqId, msg.path, msg.body);
      break;
    case 'http-cancel':
      requests.get(msg.reqId)?.abort();
      break;
    case 'close':
      void (async () => {
        await node?.close().catch(() => {});
        post({ kind: 'closed', id: memberId });
      })();
      break;
  }
});

async function start(config: MemberConfig, port: MessagePort): Promise<void> {
  memberId = config.id;
  tickMs = config.tickMs;
  baseClock = new ScaledClock(config.speed);
  clock = new PausableClock(baseClock, config.paused);
  const storage = new IndexedDbStorage(config.dbName);
  const transport = new InPageTransport(BigInt(config.id), port);
  // What IndexedDB holds before the member starts (createNode loads it again; bootstrap entries of a fresh
  // cluster exist only in memory until the first write).
  const held = await storage.load();
  const recovered = {
    lastIndex: held.entries.at(-1)?.index ?? held.snapshot?.metadata.index ?? 0,
    term: held.hardState.term,
    commit: held.hardState.commit,
    hasSnapshot: held.snapshot !== undefined,
  };
  node = await createNode({
    id: BigInt(config.id),
    name: config.name,
    clusterId: 0xed9ecdn,
    members: config.members.map((m) => ({
      id: BigInt(m.id),
      name: m.name,
      peerURLs: [`inpage://${m.name}`],
    })),
    clientURLs: [`inpage://${config.name}/client`],
    storage,
    transport,
    clock,
    random: { next: () => Math.random() },
    tickMs: config.tickMs,
    electionTimeoutMs: config.electionTimeoutMs,
    requestTimeoutMs: 6_000,
    // Small enough that the demo shows snapshots: every 40 applied entries a member snapshots its keyspace and
    // keeps only 10 entries before it, so a member that missed more than that catches up by MsgSnap (etcd keeps
    // --snapshot-count 10,000 and 5,000 catch-up entries: a demo would never get there).
    snapshotCount: DEMO_SNAPSHOT_COUNT,
    raft: { snapshotCatchUpEntries: DEMO_SNAPSHOT_CATCH_UP },
  });
  // The core's read-only inspection view: Raft status, election timer, the in-memory log, keyspace and leases.
  inspection = inspectNode(node);
  gateway = createGateway(node, { clock });
  post({ kind: 'ready', id: config.id, recovered });
  node.onChange(() => {
    detectEvents();
    scheduleReport();
  });
  report();
  // Lease countdowns change without any Raft activity.
  setInterval(scheduleReport, 500);
}

/** What the last change left, to tell what the next one did (every change is seen: onChange runs per Ready). */
let seen:
  | {
      role: MemberState['role'];
      term: number;
      commit: number;
      firstIndex: number;
      lastIndex: number;
      /** Index → term of the entries past the commit index: the only ones that may be replaced. */
      uncommitted: [number, number][];
    }
  | undefined;

function detectEvents(): void {
  if (!node || !inspection) return;
  const ns = node.nodeStatus();
  const s = inspection.raftStatus();
  const log = inspection.log();
  const events: MemberEvent[] = [];
  if (seen) {
    if (ns.term !== seen.term) events.push({ type: 'term', from: seen.term, to: ns.term, role: ns.role });
    if (ns.role !== seen.role) events.push({ type: 'role', from: seen.role, to: ns.role, term: ns.term });
    if (s.firstIndex > seen.lastIndex + 1) {
      events.push({ type: 'snapshot-installed', index: s.firstIndex - 1 });
    } else if (s.firstIndex > seen.firstIndex) {
      events.push({ type: 'compacted', firstIndex: s.firstIndex });
    }
    const gone = seen.uncommitted.filter(([i, t]) => i >= s.firstIndex && log.term(i) !== t);
    if (gone.length > 0) {
      events.push({
        type: 'truncated',
        from: gone[0][0],
        to: gone.at(-1)![0],
        terms: [...new Set(gone.map(([, t]) => t))],
      });
    }
    if (ns.role === 'leader' && ns.commit > seen.commit) {
      const e = log.slice(ns.commit, ns.commit + 1)[0];
      events.push({ type: 'commit', index: ns.commit, label: e ? entryLabel(e) : '' });
    }
  }
  const uncommitted: [number, number][] = [];
  for (let i = Math.max(ns.commit + 1, s.firstIndex); i <= s.lastIndex && uncommitted.length < 200; i++) {
    const t = log.term(i);
    if (t !== undefined) uncommitted.push([i, t]);
  }
  seen = {
    role: ns.role,
    term: ns.term,
    commit: ns.commit,
    firstIndex: s.firstIndex,
    lastIndex: s.lastIndex,
    uncommitted,
  };
  if (events.length > 0) post({ kind: 'events', events });
}

let reportTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleReport(): void {
  if (reportTimer !== undefined) return;
  reportTimer = setTimeout(() => {
    reportTimer = undefined;
    report();
  }, REPORT_MS);
}

function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function entryLabel(e: Entry): string {
  const cacheKey = `${e.index}/${e.term}`;
  const cached = labels.get(cacheKey);
  if (cached) return cached;
  let label: string;
  try {
    if (e.type === 'confChange') {
      const cc = decodeConfChange(e.data);
      label = `${cc.type === 'removeNode' ? '−' : '+'}n${cc.nodeId}`;
    } else if (e.data.length === 0) {
      label = 'empty';
    } else {
      const { op } = decodeProposal(e.data);
      switch (op.type) {
        case 'put':
          label = `put ${text(op.request.key)}`;
          break;
        case 'deleteRange':
          label = `del ${text(op.request.key)}`;
          break;
        case 'leaseGrant':
          label = 'lease+';
          break;
        case 'leaseRevoke':
          label = 'lease−';
          break;
        case 'leaseCheckpoint':
          label = 'ckpt';
          break;
        case 'leaseRenew':
          label = 'renew';
          break;
        case 'publishMember':
          label = `pub ${op.name}`;
          break;
        default:
          label = op.type;
      }
    }
  } catch {
    label = '?';
  }
  if (labels.size > 5_000) labels.clear();
  labels.set(cacheKey, label);
  return label;
}

function report(): void {
  if (!node) return;
  const ns = node.nodeStatus();
  const s = inspection?.raftStatus();
  const log: LogEntryView[] = [];
  const keys: KeyView[] = [];
  let keyCount = 0;
  const leases: MemberState['leases'][number][] = [];
  if (inspection && s) {
    const lo = Math.max(s.firstIndex, s.lastIndex - LOG_VIEW_ENTRIES + 1);
    if (lo <= s.lastIndex) {
      for (const e of inspection.log().slice(lo, s.lastIndex + 1)) {
        log.push({ index: e.index, term: e.term, label: entryLabel(e) });
      }
    }
    const all = inspection.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0) });
    keyCount = all.count;
    for (const kv of all.kvs.slice(0, KEY_VIEW_LIMIT)) {
      keys.push({
        key: text(kv.key),
        value: text(kv.value),
        version: kv.version,
        modRevision: kv.modRevision,
        lease: kv.lease === 0n ? '' : kv.lease.toString(16),
      });
    }
    const now = clock?.now() ?? Date.now();
    for (const l of inspection.leases(now).slice(0, 20)) {
      leases.push({ id: l.id.toString(16), ttl: l.ttl, remaining: l.remaining, keys: l.keys });
    }
  }
  const state: MemberState = {
    id: memberId,
    role: ns.role,
    term: ns.term,
    vote: Number(s?.vote ?? 0n),
    leader: Number(ns.leader),
    commit: ns.commit,
    applied: ns.applied,
    firstIndex: s?.firstIndex ?? 1,
    lastIndex: ns.lastIndex,
    stable: s?.stable ?? ns.lastIndex,
    revision: ns.revision,
    log,
    keys,
    keyCount,
    leases,
    timer: electionTimer(),
    progress:
      s && ns.role === 'leader'
        ? [...s.progress]
            .filter(([id]) => Number(id) !== memberId)
            .map(([id, p]) => ({ id: Number(id), match: p.match, next: p.next }))
        : [],
  };
  post({ kind: 'state', state });
}

/**
 * Forces this member's election timeout: its own clock runs ahead one tick at a time until the election timer
 * fires, so the member does what it would on a real timeout — through its public inputs (the injected clock), not
 * a back door: with pre-vote it first asks whether it could win, it does not campaign while a membership change is
 * unapplied, and a leader has no election timer to force. (An EdgeNode has no "campaign now"; etcd-io/raft's
 * node.Campaign would be that.) Each step fires exactly one tick: the node re-arms its tick timer from the time it
 * fires, so one long jump would tick only once. The rest of the cluster keeps its own time.
 */
function forceElectionTimeout(): void {
  if (!clock || !node || !inspection) return;
  const role = node.nodeStatus().role;
  let ticks = 0;
  let fired = false;
  const wasPaused = clock.paused;
  if (role !== 'leader' && role !== 'learner') {
    clock.pause();
    const start = inspection.electionTimer();
    // The timer fires when `elapsed` reaches `timeout`; then it restarts from 0 with a new random timeout.
    for (let left = start.timeout - start.elapsed + 1; left > 0 && !fired; left--) {
      const before = inspection.electionTimer().elapsed;
      clock.advance(tickMs);
      ticks++;
      fired = inspection.electionTimer().elapsed <= before;
    }
    if (!wasPaused) clock.resume();
  }
  post({ kind: 'timed-out', id: memberId, ticks, fired, role });
}

/** The Raft election timer in ticks, for the page's shrinking ring. */
function electionTimer(): MemberState['timer'] {
  const t = inspection?.electionTimer();
  return t && t.timeout > 0 ? { elapsed: t.elapsed, timeout: t.timeout } : undefined;
}

/** Serves one client-panel request through etcd's JSON gateway, streaming the body back (watch is NDJSON). */
async function serveHttp(reqId: number, path: string, body: string): Promise<void> {
  if (!gateway) {
    post({ kind: 'http-head', reqId, status: 503, contentType: 'text/plain' });
    post({ kind: 'http-chunk', reqId, text: 'member is starting' });
    post({ kind: 'http-end', reqId });
    return;
  }
  const controller = new AbortController();
  requests.set(reqId, controller);
  try {
    const response = await gateway(
      new Request(`http://edgecd${path}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
        signal: controller.signal,
      }),
    );
    post({
      kind: 'http-head',
      reqId,
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
    });
    if (response.body) {
      const reader = response.body.getReader();
      const onAbort = () => void reader.cancel().catch(() => {});
      controller.signal.addEventListener('abort', onAbort, { once: true });
      const chunkDecoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        post({ kind: 'http-chunk', reqId, text: chunkDecoder.decode(value, { stream: true }) });
      }
    }
    post({ kind: 'http-end', reqId });
  } catch (err) {
    post({ kind: 'http-end', reqId, error: controller.signal.aborted ? undefined : String(err) });
  } finally {
    requests.delete(reqId);
  }
}
