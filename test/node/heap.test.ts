// The space quota a Node member can hold (adapters/runtime/node/heap.ts): NOSPACE must come before heap exhaustion.
import { describe, expect, it } from 'vitest';
import { effectiveQuota, HEAP_BASE_BYTES, HEAP_PER_KEYSPACE_BYTE } from '../../adapters/runtime/node/heap.ts';
import type { LogFields, Logger } from '../../src/env.ts';

const MiB = 2 ** 20;

function recorder(): Logger & { warnings: [string, LogFields | undefined][] } {
  const warnings: [string, LogFields | undefined][] = [];
  return { warnings, debug() {}, info() {}, error() {}, warn: (m, f) => void warnings.push([m, f]) };
}

describe('effectiveQuota', () => {
  it('keeps a quota the heap holds, silently', () => {
    const log = recorder();
    expect(effectiveQuota(100 * MiB, log, 4096 * MiB)).toBe(100 * MiB);
    expect(effectiveQuota(0, log, 16_384 * MiB)).toBe(2048 * MiB);
    expect(log.warnings).toEqual([]);
  });

  it("lowers etcd's 2 GiB default to what a 4 GiB heap holds, and says how to raise it", () => {
    const log = recorder();
    const heap = 4096 * MiB;
    const q = effectiveQuota(0, log, heap);
    expect(q).toBe(Math.floor((heap - HEAP_BASE_BYTES) / HEAP_PER_KEYSPACE_BYTE));
    expect(q * HEAP_PER_KEYSPACE_BYTE + HEAP_BASE_BYTES).toBeLessThanOrEqual(heap);
    expect(log.warnings.length).toBe(1);
    expect(log.warnings[0][1]?.hint).toBe(`NODE_OPTIONS=--max-old-space-size=${8192 + 384}`);
  });
});
