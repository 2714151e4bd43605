/// <reference lib="dom" />
// Runs one simulator seed in a Web Worker — the same code as `npm run sim` (src/sim/run-spec.ts) — recording
// every event, and posts the recording and the result back to the page (which replays it and checks the digest).

import { type RunSpec, runSpec } from '../../../src/sim/run-spec.ts';
import type { TraceEvent } from '../../../src/sim/trace.ts';

export interface SimRequest {
  readonly spec: RunSpec;
}

export interface SimResponse {
  readonly events: readonly TraceEvent[];
  readonly result: ReturnType<typeof runSpec>;
  /** Real time the run took in the worker. */
  readonly ms: number;
}

/** The worker's global scope, typed as far as this file needs it (the program's lib is DOM, not WebWorker). */
const scope = self as unknown as {
  postMessage(message: SimResponse): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<SimRequest>) => void): void;
};

scope.addEventListener('message', (e) => {
  const events: TraceEvent[] = [];
  const started = performance.now();
  const result = runSpec(e.data.spec, (ev) => events.push(ev));
  scope.postMessage({ events, result, ms: Math.round(performance.now() - started) });
});
