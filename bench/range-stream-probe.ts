// Loaded into the measured member with `--import` by bench/range-stream.ts (over the fork IPC channel): the
// member's peak memory between a `reset` and a `report`. Peak heap is the largest used heap V8 saw before any
// collection (v8.GCProfiler) or at a 5 ms sample; peak RSS is Linux's high-water mark (VmHWM, reset through
// /proc/self/clear_refs), else the largest sample. A synchronous burst (a buffered Range encoding its answer)
// blocks the samples but not the GC records nor VmHWM.

import { readFileSync, writeFileSync } from 'node:fs';
import { GCProfiler } from 'node:v8';

interface Peaks {
  rss: number;
  heapUsed: number;
  external: number;
}

const gc = (globalThis as { gc?: () => void }).gc;
let profiler = new GCProfiler();
profiler.start();
let sampled: Peaks = now();

function now(): Peaks {
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers };
}

function highWaterRss(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

setInterval(() => {
  const m = now();
  sampled = {
    rss: Math.max(sampled.rss, m.rss),
    heapUsed: Math.max(sampled.heapUsed, m.heapUsed),
    external: Math.max(sampled.external, m.external),
  };
}, 5).unref();

/** Collects garbage, then starts a new measurement from what is live now. */
function reset(): Peaks {
  gc?.();
  gc?.();
  profiler.stop();
  profiler = new GCProfiler();
  profiler.start();
  try {
    writeFileSync('/proc/self/clear_refs', '5'); // VmHWM := VmRSS
  } catch {
    // not Linux: the samples stand in
  }
  sampled = now();
  return sampled;
}

/** The peaks since the last reset. */
function report(): Peaks & { gcs: number } {
  const stats = profiler.stop().statistics;
  profiler = new GCProfiler();
  profiler.start();
  const before = stats.map((s) => s.beforeGC.heapStatistics);
  return {
    rss: Math.max(sampled.rss, highWaterRss() ?? 0),
    heapUsed: Math.max(sampled.heapUsed, ...before.map((h) => h.usedHeapSize)),
    external: Math.max(sampled.external, ...before.map((h) => h.externalMemory)),
    gcs: stats.length,
  };
}

process.on('message', (m: { probe?: string }) => {
  if (m?.probe === 'reset') process.send?.({ probe: 'reset', ...reset() });
  else if (m?.probe === 'report') process.send?.({ probe: 'report', ...report() });
});
