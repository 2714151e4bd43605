// `npm run sim -- --seed N` / `--seeds 1..1000`: the deterministic simulator from the command line. Each seed
// runs the Raft-level simulation and the whole-member simulation with client workloads; `--mixed` runs the latter
// as one group across runtimes (Node and Durable Object voters, Durable Object and browser-tab learners).

import { parseArgs } from 'node:util';
import type { KnownBug } from '../src/raft/config.ts';
import { mixedGroup } from '../src/sim/profiles.ts';
import { formatSummary, type RunOptions, runSeed, runSeeds, type SeedResult } from '../src/sim/runner.ts';

const USAGE = `usage: npm run sim -- [options]
  --seed N                  one seed (prints its trace when it fails; --trace always)
  --seeds A..B | N          a range of seeds (default 1..100), with a summary
  --nodes K                 members per simulated cluster (default 3)
  --duration MS             simulated time of the Raft-level run
  --mixed                   the whole-member run as one group across runtimes (Node and Durable Object voters,
                            Durable Object and browser-tab learners)
  --raft-only               only the Raft-level simulation
  --bug NAME                a Raft with a known bug compiled in (voteIgnoresLog, countSelfEarly): caught
  --unsafe-commit-any-term  a Raft that commits entries of earlier terms by counting (caught)
  --trace                   print every event
  --help                    this text`;

let parsed: ReturnType<typeof parse>;
try {
  parsed = parse();
} catch (e) {
  console.error(`sim: ${(e as Error).message}\n${USAGE}`);
  process.exit(2);
}
const { values } = parsed;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
for (const [name, value] of [
  ['nodes', values.nodes],
  ['seed', values.seed],
  ['duration', values.duration],
] as const) {
  if (value !== undefined && !/^\d+$/.test(value)) {
    console.error(`sim: --${name}: not a whole number: "${value}"`);
    process.exit(2);
  }
}
if (values.seeds !== undefined && !/^(\d+|\d+\.\.\d+)$/.test(values.seeds)) {
  console.error(`sim: --seeds: expected N or A..B, got "${values.seeds}"`);
  process.exit(2);
}
if (values.bug !== undefined && !['voteIgnoresLog', 'countSelfEarly'].includes(values.bug)) {
  console.error(`sim: --bug: unknown bug "${values.bug}" (voteIgnoresLog, countSelfEarly)`);
  process.exit(2);
}

function parse() {
  return parseArgs({
    options: {
      help: { type: 'boolean', default: false },
      seed: { type: 'string' },
      seeds: { type: 'string' },
      nodes: { type: 'string', default: '3' },
      duration: { type: 'string' },
      trace: { type: 'boolean', default: false },
      'raft-only': { type: 'boolean', default: false },
      'unsafe-commit-any-term': { type: 'boolean', default: false },
      bug: { type: 'string' },
      // One group across runtimes (src/sim/profiles.ts): Node and Durable Object voters, DO and tab learners.
      mixed: { type: 'boolean', default: false },
    },
  });
}

const nodes = Number(values.nodes);
const options: RunOptions = {
  raft: {
    nodes,
    ...(values.duration ? { durationMs: Number(values.duration) } : {}),
    unsafeCommitAnyTerm: values['unsafe-commit-any-term'],
    bug: values.bug as KnownBug | undefined,
  },
  kv: values.mixed ? { profiles: mixedGroup() } : { nodes },
  raftOnly: values['raft-only'] || values['unsafe-commit-any-term'] || values.bug !== undefined,
};

function report(r: SeedResult, verbose: boolean): void {
  for (const part of [r.raft, r.kv]) {
    if (!part) continue;
    if (verbose || !part.ok) for (const line of part.trace) console.log(line);
    if (!part.ok)
      console.log(`seed ${r.seed} FAILED (${part === r.raft ? 'raft' : 'kv'}): ${part.violation?.message}`);
  }
}

if (values.seed !== undefined) {
  const result = runSeed(Number(values.seed), options);
  report(result, values.trace);
  console.log(formatSummary([result]));
  if (!result.ok) process.exit(1);
} else {
  const spec = values.seeds ?? '1..100';
  const [lo, hi] = spec.includes('..') ? spec.split('..').map(Number) : [1, Number(spec)];
  const started = performance.now();
  const results = runSeeds(lo, hi, options, (r) => report(r, false));
  const seconds = (performance.now() - started) / 1000;
  console.log(formatSummary(results));
  console.log(
    `${results.length} seeds in ${seconds.toFixed(1)}s (${(results.length / seconds).toFixed(1)} seeds/s)`,
  );
  if (results.some((r) => !r.ok)) process.exit(1);
}
