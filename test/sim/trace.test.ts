// The run's record (src/sim/trace.ts) and how a run is named (src/sim/run-spec.ts): the digest covers every
// message and its fate, watching a run does not change it, the recorded events give the digest back, and
// `npm run sim` prints the digest of the very run the demo's replay URL names.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runKvSimulation } from '../../src/sim/kv-simulation.ts';
import { parseSpec, type RunSpec, runSpec, specQuery } from '../../src/sim/run-spec.ts';
import { runSimulation } from '../../src/sim/simulation.ts';
import { digestOf, type TraceEvent } from '../../src/sim/trace.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function record(run: (watch: (e: TraceEvent) => void) => { digest: string }) {
  const events: TraceEvent[] = [];
  const result = run((e) => events.push(e));
  return { events, result };
}

describe('the run trace', () => {
  it('a watched Raft-level run is the same run, and its events give its digest back', () => {
    const { events, result } = record((w) => runSimulation({ seed: 3 }, w));
    expect(result.digest).toMatch(/^[0-9a-f]{16}$/);
    expect(runSimulation({ seed: 3 }).digest).toBe(result.digest);
    expect(digestOf(events)).toBe(result.digest);
    const sends = events.filter((e) => e.kind === 'send');
    expect(sends.length).toBeGreaterThan(1000);
    // Every delivery names a message sent before it; lost messages have no delivery.
    const sent = new Map(sends.map((e) => [e.id, e]));
    for (const e of events) {
      if (e.kind !== 'deliver') continue;
      const s = sent.get(e.id);
      expect(s?.due).toContain(e.t);
    }
    expect(sends.some((e) => e.due.length === 0)).toBe(true);
    expect(events.some((e) => e.kind === 'member' && e.view.role === 'leader')).toBe(true);
  });

  it('a watched whole-member run is the same run, with client operations invoked and completed', () => {
    const { events, result } = record((w) => runKvSimulation({ seed: 3 }, w));
    expect(runKvSimulation({ seed: 3 }).digest).toBe(result.digest);
    expect(digestOf(events)).toBe(result.digest);
    const clients = events.filter((e) => e.kind === 'client');
    expect(clients.some((e) => e.phase === 'invoke')).toBe(true);
    expect(clients.some((e) => e.phase === 'ok')).toBe(true);
  });

  it('the digest changes when one message changes', () => {
    const { events } = record((w) => runSimulation({ seed: 3 }, w));
    const i = events.findIndex((e) => e.kind === 'send' && e.due.length === 1);
    const e = events[i] as Extract<TraceEvent, { kind: 'send' }>;
    const changed = [...events];
    changed[i] = { ...e, due: [e.due[0] + 1] };
    expect(digestOf(changed)).not.toBe(digestOf(events));
  });
});

describe('a run spec', () => {
  it('round-trips through the replay URL query', () => {
    const specs: RunSpec[] = [
      { seed: 7 },
      { seed: 2, nodes: 5, bug: 'voteIgnoresLog' },
      { seed: 9, kv: true, nodes: 5 },
    ];
    for (const spec of specs) {
      const q = new URLSearchParams(specQuery(spec));
      expect(parseSpec((n) => q.get(n))).toEqual(spec);
    }
    const bad = new URLSearchParams('seed=1&bug=nope');
    expect(parseSpec((n) => bad.get(n))).toMatch(/unknown bug/);
  });

  it('npm run sim prints the digest of the run its replay link names', async () => {
    for (const args of [
      ['--seed', '4', '--kv'],
      ['--seed', '2', '--nodes', '5'],
    ]) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--import', 'tsx', 'bin/sim.ts', ...args],
        { cwd: ROOT },
      );
      const digest = stdout.match(/^digest ([0-9a-f]{16})$/m)?.[1];
      const query = stdout.match(/^replay \S+\?(\S+)$/m)?.[1];
      expect(digest).toBeDefined();
      const params = new URLSearchParams(query);
      const spec = parseSpec((n) => params.get(n));
      if (typeof spec === 'string') throw new Error(spec);
      expect(runSpec(spec).digest).toBe(digest);
    }
  }, 60_000);
});
