/// <reference lib="dom" />
// Seed replay: runs the deterministic simulator (src/sim/simulation.ts, the code behind `npm run sim`) in the
// page with the whole trace kept, then steps through its events, rebuilding a small picture of the members
// (roles, crashes, partitions) from the trace lines. The simulator is fully deterministic: the same seed always
// gives the same trace (its digest is shown).

import { runSimulation } from '../../src/sim/simulation.ts';
import { $, el } from './ui.ts';

interface SimView {
  nodes: Map<number, 'leader' | 'follower' | 'down' | 'learner' | 'removed'>;
  term: number;
  network: string;
}

export interface Replay {
  load(seed: number): void;
  next(): void;
  prev(): void;
  togglePlay(): void;
}

export function startReplay(): Replay {
  let lines: string[] = [];
  let views: SimView[] = [];
  let at = -1;
  let playing: ReturnType<typeof setInterval> | undefined;
  const list = $('#replay-log');

  function apply(view: SimView, line: string): SimView {
    const nodes = new Map(view.nodes);
    let { term, network } = view;
    let m: RegExpMatchArray | null;
    if ((m = line.match(/n(\d+) becomes leader of term (\d+)/))) {
      for (const [id, r] of nodes) if (r === 'leader') nodes.set(id, 'follower');
      nodes.set(Number(m[1]), 'leader');
      term = Number(m[2]);
    } else if ((m = line.match(/crash n(\d+)/))) {
      nodes.set(Number(m[1]), 'down');
    } else if ((m = line.match(/restart n(\d+)/))) {
      nodes.set(Number(m[1]), 'follower');
    } else if ((m = line.match(/applied (addNode|addLearner|removeNode) n(\d+)/))) {
      const id = Number(m[2]);
      if (m[1] === 'removeNode') nodes.set(id, 'removed');
      else if (m[1] === 'addLearner') nodes.set(id, 'learner');
      else if (nodes.get(id) === 'learner' || !nodes.has(id)) nodes.set(id, 'follower');
    } else if ((m = line.match(/n(\d+) shut down after its removal/))) {
      nodes.set(Number(m[1]), 'removed');
    } else if (line.includes('heal:')) {
      network = 'healed';
      for (const [id, r] of nodes) if (r === 'down') nodes.set(id, 'follower');
    } else if ((m = line.match(/(partition .*|cut n\d+ -> n\d+|slow link .*|network drop .*)$/))) {
      network = m[1];
    }
    return { nodes, term, network };
  }

  function render(): void {
    const view = views[at];
    const box = $('#replay-nodes');
    box.replaceChildren(
      ...(view
        ? [...view.nodes].map(([id, role]) =>
            el(
              'span',
              { class: `sim-node sim-${role}`, 'data-sim-node': String(id), 'data-sim-role': role },
              [`n${id} `, el('small', {}, [role])],
            ),
          )
        : []),
      ...(view ? [el('span', { class: 'muted' }, [` term ${view.term} · network: ${view.network}`])] : []),
    );
    for (const [i, li] of Array.from(list.children).entries()) {
      li.classList.toggle('current', i === at);
      li.classList.toggle('future', i > at);
    }
    list.children[at]?.scrollIntoView({ block: 'nearest' });
    $('#panel-replay').dataset.step = String(at + 1);
  }

  function load(seed: number): void {
    ($('#seed') as HTMLInputElement).value = String(seed);
    const started = performance.now();
    const result = runSimulation({ seed, traceSize: 1_000_000 });
    const ms = Math.round(performance.now() - started);
    lines = [...result.trace];
    let view: SimView = { nodes: new Map([1, 2, 3].map((id) => [id, 'follower'])), term: 1, network: 'ok' };
    views = lines.map((line) => (view = apply(view, line)));
    at = -1;
    list.replaceChildren(
      ...lines.map((line, i) =>
        el('li', { class: line.includes('VIOLATION') ? 'violation' : '', 'data-step': String(i + 1) }, [
          line,
        ]),
      ),
    );
    for (const [i, li] of Array.from(list.children).entries()) li.addEventListener('click', () => go(i));
    const s = result.stats;
    $('#replay-summary').textContent =
      `seed ${seed}: ${result.ok ? 'all safety checks held' : `VIOLATION ${result.violation?.message}`} · ` +
      `${result.virtualMs} virtual ms in ${ms} ms · ${s.elections} elections, ${s.crashes} crashes, ` +
      `${s.partitions} partitions, ${s.messagesSent} messages (${s.messagesDropped} dropped), ` +
      `${s.proposalsCommitted} commits · digest ${result.digest} · ${lines.length} events — step with n / →`;
    $('#panel-replay').dataset.seed = String(seed);
    $('#panel-replay').dataset.events = String(lines.length);
    render();
  }

  function go(i: number): void {
    at = Math.max(-1, Math.min(lines.length - 1, i));
    render();
  }

  function togglePlay(): void {
    if (playing) {
      clearInterval(playing);
      playing = undefined;
      $('#seed-play').textContent = 'Play';
      return;
    }
    if (lines.length === 0) load(Number(($('#seed') as HTMLInputElement).value) || 1);
    $('#seed-play').textContent = 'Stop';
    playing = setInterval(() => {
      if (at >= lines.length - 1) togglePlay();
      else go(at + 1);
    }, 600);
  }

  const replay: Replay = {
    load,
    next: () => {
      if (lines.length === 0) load(Number(($('#seed') as HTMLInputElement).value) || 1);
      go(at + 1);
    },
    prev: () => go(at - 1),
    togglePlay,
  };
  $('#seed-load').addEventListener('click', () => {
    const seed = Number(($('#seed') as HTMLInputElement).value) || 0;
    const url = new URL(location.href);
    url.searchParams.set('seed', String(seed));
    history.replaceState(null, '', url);
    load(seed);
  });
  $('#seed-next').addEventListener('click', replay.next);
  $('#seed-prev').addEventListener('click', replay.prev);
  $('#seed-play').addEventListener('click', togglePlay);
  return replay;
}
