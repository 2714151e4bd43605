import { describe, expect, it } from 'vitest';
import { runKvSimulation } from '../../src/sim/kv-simulation.ts';
import { runSimulation } from '../../src/sim/simulation.ts';

describe('simulator determinism', () => {
  it('replays a Raft seed bit for bit: same digest, same trace, same counts', () => {
    const a = runSimulation({ seed: 42 });
    const b = runSimulation({ seed: 42 });
    expect(a.ok).toBe(true);
    expect(b.digest).toBe(a.digest);
    expect(b.trace).toEqual(a.trace);
    expect(b.stats).toEqual(a.stats);
  });

  it('replays a client-workload seed bit for bit', () => {
    const a = runKvSimulation({ seed: 42 });
    const b = runKvSimulation({ seed: 42 });
    expect(a.ok).toBe(true);
    expect(b.digest).toBe(a.digest);
    expect(b.stats).toEqual(a.stats);
  });

  it('different seeds give different runs', () => {
    const digests = new Set([1, 2, 3, 4, 5].map((seed) => runSimulation({ seed }).digest));
    expect(digests.size).toBe(5);
  });
});
