// Memory back when a member falls idle. After a burst of writes (a million keys loaded) V8's heap holds what the
// burst left behind — requests, responses, events, replaced records — beside the keyspace, in pages it keeps: a
// collection that allocation triggers frees objects but seldom gives pages back. A member that then goes quiet
// would keep its high-water mark (measured at 1M keys: ~500 MB resident, ~390 MB after a collection that
// shrinks the heap). Browsers get such collections from V8's idle-time notifications, which Node does not send;
// Go's runtime returns such memory with its background scavenger. Here: when the heap is much larger than the
// last such collection left it and the event loop has been nearly idle for a few seconds, one collection that
// reduces the heap's footprint runs (V8's CollectAllAvailableGarbage, through the in-process inspector: ~0.3 s at a
// million keys, while nothing waits). Each member says whether it may pause that long: a follower may; a leader's
// pause holds up its heartbeats, so it may only while the pause stays well inside the election timeout (its
// length is estimated from the heap and the last collection's rate). A leader left ~110 MB of a 1M-key load's
// garbage in its heap without it (RSS 522 MB against 374 after a collection).

import { Session } from 'node:inspector';
import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** How often the heap and the event loop are looked at. */
const CHECK_MS = 1000;
/** Event-loop utilization below this for IDLE_CHECKS checks in a row counts as idle. */
const IDLE_UTILIZATION = 0.05;
const IDLE_CHECKS = 3;
/** Collect only when the heap (with its buffers) grew at least this much past what the last such collection left. */
const GROWTH_BYTES = 64 * 1024 * 1024;

/** A collection's pause per MB of heap used before it, until one is measured (~300 ms for 270 MB here). */
const FIRST_MS_PER_MB = 1.2;
const MB = 1024 * 1024;

/** One per member in this process: whether it may pause now for about `pauseMs`. */
const mayPause: ((pauseMs: number) => boolean)[] = [];

/** A member's answer: a follower may pause; a leader while the pause stays within a third of its election timeout. */
export function memberMayPause(
  isLeader: () => boolean,
  electionTimeoutMs: number,
): (pauseMs: number) => boolean {
  return (pauseMs) => !isLeader() || pauseMs * 3 <= electionTimeoutMs;
}

/** Starts the idle collection for this process (its timer does not keep the process alive); `may`: see mayPause. */
export function startIdleCollection(may: (pauseMs: number) => boolean): void {
  mayPause.push(may);
  if (mayPause.length > 1) return;
  // What the last such collection left (none yet: a member restored from a large snapshot collects once idle).
  let baseline = 0;
  let idleChecks = 0;
  let collecting = false;
  let msPerMb = FIRST_MS_PER_MB;
  let last = performance.eventLoopUtilization();
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    idleChecks =
      performance.eventLoopUtilization(now, last).utilization < IDLE_UTILIZATION ? idleChecks + 1 : 0;
    last = now;
    const heap = heapBytes();
    baseline = Math.min(baseline, heap);
    if (collecting || idleChecks < IDLE_CHECKS || heap < baseline + GROWTH_BYTES) return;
    const used = getHeapStatistics().used_heap_size / MB;
    const pauseMs = used * msPerMb;
    if (!mayPause.every((may) => allows(may, pauseMs))) return;
    collecting = true;
    const session = new Session();
    session.connect();
    const started = performance.now();
    session.post('HeapProfiler.collectGarbage', () => {
      msPerMb = (performance.now() - started) / Math.max(used, 1);
      baseline = heapBytes();
      idleChecks = 0;
      collecting = false;
      setImmediate(() => session.disconnect());
    });
  }, CHECK_MS).unref();
}

/** The heap and the memory its objects hold outside it (buffers: a restored snapshot's, spilled segments'). */
function heapBytes(): number {
  const stats = getHeapStatistics();
  return stats.total_heap_size + stats.external_memory;
}

function allows(may: (pauseMs: number) => boolean, pauseMs: number): boolean {
  try {
    return may(pauseMs);
  } catch {
    return true; // a member that cannot say is closed (or closing): it has nothing a pause would hold up
  }
}
