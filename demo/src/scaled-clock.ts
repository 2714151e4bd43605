// Slow motion for the demo: a Clock whose time runs at `rate` × real time (0.25: four real seconds per cluster
// second). Every member's PausableClock and the page's network run on one of these, so ticks, election timeouts,
// message delays and lease TTLs all stretch together and Raft sees nothing unusual. Changing the rate re-bases it
// (time stays continuous); timers already armed keep their real delay, so callers re-arm them (PausableClock does
// on pause → resume, see setSpeed).

import type { PausableClock } from '../../adapters/transport/in-page/index.ts';
import type { Clock, TimerHandle } from '../../src/env.ts';

export class ScaledClock implements Clock {
  private rate: number;
  private realAt: number;
  private virtualAt: number;

  constructor(rate = 1) {
    this.rate = rate;
    this.realAt = performance.now();
    this.virtualAt = this.realAt;
  }

  now(): number {
    return this.virtualAt + (performance.now() - this.realAt) * this.rate;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const t = setTimeout(callback, Math.max(0, delayMs) / this.rate);
    return { cancel: () => clearTimeout(t) };
  }

  setRate(rate: number): void {
    this.virtualAt = this.now();
    this.realAt = performance.now();
    this.rate = rate;
  }
}

/** Changes the speed under a running PausableClock: pause (cancels its armed timer), re-base, resume (re-arms). */
export function setSpeed(clock: PausableClock, base: ScaledClock, rate: number): void {
  const running = !clock.paused;
  if (running) clock.pause();
  base.setRate(rate);
  if (running) clock.resume();
}

/** Speeds the page offers; the default is slow enough to watch each message travel. */
export const SPEEDS = [0.1, 0.25, 0.5, 1, 2] as const;
export const DEFAULT_SPEED = 0.25;
