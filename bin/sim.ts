// `npm run sim -- --seed N` / `--seeds 1..1000`: the deterministic simulator from the command line. Each seed
// runs the Raft-level simulation and the whole-member simulation with client workloads (`--kv`: only the
// latter); `--mixed` runs the latter as one group across runtimes (Node and Durable Object voters, Durable
// Object and browser-tab learners). One seed prints its run's digest (`digest <hex>`) and the demo link that
// replays that very run message by message (the page runs the same code and shows the same digest).

import { parseArgs } from 'node:util';
import type { KnownBug } from '../src/raft/config.ts';
import { KNOWN_BUGS, type RunSpec, runOptions, specQuery } from '../src/sim/run-spec.ts';
import { formatSummary, type RunOptions, runSeed, runSeeds, type SeedResult } from '../src/sim/runner.ts';

const USAGE = `usage: npm run sim -- [options]
  --seed N                  one seed (prints its trace when it fails; --trace always)
  --seeds A..B | N          a range of seeds (default 1..100), with a summary
  --nodes K                 members per simulated cluster (default 3)
  --duration MS             simulated time of the Raft-level run
  --mixed                   the whole-member run as one group across runtimes (Node and Durable Object voters,
                            Durable Object and browser-tab learners)
  --raft-only               only the Raft-level simulation
  --kv                      only the whole-member simulation (members with MVCC, leases, watches; clients)
  --bug NAME                a Raft with a known bug compiled in (voteIgnoresLog, ackBeforePersist): caught;
                            alone it runs the Raft-level simulation only
  --demo URL                where the printed replay link points (default http://127.0.0.1:5173/, npm run demo)
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
if (values.bug !== undefined && !KNOWN_BUGS.includes(values.bug as KnownBug)) {
  console.error(`sim: --bug: unknown bug "${values.bug}" (${KNOWN_BUGS.join(', ')})`);
  process.exit(2);
}
if (values.kv && values['raft-only']) {
  console.error('sim: --kv and --raft-only exclude each other');
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
      kv: { type: 'boolean', default: false },
      demo: { type: 'string', default: 'http://127.0.0.1:5173/' },
    },
  });
}

// The spec names the run the way the demo's replay URL does (src/sim/run-spec.ts); both derive options from it.
const spec: Omit<RunSpec, 'seed'> = {
  nodes: Number(values.nodes),
  ...(values.bug ? { bug: values.bug as KnownBug } : {}),
  ...(values.kv ? { kv: true } : {}),
  ...(values.mixed ? { mixed: true } : {}),
  ...(values.duration ? { durationMs: Number(values.duration) } : {}),
};
const base = runOptions(spec);
const unsafe = values['unsafe-commit-any-term'];
const options: RunOptions = {
  ...base,
  raft: { ...base.raft, ...(unsafe ? { unsafeCommitAnyTerm: true } : {}) },
  raftOnly: base.raftOnly || values['raft-only'] || unsafe,
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
  const seed = Number(values.seed);
  const result = runSeed(seed, options);
  report(result, values.trace);
  console.log(formatSummary([result]));
  // The run this command names: the Raft-level one, or with --kv the whole-member one.
  const named = result.raft ?? result.kv;
  if (named) console.log(`digest ${named.digest}`);
  if (unsafe) console.log('(the demo cannot replay --unsafe-commit-any-term runs)');
  else if (named) console.log(`replay ${values.demo}?${specQuery({ ...spec, seed })}`);
  // Without --kv the whole-member run went too: its own digest and link.
  if (result.raft && result.kv) {
    console.log(`kv-digest ${result.kv.digest}`);
    console.log(`kv-replay ${values.demo}?${specQuery({ ...spec, kv: true, seed })}`);
  }
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
