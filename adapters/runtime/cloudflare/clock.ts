// A Clock for a Durable Object. Its timers live in one in-memory queue that three things drive:
//
//   1. the Durable Object alarm — the durable wake-up. Whenever timers are pending, one alarm is kept scheduled at
//      the earliest of them (but not sooner than `minAlarmIntervalMs` after the previous alarm fired, so that a 200 ms
//      Raft tick does not cost five storage writes a second). An object that was evicted or reset is constructed
//      again by that alarm, and createNode (loading the log from storage) starts ticking again. Alarms are
//      delivered at least once: a repeated or early alarm only runs the timers that are due (none, perhaps) and
//      schedules the next one — harmless.
//   2. in-request time — every entry point of the object (fetch, peer RPC, alarm) calls `runDue()` first, so a
//      timer that came due while the object waited for I/O runs before the request is handled.
//   3. one `setTimeout` at the earliest deadline while the object is in memory (precise ticks between requests);
//      it cannot keep an idle object alive, which is why 1 and 2 exist.
//
// `now()` is Date.now(): in Workers it advances only across I/O, never during synchronous execution, which is all
// Raft needs (ticks, lease deadlines).

import type { Clock, TimerHandle } from '../../../src/env.ts';

/** What the clock needs of `ctx.storage` (a Durable Object's storage). */
export interface AlarmStorage {
  setAlarm(scheduledTime: number | Date): Promise<void>;
}

export interface AlarmClockOptions {
  /** Least time between two `setAlarm` writes. Default 1,000 ms. */
  readonly minAlarmIntervalMs?: number;
  /** Also keep a `setTimeout` at the earliest deadline (default true). */
  readonly timeouts?: boolean;
  /** Reports a failed setAlarm (the next timer change retries). */
  readonly onError?: (error: unknown) => void;
  readonly now?: () => number;
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  callback: (() => void) | undefined;
}

export class AlarmClock implements Clock {
  private readonly heap: Timer[] = [];
  private seq = 0;
  private readonly minAlarmIntervalMs: number;
  private readonly timeouts: boolean;
  private readonly nowFn: () => number;
  /** The alarm this clock believes is scheduled (undefined: none, or it has fired). */
  private alarmAt: number | undefined;
  /** When the last alarm fired: the next one is scheduled at least `minAlarmIntervalMs` later. */
  private lastAlarmAt = Number.NEGATIVE_INFINITY;
  private timeout: ReturnType<typeof setTimeout> | undefined;
  private timeoutAt: number | undefined;
  private running = false;
  private stopped = false;
  /** Counters for tests and status pages. */
  readonly stats = { alarmsSet: 0, alarmsFired: 0, timersRun: 0 };

  private readonly storage: AlarmStorage;
  private readonly options: AlarmClockOptions;

  constructor(storage: AlarmStorage, options: AlarmClockOptions = {}) {
    this.storage = storage;
    this.options = options;
    this.minAlarmIntervalMs = options.minAlarmIntervalMs ?? 1000;
    this.timeouts = options.timeouts ?? true;
    this.nowFn = options.now ?? (() => Date.now());
  }

  now(): number {
    return this.nowFn();
  }

  setTimer(delayMs: number, callback: () => void): TimerHandle {
    const timer: Timer = { at: this.now() + Math.max(0, delayMs), seq: this.seq++, callback };
    this.push(timer);
    this.arm();
    return {
      cancel: () => {
        timer.callback = undefined;
      },
    };
  }

  /** Runs every timer that is due (also those that its callbacks make due at once), then re-arms. */
  runDue(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      // Bounded: a callback that keeps scheduling 0 ms timers cannot spin here forever.
      for (let i = 0; i < 10_000; i++) {
        const top = this.peek();
        if (!top || top.at > this.now()) break;
        this.pop();
        const cb = top.callback;
        top.callback = undefined;
        if (!cb) continue;
        this.stats.timersRun++;
        try {
          cb();
        } catch (error) {
          this.options.onError?.(error);
        }
      }
    } finally {
      this.running = false;
    }
    this.arm();
  }

  /** The object's `alarm()` handler calls this. */
  onAlarm(): void {
    this.stats.alarmsFired++;
    this.alarmAt = undefined;
    this.lastAlarmAt = this.now();
    this.runDue();
  }

  /** The earliest pending deadline, if any. */
  nextDeadline(): number | undefined {
    return this.peek()?.at;
  }

  /** Drops every timer (the node is closing); the alarm, if any, fires once more and finds nothing. */
  stop(): void {
    this.stopped = true;
    this.heap.length = 0;
    if (this.timeout !== undefined) clearTimeout(this.timeout);
    this.timeout = undefined;
    this.timeoutAt = undefined;
  }

  private arm(): void {
    if (this.running || this.stopped) return;
    const top = this.peek();
    if (!top) return;
    const now = this.now();
    if (this.timeouts && this.timeoutAt !== top.at) {
      if (this.timeout !== undefined) clearTimeout(this.timeout);
      this.timeoutAt = top.at;
      this.timeout = setTimeout(
        () => {
          this.timeout = undefined;
          this.timeoutAt = undefined;
          this.runDue();
        },
        Math.max(0, top.at - now),
      );
    }
    // An alarm already scheduled at or before the earliest deadline will do (it re-arms when it fires).
    if (this.alarmAt !== undefined && this.alarmAt <= top.at) return;
    const at = Math.max(top.at, this.lastAlarmAt + this.minAlarmIntervalMs);
    if (this.alarmAt !== undefined && this.alarmAt <= at) return;
    this.alarmAt = at;
    this.stats.alarmsSet++;
    this.storage.setAlarm(at).catch((error) => {
      if (this.alarmAt === at) this.alarmAt = undefined;
      this.options.onError?.(error);
    });
  }

  private peek(): Timer | undefined {
    while (this.heap.length > 0 && this.heap[0].callback === undefined) this.pop();
    return this.heap[0];
  }

  private push(timer: Timer): void {
    const h = this.heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  private pop(): Timer | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
