/// <reference lib="dom" />
// The demo page: starts three edgecd members, each in its own module Web Worker, wires them to one InPageHub
// (the in-page network with faults), shows their state, animates their messages, and offers fault controls and
// a client panel that speaks etcd's JSON gateway. See demo/README.md.

import { InPageHub } from '../../adapters/transport/in-page/index.ts';
import type { Message } from '../../src/raft/types.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { Rng } from '../../src/sim/rng.ts';
import { startAttach } from './attach.ts';
import { type AttachedMember, drawAttached } from './attach-view.ts';
import { buildCard, renderCard, roleOf } from './card.ts';
import { CatchUp } from './catch-up.ts';
import { startClient } from './client.ts';
import { type GridRow, renderLogGrid } from './graph/log-grid.ts';
import { type Frame, LiveHistory, type MemberSnapshot } from './history.ts';
import { joinCluster } from './join.ts';
import { createLiveGraph, GROUP_COLORS } from './live-graph.ts';
import { MessageTap } from './message-tap.ts';
import type { FromWorker, MemberEvent, MemberState, ToWorker } from './protocol.ts';
import { bootReplay, seedForm } from './replay/boot.ts';
import { DEFAULT_SPEED, ScaledClock, setSpeed } from './scaled-clock.ts';
import { startScenarios } from './scenarios/index.ts';
import { log, logMemberEvent, startTimelineFilter, type TimelineKind, timelineClock } from './timeline.ts';
import { Topology } from './topology.ts';
import { $, el } from './ui.ts';

const IDS = [1, 2, 3] as const;
const TICK_MS = 100;
const ELECTION_MS = 1000;
/** Where the members sit in the graph: a wide triangle, or a taller one on narrow screens (bigger circles). */
const LAYOUTS = {
  wide: {
    w: 760,
    h: 215,
    pos: { 1: { x: 380, y: 42 }, 2: { x: 150, y: 168 }, 3: { x: 610, y: 168 } },
  },
  narrow: {
    w: 420,
    h: 300,
    pos: { 1: { x: 210, y: 50 }, 2: { x: 70, y: 240 }, 3: { x: 350, y: 240 } },
  },
} as const;
const narrowScreen = matchMedia('(max-width: 600px)');

function applyLayout(): void {
  if (attached) return drawAttached(attached.members, narrowScreen.matches);
  const layout = narrowScreen.matches ? LAYOUTS.narrow : LAYOUTS.wide;
  graph.setLayout(layout.pos);
  const net = $('#net');
  net.setAttribute('viewBox', `0 0 ${layout.w} ${layout.h}`);
  net.style.setProperty('--net-aspect', `${layout.w} / ${layout.h}`);
  document.body.dataset.layout = narrowScreen.matches ? 'narrow' : 'wide';
  graph.drawLinks();
  graph.drawNodes();
}

const speedParam = Number(new URLSearchParams(location.search).get('speed'));
let speed = speedParam > 0 && speedParam <= 10 ? speedParam : DEFAULT_SPEED;
/** The page's time base (the network's clock runs on it); each worker has its own at the same rate. */
const scaledClock = new ScaledClock(speed);

// Delays from half the latency setting up to all of it, so a message is never a one-frame flash.
const faults = new FaultModel(new Rng(Date.now() & 0x7fffffff), { minDelayMs: 20, maxDelayMs: 40 });
const hub = new InPageHub(faults, scaledClock);
const startedAt = hub.clock.now();
timelineClock(() => hub.clock.now() - startedAt);

type HttpListener = {
  onHead?(status: number, contentType: string): void;
  onChunk(text: string): void;
  onEnd(error?: string): void;
};

export interface Member {
  readonly id: number;
  worker?: Worker;
  up: boolean;
  starting: boolean;
  state?: MemberState;
  /** Cluster time when the state arrived (the election timer counts down from it). */
  reportedAt?: number;
  recoveredLastIndex?: number;
  group: number;
  card: HTMLElement;
}

export interface Cluster {
  members: Map<number, Member>;
  /** The member a request goes to: `via` or, for auto, the leader (else any live member). */
  pick(via: string): Member | undefined;
  http(member: Member, path: string, body: string, listener: HttpListener): () => void;
  log(kind: TimelineKind, text: string): void;
  /** Called after any member reports a new state. */
  onState(listener: (m: Member) => void): () => void;
  /** Called with each of a member's own Raft events (role and term changes, truncation, snapshots). */
  onEvent(listener: (m: Member, e: MemberEvent) => void): () => void;
  /** Crash a member (its worker is terminated) / start it again (it recovers from IndexedDB). */
  kill(m: Member): void;
  restart(m: Member): void;
  /** Cut a member off from the others / remove every partition, cut and slow link. */
  isolate(m: Member): void;
  heal(): void;
  /** Cluster time per real time (the speed setting). */
  speed(): number;
}

const stateListeners = new Set<(m: Member) => void>();
const eventListeners = new Set<(m: Member, e: MemberEvent) => void>();

const members = new Map<number, Member>();
const catchUp = new CatchUp();
const httpListeners = new Map<number, HttpListener>();
let nextReqId = 1;

// ---------------------------------------------------------------- members

function start(m: Member): void {
  m.starting = true;
  const worker = new Worker(new URL('./member.worker.ts', import.meta.url), { type: 'module' });
  m.worker = worker;
  const channel = new MessageChannel();
  hub.attach(BigInt(m.id), tap.port(channel.port1));
  worker.addEventListener('message', (e: MessageEvent<FromWorker>) => onWorkerMessage(m, worker, e.data));
  worker.addEventListener('error', (e) => log('fault', `n${m.id} worker error: ${e.message}`));
  const msg: ToWorker = {
    kind: 'init',
    config: {
      id: m.id,
      name: `n${m.id}`,
      dbName: `edgecd-demo-n${m.id}`,
      members: IDS.map((id) => ({ id, name: `n${id}` })),
      tickMs: TICK_MS,
      electionTimeoutMs: ELECTION_MS,
      paused: hub.paused,
      speed,
    },
    port: channel.port2,
  };
  worker.postMessage(msg, [channel.port2]);
  render(m);
}

function kill(m: Member): void {
  m.worker?.terminate();
  m.worker = undefined;
  m.up = false;
  m.starting = false;
  hub.detach(BigInt(m.id));
  for (const [reqId, l] of [...httpListeners]) {
    if ((l as HttpListener & { member?: number }).member === m.id) {
      httpListeners.delete(reqId);
      l.onEnd('member killed');
    }
  }
  log('fault', `n${m.id} killed (worker terminated)`);
  render(m);
  updateVia();
}

function onWorkerMessage(m: Member, worker: Worker, msg: FromWorker): void {
  if (m.worker !== worker) return;
  switch (msg.kind) {
    case 'ready':
      m.up = true;
      m.starting = false;
      m.recoveredLastIndex = msg.recovered.lastIndex;
      log(
        'info',
        msg.recovered.lastIndex > 0
          ? `n${m.id} started: recovered ${msg.recovered.lastIndex} log entries (term ${msg.recovered.term}) from IndexedDB`
          : `n${m.id} started with an empty IndexedDB`,
      );
      updateVia();
      break;
    case 'events':
      for (const e of msg.events) {
        logMemberEvent(m.id, e);
        if (e.type === 'truncated') markReplaced(m, e.from, e.to, e.terms);
        for (const l of eventListeners) l(m, e);
      }
      break;
    case 'state':
      m.state = msg.state;
      m.reportedAt = hub.clock.now();
      render(m);
      catchUp.note(members.values());
      for (const l of stateListeners) l(m);
      break;
    case 'http-head':
      httpListeners.get(msg.reqId)?.onHead?.(msg.status, msg.contentType);
      break;
    case 'http-chunk':
      httpListeners.get(msg.reqId)?.onChunk(msg.text);
      break;
    case 'http-end': {
      const l = httpListeners.get(msg.reqId);
      httpListeners.delete(msg.reqId);
      l?.onEnd(msg.error);
      break;
    }
    case 'error':
      log('fault', `n${m.id} failed: ${msg.message.split('\n')[0]}`);
      break;
    case 'timed-out':
      if (msg.fired)
        log(
          'fault',
          `you forced n${m.id}'s election timeout: its clock ran ${msg.ticks} tick${msg.ticks === 1 ? '' : 's'} ahead and the timer fired`,
        );
      else if (msg.role === 'leader')
        log('info', `n${m.id} leads: a leader has no election timer to force (it checks quorum instead)`);
      else if (msg.role === 'learner') log('info', `n${m.id} is a learner: it never campaigns`);
      else log('info', `n${m.id}'s election timer did not fire`);
      break;
    case 'closed':
      break;
  }
}

/** Makes a member's election timer run out now (its worker runs its own clock ahead until the timer fires). */
function forceTimeout(m: Member): void {
  if (!m.worker || !m.up) {
    log('info', `n${m.id} is down: it has no election timer running`);
    return;
  }
  m.worker.postMessage({ kind: 'timeout' } satisfies ToWorker);
}

// ---------------------------------------------------------------- history: what the page showed, to rewind

const liveHistory = new LiveHistory();
/** Something changed since the last recorded frame. */
let changed = true;
hub.onEvent(() => {
  changed = true;
});

/** A member as the page shows it: live, or as it was in the frame being rewound to. */
function view(m: Member): MemberSnapshot {
  return liveHistory.viewing?.members.find((s) => s.id === m.id) ?? m;
}

/** Records the present, at most once per animation frame and only when something changed. */
function recordFrame(): void {
  if (!changed || liveHistory.viewing) return;
  changed = false;
  const snapshot = (m: Member): MemberSnapshot => ({
    id: m.id,
    up: m.up,
    starting: m.starting,
    state: m.state,
    recoveredLastIndex: m.recoveredLastIndex,
    group: m.group,
    card: m.card,
    reportedAt: m.reportedAt,
  });
  const inflight = hub.inFlight();
  const details = new Map<number, Message>();
  for (const w of inflight) {
    const m = tap.detail.get(w.seq);
    if (m) details.set(w.seq, m);
  }
  const frame: Frame = {
    t: hub.clock.now(),
    members: [...members.values()].map(snapshot),
    inflight,
    details,
  };
  liveHistory.record(frame);
  const scrub = $('#rewind') as HTMLInputElement;
  scrub.max = String(liveHistory.length - 1);
  scrub.value = scrub.max;
}

/** Shows frame i of the history (or the present), pausing the cluster while the past is shown. */
function rewind(i: number | undefined): void {
  if (i !== undefined && i < liveHistory.length - 1) setPaused(true);
  liveHistory.show(i);
  const f = liveHistory.viewing;
  document.body.dataset.rewound = String(f !== undefined);
  ($('#rewind') as HTMLInputElement).value = String(liveHistory.index ?? liveHistory.length - 1);
  $('#rewind-at').textContent = f ? `${((f.t - hub.clock.now()) / 1000).toFixed(2)} s` : 'now';
  for (const m of members.values()) render(m);
}

function render(m: Member): void {
  const v = view(m);
  renderCard(v, roleOf(v), topology.isAlone(m), GROUP_COLORS[v.group] ?? '#64748b');
  changed = true;
  if (!attached) graph.drawNodes();
  queueGrid();
}

// ---------------------------------------------------------------- the aligned log grid

/** Per member, the indexes where it dropped uncommitted entries: their terms, and when (cluster time). */
const replaced = new Map<number, Map<number, { terms: readonly number[]; at: number }>>();

function markReplaced(m: Member, from: number, to: number, terms: readonly number[]): void {
  const marks = replaced.get(m.id) ?? new Map<number, { terms: readonly number[]; at: number }>();
  replaced.set(m.id, marks);
  const at = hub.clock.now();
  for (let i = from; i <= to; i++) marks.set(i, { terms, at });
  queueGrid();
}

let gridQueued = false;

function queueGrid(): void {
  if (gridQueued) return;
  gridQueued = true;
  requestAnimationFrame(() => {
    gridQueued = false;
    renderGrid();
  });
}

function renderGrid(): void {
  const shown = [...members.values()].map(view);
  const leader = shown.find((m) => m.up && m.state?.role === 'leader');
  const progress = new Map((leader?.state?.progress ?? []).map((p) => [p.id, p]));
  const rows: GridRow[] = shown.map((m) => {
    const s = m.state;
    const entry = (i: number) => s?.log.find((x) => x.index === i);
    return {
      id: m.id,
      stale: !m.up,
      progress: m !== leader ? progress.get(m.id) : undefined,
      // Rewound: only what had been dropped by then.
      replaced: (i) => {
        const r = replaced.get(m.id)?.get(i);
        return r && r.at <= (liveHistory.viewing?.t ?? Number.POSITIVE_INFINITY) ? r.terms : undefined;
      },
      log: s && {
        firstIndex: s.firstIndex,
        lastIndex: s.lastIndex,
        commit: s.commit,
        applied: s.applied,
        stable: s.stable,
        term: (i) => entry(i)?.term,
        label: (i) => entry(i)?.label ?? '',
      },
    };
  });
  renderLogGrid($('#log-grid'), rows, leader?.state?.commit ?? 0);
}

const tap = new MessageTap(hub);

const topology = new Topology(
  faults,
  () => members.values(),
  () => {
    if (!attached) graph.drawLinks();
    for (const m of members.values()) render(m);
  },
);

const graph = createLiveGraph({
  members,
  view,
  topology,
  faults,
  hub,
  tap,
  history: liveHistory,
  tickMs: TICK_MS,
  forceTimeout,
});

function animate(): void {
  recordFrame();
  if (!attached) {
    graph.drawMessages();
    graph.drawNodes();
  }
  requestAnimationFrame(animate);
}

// ---------------------------------------------------------------- an attached live cluster in the main picture

/**
 * While the page is attached to a live cluster, the graph and the cards show its members; the in-page cluster
 * keeps running out of sight, and its circles and cards (kept here) come back on detach.
 */
let attached: { members: readonly AttachedMember[]; nodes: Element[]; cards: Element[] } | undefined;

function showAttached(list: readonly AttachedMember[] | undefined): void {
  if (list && !attached) {
    attached = {
      members: list,
      nodes: Array.from($('#nodes').children),
      cards: Array.from($('#members').children),
    };
    document.body.dataset.mode = 'attached';
  } else if (!list && attached) {
    const saved = attached;
    attached = undefined;
    delete document.body.dataset.mode;
    $('#nodes').replaceChildren(...saved.nodes);
    $('#members').replaceChildren(...saved.cards);
    applyLayout();
    for (const m of members.values()) render(m);
    return;
  }
  if (!attached || !list) return;
  attached.members = list;
  drawAttached(list, narrowScreen.matches);
}

// ---------------------------------------------------------------- clock: pause and step

function setPaused(paused: boolean): void {
  if (!paused && liveHistory.viewing) rewind(undefined);
  if (paused === hub.paused) return;
  if (paused) hub.pause();
  else hub.resume();
  for (const m of members.values())
    m.worker?.postMessage({ kind: paused ? 'pause' : 'resume' } satisfies ToWorker);
  $('#pause').innerHTML = paused ? 'Resume <kbd>space</kbd>' : 'Pause <kbd>space</kbd>';
  $('#clock-state').textContent = paused ? 'PAUSED · n or → steps' : 'running';
  document.body.classList.toggle('paused', paused);
  log('info', paused ? 'clock paused' : 'clock resumed');
}

function step(): void {
  if (!hub.paused) setPaused(true);
  const w = hub.step();
  if (w) {
    log('step', `step: delivered ${w.type} n${w.from} → n${w.to}`);
    return;
  }
  hub.clock.advance(TICK_MS);
  for (const m of members.values())
    m.worker?.postMessage({ kind: 'advance', ms: TICK_MS } satisfies ToWorker);
  log('step', '', {
    key: 'tick',
    text: (n) => `step: nothing in flight, time +${n * TICK_MS} ms (${n} tick${n > 1 ? 's' : ''})`,
  });
}

// ---------------------------------------------------------------- reset

async function resetData(): Promise<void> {
  for (const m of members.values()) {
    m.worker?.terminate();
    m.worker = undefined;
    m.up = false;
    m.state = undefined;
    m.recoveredLastIndex = undefined;
    hub.detach(BigInt(m.id));
  }
  replaced.clear();
  await Promise.all(
    IDS.map(
      (id) =>
        new Promise<void>((resolve) => {
          const req = indexedDB.deleteDatabase(`edgecd-demo-n${id}`);
          req.onsuccess = req.onerror = req.onblocked = () => resolve();
        }),
    ),
  );
  log('fault', 'all members stopped and their IndexedDB databases deleted');
  for (const m of members.values()) start(m);
}

// ---------------------------------------------------------------- requests to members

function http(member: Member, path: string, body: string, listener: HttpListener): () => void {
  const reqId = nextReqId++;
  if (!member.worker || !member.up) {
    queueMicrotask(() => listener.onEnd(`n${member.id} is down`));
    return () => {};
  }
  httpListeners.set(reqId, Object.assign(listener, { member: member.id }));
  member.worker.postMessage({ kind: 'http', reqId, path, body } satisfies ToWorker);
  return () => {
    member.worker?.postMessage({ kind: 'http-cancel', reqId } satisfies ToWorker);
  };
}

function pick(via: string): Member | undefined {
  if (via !== 'auto') return members.get(Number(via));
  const live = [...members.values()].filter((m) => m.up);
  return live.find((m) => m.state?.role === 'leader') ?? live[0];
}

function updateVia(): void {
  const select = $('#via') as HTMLSelectElement;
  const current = select.value;
  select.replaceChildren(
    el('option', { value: 'auto' }, ['leader (auto)']),
    ...[...members.values()].map((m) =>
      el('option', { value: String(m.id) }, [`n${m.id}${m.up ? '' : ' (down)'}`]),
    ),
  );
  select.value = current || 'auto';
}

// ---------------------------------------------------------------- tabs and keys

function showTab(name: string): void {
  for (const b of Array.from(document.querySelectorAll<HTMLElement>('.tabs [data-tab]')))
    b.classList.toggle('active', b.dataset.tab === name);
  for (const p of Array.from(document.querySelectorAll<HTMLElement>('.panel')))
    p.classList.toggle('active', p.id === `panel-${name}`);
  document.body.dataset.tab = name;
}

// ---------------------------------------------------------------- boot

function typingInField(e: KeyboardEvent): boolean {
  const isField = (x: EventTarget | null | undefined) =>
    x instanceof HTMLElement &&
    (x.isContentEditable || x.closest('input, select, textarea, [contenteditable]') !== null);
  return isField(e.target) || isField(document.activeElement);
}

function boot(): void {
  const params = new URLSearchParams(location.search);
  startTimelineFilter();
  if (params.get('seed') !== null) return bootReplay(params, showTab, narrowScreen);
  for (const id of IDS) {
    const card = buildCard(id, {
      kill: () => {
        const m = members.get(id)!;
        if (m.up || m.starting) kill(m);
        else start(m);
      },
      isolate: () => {
        const m = members.get(id)!;
        if (topology.isAlone(m)) topology.joinGroup(m, 0);
        else topology.joinGroup(m, topology.freeGroup());
      },
      timeout: () => forceTimeout(members.get(id)!),
    });
    $('#members').append(card);
    members.set(id, { id, up: false, starting: false, group: 0, card });
  }
  $('#pause').addEventListener('click', () => setPaused(!hub.paused));
  $('#step').addEventListener('click', step);
  $('#heal').addEventListener('click', () => topology.healAll());
  const scrub = $('#rewind') as HTMLInputElement;
  scrub.addEventListener('input', () => rewind(Number(scrub.value)));
  // Click (or tap) a message in flight to drop it. Messages are redrawn every frame, so this listens on their layer.
  $('#msgs').addEventListener('pointerdown', (e) => {
    const dot = (e.target as Element).closest<SVGElement>('.msg');
    const w = dot && hub.inFlight().find((x) => x.seq === Number(dot.dataset.seq));
    if (!w) return;
    e.preventDefault();
    e.stopPropagation();
    if (tap.drop(w)) document.body.dataset.droppedByHand = String(tap.droppedByHand.size);
  });
  $('#reset').addEventListener('click', () => void resetData());
  const drop = $('#drop') as HTMLInputElement;
  drop.addEventListener('input', () => {
    faults.setRates({ dropRate: Number(drop.value) / 100 });
    $('#drop-out').textContent = `${drop.value}%`;
  });
  drop.addEventListener('change', () => log('fault', `drop rate ${drop.value}%`));
  const latency = $('#latency') as HTMLInputElement;
  latency.addEventListener('input', () => {
    const max = Number(latency.value);
    faults.setRates({ minDelayMs: Math.max(2, Math.round(max / 2)), maxDelayMs: max });
    $('#latency-out').textContent = `≤${max} ms`;
  });
  latency.addEventListener('change', () => log('fault', `latency up to ${latency.value} ms`));
  for (const b of Array.from(document.querySelectorAll<HTMLElement>('.tabs [data-tab]')))
    b.addEventListener('click', () => showTab(b.dataset.tab!));
  const speedSelect = $('#speed') as HTMLSelectElement;
  if (!Array.from(speedSelect.options).some((o) => Number(o.value) === speed))
    speedSelect.append(el('option', { value: String(speed) }, [`${speed}×`]));
  speedSelect.value = String(speed);
  document.body.dataset.speed = String(speed);
  speedSelect.addEventListener('change', () => {
    speed = Number(speedSelect.value);
    setSpeed(hub.clock, scaledClock, speed);
    for (const m of members.values())
      m.worker?.postMessage({ kind: 'speed', rate: speed } satisfies ToWorker);
    document.body.dataset.speed = String(speed);
    log('info', `speed ${speed}× (cluster time runs at ${speed}× real time)`);
  });
  narrowScreen.addEventListener('change', applyLayout);
  applyLayout();
  // On a phone the legend starts folded (one tap opens it); on a wider screen it is open.
  if (narrowScreen.matches) ($('#legend') as HTMLDetailsElement).open = false;

  const cluster: Cluster = {
    members,
    pick,
    http,
    log,
    onState: (l) => {
      stateListeners.add(l);
      return () => stateListeners.delete(l);
    },
    onEvent: (l) => {
      eventListeners.add(l);
      return () => eventListeners.delete(l);
    },
    kill: (m) => {
      if (m.up || m.starting) kill(m);
    },
    restart: (m) => {
      if (!m.up && !m.starting) start(m);
    },
    isolate: (m) => {
      if (!topology.isAlone(m)) topology.joinGroup(m, topology.freeGroup());
    },
    heal: () => topology.healAll(),
    speed: () => speed,
  };
  startClient(cluster);
  startScenarios(cluster);
  seedForm();
  startAttach({ onView: showAttached });

  window.addEventListener('keydown', (e) => {
    // Keys typed into a field are text, not commands (whatever element the event was retargeted to).
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing || typingInField(e)) return;
    // Attached to a live cluster, the in-page cluster is out of sight: its hotkeys would act unseen.
    if (attached) return;
    if (e.key === ' ') {
      e.preventDefault();
      // A focused button would also take the space (on key up) and undo the toggle: let go of it.
      if (document.activeElement instanceof HTMLButtonElement) document.activeElement.blur();
      setPaused(!hub.paused);
    } else if (e.key === 'n' || e.key === 'ArrowRight') {
      e.preventDefault();
      step();
    } else if (e.key === 'h') {
      topology.healAll();
    } else if (members.has(Number(e.key))) {
      // 1, 2, 3: force that member's election timeout.
      forceTimeout(members.get(Number(e.key))!);
    }
  });

  const joinStatus = (text: string) => {
    $('#join-status').textContent = text;
  };
  const join = (url: string, user?: string | null, password?: string | null) => {
    ($('#join') as HTMLButtonElement).disabled = true;
    const credentials = user ? { user, password: password ?? '' } : undefined;
    joinCluster(url, $('#learner'), joinStatus, credentials).then(
      (tab) => {
        (globalThis as { edgecdLearner?: unknown }).edgecdLearner = tab;
      },
      (err: unknown) => {
        joinStatus(`join failed: ${(err as Error).message}`);
        ($('#join') as HTMLButtonElement).disabled = false;
      },
    );
  };
  $('#join').addEventListener('click', () => join(($('#attach-url') as HTMLInputElement).value));
  const joinUrl = params.get('join');
  if (joinUrl) {
    showTab('attach');
    ($('#attach-url') as HTMLInputElement).value = joinUrl;
    join(joinUrl, params.get('user'), params.get('password'));
  }
  for (const m of members.values()) start(m);
  updateVia();
  requestAnimationFrame(animate);
  (globalThis as { edgecdDemo?: unknown }).edgecdDemo = { hub, faults, members, tap };
}

boot();
