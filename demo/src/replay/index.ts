/// <reference lib="dom" />
// Seed replay in the main picture: `?seed=N&nodes=K&bug=NAME&kv=1&at=<frame|end>` runs that simulator run in a
// Web Worker (./sim.worker.ts: the code behind `npm run sim`), then shows it frame by frame — every message
// sent, delivered or lost, every crash, partition and client operation — in the graph, the member cards and the
// log grid. Play, pause, step both ways, jump to the next election, commit, fault or violation, or scrub. The replay
// root (#replay-bar) carries the run's digest, computed here from the very events it shows (`digestOf`), which
// equals the one `npm run sim` prints for the same arguments.

import { type RunSpec, specQuery } from '../../../src/sim/run-spec.ts';
import { digestOf, type TraceEvent } from '../../../src/sim/trace.ts';
import { type Layout, ringLayout } from '../graph/layout.ts';
import { $, el } from '../ui.ts';
import { Recording, type ReplayState } from './recording.ts';
import type { SimRequest, SimResponse } from './sim.worker.ts';
import { describeEvent, drawLinks, drawMessages, drawNodes, renderCards, renderGrid } from './view.ts';

/** Replay speeds: virtual ms per real second. */
const SPEEDS = [2, 10, 50, 250, 1000] as const;
const DEFAULT_SPEED = 10;
const TIMELINE_ITEMS = 80;

const isElection = (e: TraceEvent) => e.kind === 'note' && /becomes leader|leads term/.test(e.text);
const isViolation = (e: TraceEvent) => e.kind === 'note' && e.text.startsWith('VIOLATION');
const isFault = (e: TraceEvent) =>
  e.kind === 'note' && /crash|restart|partition|cut|heal|slow|network drop|shut down|transfer/.test(e.text);

export function noteKind(e: TraceEvent): string {
  if (e.kind === 'client') return 'client';
  if (isViolation(e)) return 'violation';
  if (isElection(e)) return 'election';
  if (isFault(e)) return 'fault';
  if (e.kind === 'note' && /snapshot/.test(e.text)) return 'snapshot';
  return 'info';
}

export function startSeedReplay(spec: RunSpec, at: string | null, narrow: MediaQueryList): void {
  const root = $('#replay-bar');
  document.body.dataset.mode = 'replay';
  root.hidden = false;
  root.dataset.query = specQuery(spec);
  document.querySelector('h1 small')!.textContent =
    'seed replay · the deterministic simulator, message by message';
  $('#replay-title').textContent =
    `seed ${spec.seed} · ${spec.mixed ? 'mixed runtimes' : `${spec.nodes ?? 3} members`}` +
    `${spec.kv ? ' · whole members + clients (--kv)' : ' · Raft level'}${spec.bug ? ` · bug ${spec.bug}` : ''}`;
  const status = $('#replay-now');
  status.textContent = 'running the simulator in a Web Worker…';
  const worker = new Worker(new URL('./sim.worker.ts', import.meta.url), { type: 'module' });
  worker.addEventListener('error', (e) => {
    status.textContent = `the simulator failed to run: ${e.message}`;
    root.dataset.error = e.message;
  });
  worker.addEventListener('message', (e: MessageEvent<SimResponse>) => {
    worker.terminate();
    show(spec, e.data, at, narrow);
  });
  worker.postMessage({ spec } satisfies SimRequest);
}

function show(spec: RunSpec, run: SimResponse, at: string | null, narrow: MediaQueryList): void {
  const root = $('#replay-bar');
  const rec = new Recording(run.events);
  // The digest of what this page shows, by the simulator's own digest code; it must equal the run's.
  const digest = digestOf(run.events);
  const result = run.result;
  Object.assign(root.dataset, {
    digest,
    simDigest: result.digest,
    frames: String(rec.frames),
    ok: String(result.ok),
    ...(result.violation ? { violation: result.violation.invariant } : {}),
  });
  const violationFrame = rec.next(0, isViolation);
  const s = result.stats as unknown as Record<string, number>;
  $('#replay-summary').textContent =
    `seed ${spec.seed}: ${result.ok ? 'all checks held' : `VIOLATION (${result.violation?.invariant}) ${result.violation?.message}`}` +
    ` · ${rec.frames - 1} events in ${run.ms} ms · ${rec.ids.length} members · ` +
    Object.entries(s)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') +
    ` · digest ${digest}${digest === result.digest ? '' : ` ≠ simulator's ${result.digest}!`}`;
  const banner = $('#replay-violation');
  if (result.violation && violationFrame !== undefined) {
    banner.hidden = false;
    banner.dataset.frame = String(violationFrame);
    banner.replaceChildren(
      el('b', {}, [`${result.violation.invariant} violated`]),
      ` at event ${violationFrame - 1}: ${describeEvent(rec.eventOf(violationFrame - 1))} — ${result.violation.message}`,
    );
  }

  let layout: Layout = ringLayout(rec.ids, narrow.matches);
  const applyLayout = () => {
    layout = ringLayout(rec.ids, narrow.matches);
    const net = $('#net');
    net.setAttribute('viewBox', `0 0 ${layout.w} ${layout.h}`);
    net.style.setProperty('--net-aspect', `${layout.w} / ${layout.h}`);
    document.body.dataset.layout = narrow.matches ? 'narrow' : 'wide';
    drawn = { version: -1, blocked: undefined, frame: -1 };
  };
  let drawn: { version: number; blocked: ReplayState['blocked'] | undefined; frame: number } = {
    version: -1,
    blocked: undefined,
    frame: -1,
  };
  narrow.addEventListener('change', () => {
    applyLayout();
    render();
  });

  const first = at === 'end' ? rec.frames - 1 : Number(at) || 0;
  let state = rec.state(first);
  let vt = state.t;
  let speed = DEFAULT_SPEED;
  let playing: number | undefined;
  let last = 0;
  const scrub = $('#rp-scrub') as HTMLInputElement;
  scrub.max = String(rec.frames - 1);

  function render(): void {
    if (state.blocked !== drawn.blocked) drawLinks(layout, rec.ids, state);
    if (state.version !== drawn.version) {
      drawNodes(layout, rec.ids, state);
      renderCards(rec.ids, state);
      renderGrid(rec.ids, state);
    }
    drawMessages(layout, state, vt);
    if (state.frame !== drawn.frame) {
      const e = rec.eventOf(state.frame);
      $('#replay-now').textContent =
        `event ${state.frame} of ${rec.frames - 1} · t=${state.t} ms · ${describeEvent(e)}`;
      scrub.value = String(state.frame);
      Object.assign(root.dataset, { at: String(state.frame), t: String(state.t) });
      root.dataset.event = e?.kind ?? 'start';
      $('#replay-violation').classList.toggle(
        'reached',
        violationFrame !== undefined && state.frame >= violationFrame,
      );
      renderTimeline();
    }
    drawn = { version: state.version, blocked: state.blocked, frame: state.frame };
  }

  function renderTimeline(): void {
    $('#timeline-list').replaceChildren(
      ...rec.timelineUpTo(state.frame, TIMELINE_ITEMS).map((f) => {
        const e = rec.eventOf(f)!;
        const kind = noteKind(e);
        const li = el('li', { class: `ev-${kind}`, 'data-kind': kind, 'data-frame': String(f) }, [
          el('time', {}, [`${(e.t / 1000).toFixed(3)}s`]),
          describeEvent(e),
        ]);
        li.addEventListener('click', () => go(f));
        return li;
      }),
    );
  }

  function go(k: number): void {
    const target = Math.max(0, Math.min(rec.frames - 1, k));
    if (target >= state.frame) rec.advance(state, target);
    else state = rec.state(target);
    vt = state.t;
    render();
    if (playing === undefined) remember();
  }

  function remember(): void {
    const url = new URL(location.href);
    url.searchParams.set('at', String(state.frame));
    history.replaceState(null, '', url);
  }

  function frameLoop(now: number): void {
    if (playing === undefined) return;
    vt += ((now - last) / 1000) * speed;
    last = now;
    const target = rec.frameAt(vt, state.frame);
    if (target > state.frame) rec.advance(state, target);
    render();
    if (state.frame >= rec.frames - 1) return setPlaying(false);
    playing = requestAnimationFrame(frameLoop);
  }

  function setPlaying(on: boolean): void {
    if (on === (playing !== undefined)) return;
    if (on) {
      if (state.frame >= rec.frames - 1) go(0);
      last = performance.now();
      playing = requestAnimationFrame(frameLoop);
    } else {
      if (playing !== undefined) cancelAnimationFrame(playing);
      playing = undefined;
      vt = state.t;
      render();
      remember();
    }
    root.dataset.playing = String(on);
    $('#rp-play').innerHTML = on ? 'Pause <kbd>space</kbd>' : 'Play <kbd>space</kbd>';
  }

  const jump = (test: (e: TraceEvent) => boolean) => () => {
    setPlaying(false);
    const f = rec.next(state.frame, test);
    if (f !== undefined) go(f);
  };
  const step = (d: number) => () => {
    setPlaying(false);
    go(state.frame + d);
  };
  $('#rp-play').addEventListener('click', () => setPlaying(playing === undefined));
  $('#rp-step').addEventListener('click', step(1));
  $('#rp-back').addEventListener('click', step(-1));
  $('#rp-election').addEventListener('click', jump(isElection));
  $('#rp-fault').addEventListener('click', jump(isFault));
  $('#rp-commit').addEventListener('click', () => {
    setPlaying(false);
    const f = rec.nextCommit(state.frame);
    if (f !== undefined) go(f);
  });
  const toViolation = $('#rp-violation') as HTMLButtonElement;
  toViolation.disabled = violationFrame === undefined;
  toViolation.addEventListener('click', () => {
    setPlaying(false);
    if (violationFrame !== undefined) go(violationFrame);
  });
  $('#rp-end').addEventListener('click', () => {
    setPlaying(false);
    go(rec.frames - 1);
  });
  scrub.addEventListener('input', () => {
    setPlaying(false);
    go(Number(scrub.value));
  });
  const speedSelect = $('#rp-speed') as HTMLSelectElement;
  speedSelect.replaceChildren(...SPEEDS.map((v) => el('option', { value: String(v) }, [`${v} ms/s`])));
  speedSelect.value = String(speed);
  speedSelect.addEventListener('change', () => {
    speed = Number(speedSelect.value);
  });
  window.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.target instanceof HTMLInputElement) return;
    if (e.key === ' ') {
      e.preventDefault();
      if (document.activeElement instanceof HTMLButtonElement) document.activeElement.blur();
      setPlaying(playing === undefined);
    } else if (e.key === 'n' || e.key === 'ArrowRight') {
      e.preventDefault();
      step(1)();
    } else if (e.key === 'ArrowLeft') {
      e.preventDefault();
      step(-1)();
    }
  });
  applyLayout();
  render();
  root.dataset.ready = 'true';
}
