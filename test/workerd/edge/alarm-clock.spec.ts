// AlarmClock (adapters/runtime/cloudflare/clock.ts) with a fake alarm store and a manual clock: one alarm at the
// earliest deadline, rate-limited writes, repeated alarms harmless, timers run only when due.

import { describe, expect, it } from 'vitest';
import { AlarmClock } from '../../../adapters/runtime/cloudflare/clock.ts';

function setup(minAlarmIntervalMs = 1000) {
  let now = 1_000_000;
  const alarms: number[] = [];
  const clock = new AlarmClock(
    { setAlarm: async (t) => void alarms.push(Number(t)) },
    { now: () => now, timeouts: false, minAlarmIntervalMs },
  );
  return { clock, alarms, advance: (ms: number) => (now += ms), at: () => now };
}

describe('AlarmClock', () => {
  it('schedules one alarm at the earliest deadline and runs timers only when due', () => {
    const { clock, alarms, advance } = setup(0);
    const ran: string[] = [];
    clock.setTimer(500, () => ran.push('b'));
    clock.setTimer(200, () => ran.push('a'));
    expect(alarms).toEqual([1_000_500, 1_000_200]);
    clock.onAlarm(); // early (or repeated) alarm: nothing is due
    expect(ran).toEqual([]);
    advance(200);
    clock.onAlarm();
    expect(ran).toEqual(['a']);
    expect(alarms.at(-1)).toBe(1_000_500);
    clock.onAlarm(); // a repeat of the same alarm is harmless
    expect(ran).toEqual(['a']);
    advance(300);
    clock.runDue(); // in-request time runs due timers without an alarm
    expect(ran).toEqual(['a', 'b']);
  });

  it('limits alarm writes to one per interval, and cancelled timers never run', () => {
    const { clock, alarms, advance, at } = setup(1000);
    let ticks = 0;
    const tick = () => {
      ticks++;
      clock.setTimer(100, tick);
    };
    clock.setTimer(100, tick);
    const cancelled = clock.setTimer(50, () => {
      throw new Error('cancelled timer ran');
    });
    cancelled.cancel();
    // 3 s of ticks run by in-memory timers (runDue); the alarm fires whenever its scheduled time has come.
    for (let i = 0; i < 30; i++) {
      advance(100);
      clock.runDue();
      if (alarms.length > 0 && alarms.at(-1)! <= at()) clock.onAlarm();
    }
    expect(ticks).toBe(30);
    expect(alarms.length).toBeLessThanOrEqual(5);
    expect(alarms.length).toBeGreaterThan(0);
  });
});
