import { describe, expect, it } from 'vitest';
import { AutoCompactor, parseAutoCompaction } from '../../src/server/auto-compaction.ts';

describe("auto compaction (etcd's --auto-compaction-*)", () => {
  it('revision mode keeps the last N revisions, checking every interval', () => {
    const c = new AutoCompactor({ mode: 'revision', retention: 100, intervalMs: 1000 });
    expect(c.due(0, 50, 0)).toBeUndefined(); // not enough history yet
    expect(c.due(500, 500, 0)).toBeUndefined(); // not time yet
    expect(c.due(1000, 500, 0)).toBe(400);
    expect(c.due(2000, 450, 400)).toBeUndefined(); // already compacted past 350
  });

  it('periodic mode compacts to the revision current one retention period ago', () => {
    const c = new AutoCompactor({ mode: 'periodic', retention: 10_000 });
    let rev = 1;
    const compacted: number[] = [];
    for (let t = 0; t <= 30_000; t += 100) {
      rev += 3;
      const target = c.due(t, rev, compacted.at(-1) ?? 0);
      if (target !== undefined) compacted.push(target);
    }
    expect(compacted.length).toBeGreaterThan(5);
    // Never compacts history younger than the retention: at t the target was current at t − 10 s or earlier.
    expect(compacted.at(-1)!).toBeLessThanOrEqual(1 + 3 * ((30_000 - 10_000) / 100 + 1));
    expect(compacted).toEqual([...compacted].sort((a, b) => a - b));
  });

  it("parses etcd's flag values", () => {
    expect(parseAutoCompaction('revision', '1000')).toEqual({ mode: 'revision', retention: 1000 });
    expect(parseAutoCompaction('periodic', '1h').retention).toBe(3_600_000);
    expect(parseAutoCompaction('periodic', '30m').retention).toBe(1_800_000);
    expect(parseAutoCompaction('periodic', '2').retention).toBe(7_200_000); // bare hours
    expect(parseAutoCompaction('periodic', '0').retention).toBe(0);
    expect(() => parseAutoCompaction('weekly', '1')).toThrow('unknown auto-compaction-mode');
  });
});
