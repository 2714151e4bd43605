// How long a peer link waits before redialing after consecutive failures. The TCP, reverse and HTTP links of
// ../tcp compute the same delay (link.ts, http-link.ts); this is its one home for links outside ../tcp.
// Browser-safe: no Node APIs.

import type { Random } from '../../../src/env.ts';

export interface BackoffOptions {
  /** First retry delay after a failure. */
  readonly initialMs: number;
  /** Cap on the delay. */
  readonly maxMs: number;
  /** Growth per consecutive failure. */
  readonly multiplier: number;
}

/** Exponential backoff with "equal jitter": half the step is fixed, half is random. `failures` counts from 1. */
export function backoffDelay(options: BackoffOptions, failures: number, random: Random): number {
  const { initialMs, maxMs, multiplier } = options;
  const step = Math.min(maxMs, initialMs * multiplier ** Math.min(failures - 1, 64));
  return step / 2 + (step / 2) * random.next();
}
