// How long a peer link waits before trying again after consecutive failures: every link that backs off
// (./link.ts) computes its delay here. Browser-safe: no Node APIs.

import type { Random } from '../../../src/env.ts';

export interface BackoffOptions {
  /** First retry delay after a failure. */
  readonly initialMs: number;
  /** Cap on the delay. */
  readonly maxMs: number;
  /** Growth per consecutive failure. */
  readonly multiplier: number;
}

/** 100 ms doubling up to 5 s (with jitter). */
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000, multiplier: 2 };

/** Exponential backoff with "equal jitter": half the step is fixed, half is random. `failures` counts from 1. */
export function backoffDelay(options: BackoffOptions, failures: number, random: Random): number {
  const { initialMs, maxMs, multiplier } = options;
  const step = Math.min(maxMs, initialMs * multiplier ** Math.min(failures - 1, 64));
  return step / 2 + (step / 2) * random.next();
}
