/// <reference lib="dom" />
// How the page gets into a seed replay: the Seed replay tab's form (seed, members, bug, --kv) opens the replay
// URL, and a page opened at one (`?seed=…`) replays that run instead of starting live members.

import type { KnownBug } from '../../../src/raft/config.ts';
import { parseSpec, type RunSpec, specQuery } from '../../../src/sim/run-spec.ts';
import { $ } from '../ui.ts';
import { startSeedReplay } from './index.ts';

/** The Seed replay tab's form: it opens the replay URL (the page then replays in the main graph). */
export function seedForm(spec?: RunSpec): void {
  const seed = $('#seed') as HTMLInputElement;
  const nodes = $('#seed-nodes') as HTMLInputElement;
  const bug = $('#seed-bug') as HTMLSelectElement;
  const kv = $('#seed-kv') as HTMLInputElement;
  if (spec) {
    seed.value = String(spec.seed);
    nodes.value = String(spec.nodes ?? 3);
    bug.value = spec.bug ?? '';
    kv.checked = spec.kv === true;
  }
  $('#seed-load').addEventListener('click', () => {
    const chosen: RunSpec = {
      seed: Number(seed.value) || 0,
      nodes: Number(nodes.value) || 3,
      ...(bug.value ? { bug: bug.value as KnownBug } : {}),
      ...(kv.checked ? { kv: true } : {}),
    };
    location.search = `?${specQuery(chosen)}`;
  });
}

/** `?seed=N…`: the page replays that simulator run in the main graph instead of running live members. */
export function bootReplay(
  params: URLSearchParams,
  showTab: (name: string) => void,
  narrowScreen: MediaQueryList,
): void {
  for (const b of Array.from(document.querySelectorAll<HTMLElement>('.tabs [data-tab]')))
    b.addEventListener('click', () => showTab(b.dataset.tab!));
  showTab('replay');
  const spec = parseSpec((name) => params.get(name));
  if (typeof spec === 'string') {
    document.body.dataset.mode = 'replay';
    $('#replay-bar').hidden = false;
    $('#replay-now').textContent = `cannot replay this URL: ${spec}`;
    seedForm();
    return;
  }
  seedForm(spec);
  startSeedReplay(spec, params.get('at'), narrowScreen);
  if (narrowScreen.matches) ($('#legend') as HTMLDetailsElement).open = false;
}
