// One simulator run named by its arguments, as `npm run sim -- --seed N [--nodes K] [--bug NAME] [--kv]` takes
// them and as the demo's replay URL carries them (`?seed=N&nodes=K&bug=NAME&kv=1`). The CLI and the page both
// turn a spec into options here, so that the page runs exactly the run the CLI ran and shows the same digest.

import type { KnownBug } from '../raft/config.ts';
import { type KvSimResult, runKvSimulation } from './kv-simulation.ts';
import { mixedGroup } from './profiles.ts';
import type { RunOptions } from './runner.ts';
import { runSimulation, type SimResult } from './simulation.ts';
import type { TraceEvent } from './trace.ts';

export const KNOWN_BUGS: readonly KnownBug[] = ['voteIgnoresLog', 'ackBeforePersist'];

export interface RunSpec {
  readonly seed: number;
  /** Voters at bootstrap (default 3). */
  readonly nodes?: number;
  readonly bug?: KnownBug;
  /** The whole-member simulation with client workloads, instead of the Raft-level one. */
  readonly kv?: boolean;
  /** The whole-member simulation as one group across runtimes (`--mixed`). */
  readonly mixed?: boolean;
  /** Length of the Raft-level run's phase with faults, in virtual ms. */
  readonly durationMs?: number;
}

/** The options `npm run sim` runs a spec with (a spec without `kv` also runs the whole-member simulation). */
export function runOptions(spec: Omit<RunSpec, 'seed'>): RunOptions {
  const nodes = spec.nodes ?? 3;
  return {
    raft: {
      nodes,
      ...(spec.durationMs ? { durationMs: spec.durationMs } : {}),
      ...(spec.bug ? { bug: spec.bug } : {}),
    },
    kv: { ...(spec.mixed ? { profiles: mixedGroup() } : { nodes }), ...(spec.bug ? { bug: spec.bug } : {}) },
    // A buggy Raft build runs the Raft-level simulation only, unless the whole-member one is asked for.
    raftOnly: !spec.kv && spec.bug !== undefined,
    kvOnly: spec.kv === true,
  };
}

/** Runs the one simulation a spec names (the Raft-level one, or with `kv` the whole-member one). */
export function runSpec(spec: RunSpec, watch?: (e: TraceEvent) => void): SimResult | KvSimResult {
  const options = runOptions(spec);
  return spec.kv
    ? runKvSimulation({ ...options.kv, seed: spec.seed }, watch)
    : runSimulation({ ...options.raft, seed: spec.seed }, watch);
}

/** The replay URL's query for a spec: `seed=7&nodes=5&bug=voteIgnoresLog&kv=1`. */
export function specQuery(spec: RunSpec): string {
  const parts = [`seed=${spec.seed}`];
  if (spec.nodes !== undefined && spec.nodes !== 3) parts.push(`nodes=${spec.nodes}`);
  if (spec.bug) parts.push(`bug=${spec.bug}`);
  if (spec.kv) parts.push('kv=1');
  if (spec.mixed) parts.push('mixed=1');
  if (spec.durationMs) parts.push(`duration=${spec.durationMs}`);
  return parts.join('&');
}

/** Reads a spec from query parameters (`get` as URLSearchParams has it); a string is what is wrong. */
export function parseSpec(get: (name: string) => string | null): RunSpec | string {
  const whole = (name: string): number | undefined | string => {
    const v = get(name);
    if (v === null || v === '') return undefined;
    return /^\d+$/.test(v) ? Number(v) : `${name}: not a whole number: "${v}"`;
  };
  const seed = whole('seed');
  const nodes = whole('nodes');
  const durationMs = whole('duration');
  for (const v of [seed, nodes, durationMs]) if (typeof v === 'string') return v;
  if (seed === undefined) return 'seed: missing';
  if (nodes !== undefined && ((nodes as number) < 1 || (nodes as number) > 9)) return 'nodes: 1 to 9';
  const bug = get('bug') || undefined;
  if (bug !== undefined && !KNOWN_BUGS.includes(bug as KnownBug))
    return `bug: unknown bug "${bug}" (${KNOWN_BUGS.join(', ')})`;
  const flag = (name: string) => ['1', 'true', ''].includes(get(name) ?? 'no');
  return {
    seed: seed as number,
    ...(nodes !== undefined ? { nodes: nodes as number } : {}),
    ...(bug ? { bug: bug as KnownBug } : {}),
    ...(flag('kv') ? { kv: true } : {}),
    ...(flag('mixed') ? { mixed: true, kv: true } : {}),
    ...(durationMs ? { durationMs: durationMs as number } : {}),
  };
}
