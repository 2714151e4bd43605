// The wall clock for real runtimes (Node, browsers, workerd); the simulator supplies a virtual one instead.

import type { Clock, TimerHandle } from '../../src/env.ts';

export class RealClock implements Clock {
  now(): number {
    return Date.now();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(timer) };
  }
}
