/// <reference lib="dom" />
// The guided scenarios' bar above the graph: one button per scenario (./scripts.ts) and the narration of the one
// running. The bar (#story) carries data-scenario, data-state (running, done, failed, stopped) and the facts the
// scenario marked, so tests and readers can check where it ended.

import type { Cluster } from '../main.ts';
import { $, el } from '../ui.ts';
import { SCENARIOS, type Scenario } from './scripts.ts';
import { Stage, Stopped } from './stage.ts';

export function startScenarios(cluster: Cluster): void {
  const root = $('#story');
  const steps = $('#story-steps');
  const stopButton = $('#story-stop') as HTMLButtonElement;
  let current: Stage | undefined;

  const buttons = SCENARIOS.map((s) => {
    const b = el('button', { type: 'button', 'data-scenario-start': s.id }, [s.title]);
    b.addEventListener('click', () => void run(s));
    return b;
  });
  $('#story-buttons').replaceChildren(...buttons);
  stopButton.addEventListener('click', () => {
    current?.stop();
  });

  async function run(scenario: Scenario): Promise<void> {
    current?.stop();
    const stage = new Stage(cluster);
    current = stage;
    for (const key of Object.keys(root.dataset)) delete root.dataset[key];
    Object.assign(root.dataset, { scenario: scenario.id, state: 'running' });
    for (const b of buttons) b.classList.toggle('active', b.dataset.scenarioStart === scenario.id);
    steps.replaceChildren();
    stopButton.hidden = false;
    const say = (text: string) => {
      if (current !== stage) return;
      for (const li of Array.from(steps.children)) li.classList.remove('current');
      steps.append(el('li', { class: 'current', 'data-step': String(steps.children.length + 1) }, [text]));
      steps.scrollTop = steps.scrollHeight;
      cluster.log('info', `${scenario.title}: ${text}`);
    };
    const mark = (facts: Record<string, string | number>) => {
      if (current !== stage) return;
      for (const [k, v] of Object.entries(facts)) root.dataset[k] = String(v);
    };
    say('Setting up: every member up, the network whole, one leader…');
    try {
      await scenario.run({ stage, say, mark });
      if (current === stage) root.dataset.state = 'done';
    } catch (err) {
      if (current !== stage) return;
      root.dataset.state = err instanceof Stopped ? 'stopped' : 'failed';
      if (!(err instanceof Stopped)) say(`The scenario could not go on: ${(err as Error).message}`);
    } finally {
      if (current === stage) {
        stage.stop();
        stopButton.hidden = true;
      }
    }
  }
}
