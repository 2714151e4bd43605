// `npm run sim -- --seed N` / `--seeds 1..1000`: the deterministic Raft simulator from the command line.

import { parseArgs } from 'node:util';
import type { KnownBug } from '../src/raft/config.ts';
import { formatSummary, runSeeds } from '../src/sim/runner.ts';
import { runSimulation } from '../src/sim/simulation.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string' },
    nodes: { type: 'string', default: '3' },
    duration: { type: 'string' },
    trace: { type: 'boolean', default: false },
    'unsafe-commit-any-term': { type: 'boolean', default: false },
    bug: { type: 'string' },
  },
});

const nodes = Number(values.nodes);
const common = {
  nodes,
  ...(values.duration ? { durationMs: Number(values.duration) } : {}),
  unsafeCommitAnyTerm: values['unsafe-commit-any-term'],
  bug: values.bug as KnownBug | undefined,
};

if (values.seed !== undefined) {
  const result = runSimulation({ seed: Number(values.seed), ...common });
  if (values.trace || !result.ok) for (const line of result.trace) console.log(line);
  console.log(formatSummary([result]));
  if (!result.ok) {
    console.log(`seed ${result.seed} FAILED: ${result.violation?.message}`);
    process.exit(1);
  }
} else {
  const spec = values.seeds ?? '1..100';
  const [lo, hi] = spec.includes('..') ? spec.split('..').map(Number) : [1, Number(spec)];
  const started = performance.now();
  const results = runSeeds(lo, hi, common, (r) => {
    if (!r.ok) {
      for (const line of r.trace) console.log(line);
      console.log(`seed ${r.seed} FAILED: ${r.violation?.message}`);
    }
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(formatSummary(results));
  console.log(
    `${results.length} seeds in ${seconds.toFixed(1)}s (${(results.length / seconds).toFixed(1)} seeds/s)`,
  );
  if (results.some((r) => !r.ok)) process.exit(1);
}
