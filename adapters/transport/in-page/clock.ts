// A Clock that can be paused, resumed and stepped by hand: the demo freezes every member's clock (and the
// network's) to step through a cluster message by message. While paused, `now()` stands still and no timer
// fires; `advance(ms)` moves the frozen time forward and fires what falls due. Running, it follows its base clock.

import type { Clock, TimerHandle } from '../../../src/env.ts';

interface Timer {
  readonly due: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

export class PausableClock implements Clock {
  private readonly base: Clock;
  /** Virtual time = base time − offset (the time spent paused, less what `advance` added). */
  private offset = 0;
  private pausedAt: number | undefined;
  private timers: Timer[] = [];
  private seq = 0;
  private armed: TimerHandle | undefined;

  constructor(base: Clock, paused = false) {
    this.base = base;
    if (paused) this.pausedAt = base.now();
  }

  get paused(): boolean {
    return this.pausedAt !== undefined;
  }

  now(): number {
    return (this.pausedAt ?? this.base.now()) - this.offset;
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: Timer = {
      due: this.now() + Math.max(0, delayMs),
      seq: this.seq++,
      callback,
      cancelled: false,
    };
    // Insert in (due, seq) order so equal-time timers fire in the order they were set.
    let i = this.timers.length;
    while (i > 0 && this.timers[i - 1].due > timer.due) i--;
    this.timers.splice(i, 0, timer);
    if (i === 0) this.arm();
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  pause(): void {
    if (this.pausedAt !== undefined) return;
    this.pausedAt = this.base.now();
    this.armed?.cancel();
    this.armed = undefined;
  }

  resume(): void {
    if (this.pausedAt === undefined) return;
    this.offset += this.base.now() - this.pausedAt;
    this.pausedAt = undefined;
    this.arm();
  }

  /** While paused: moves time forward by `ms` and fires the timers that fall due, in order. */
  advance(ms: number): void {
    if (this.pausedAt === undefined) return;
    this.offset -= ms;
    this.fireDue();
  }

  /** The time of the next live timer, if any. */
  nextDue(): number | undefined {
    return this.timers.find((t) => !t.cancelled)?.due;
  }

  private arm(): void {
    this.armed?.cancel();
    this.armed = undefined;
    if (this.pausedAt !== undefined) return;
    while (this.timers.length > 0 && this.timers[0].cancelled) this.timers.shift();
    if (this.timers.length === 0) return;
    const wait = Math.max(0, this.timers[0].due - this.now());
    this.armed = this.base.setTimer(wait, () => {
      this.armed = undefined;
      this.fireDue();
      this.arm();
    });
  }

  private fireDue(): void {
    const now = this.now();
    // Timers set by callbacks with delay 0 fire in the same pass (they are due), as a real clock would soon.
    for (let guard = 0; guard < 100_000; guard++) {
      const head = this.timers[0];
      if (!head || head.due > now) break;
      this.timers.shift();
      if (head.cancelled) continue;
      try {
        head.callback();
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    if (this.pausedAt === undefined) this.arm();
  }
}
