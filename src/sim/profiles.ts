// Runtime profiles for the whole-member simulation: one Raft group whose members live on different runtimes, as
// edgecd runs them (Step 7). Each profile shapes what its runtime does to the member, not the protocol:
//   node            a server process: fast disk (fsync 1–4 ms), timers on time, LAN latency
//   durable-object  a Durable Object: slower durable writes (the output gate waits for storage, 3–12 ms),
//                   ticks driven by alarms and incoming calls, so each tick may come late (up to 25 ms), and every
//                   message crosses the internet to the Worker (5–25 ms more each way); it is reset (crashes) like
//                   any member
//   tab             a browser tab, always a learner: IndexedDB writes (2–20 ms), long and uneven links (5–40 ms),
//                   and a tab in the background is throttled or frozen: now and then it stops running altogether
//                   for 0.2–3 s (no ticks, no messages handled; they wait for it), and it may be closed and
//                   reopened (a crash and a restart on the same IndexedDB)
// `mixedGroup` is the group the CI range runs: two Node voters, one Durable Object voter, a Durable Object
// learner (an edge replica) and a tab learner. Clients write and read linearizably through the voters, as the
// Worker routes them; watchers attach to any member, learners included.

import type { Rng } from './rng.ts';

export type RuntimeKind = 'node' | 'durable-object' | 'tab';

export interface MemberProfile {
  readonly kind: RuntimeKind;
  readonly learner: boolean;
  /** Durable write latency (ms), inclusive range. */
  readonly diskMs: readonly [number, number];
  /** Extra one-way delay (ms) on every message to or from this member. */
  readonly netMs: readonly [number, number];
  /** Most a tick may come late (ms). */
  readonly tickLateMs: number;
  /** Chance, per tick, that the member is paused (frozen tab), and for how long (ms). */
  readonly pause?: { readonly chance: number; readonly ms: readonly [number, number] };
}

export const NODE_PROFILE: MemberProfile = {
  kind: 'node',
  learner: false,
  diskMs: [1, 4],
  netMs: [0, 0],
  tickLateMs: 0,
};

export const DURABLE_OBJECT_PROFILE: MemberProfile = {
  kind: 'durable-object',
  learner: false,
  diskMs: [3, 12],
  netMs: [5, 25],
  tickLateMs: 25,
};

export const TAB_PROFILE: MemberProfile = {
  kind: 'tab',
  learner: true,
  diskMs: [2, 20],
  netMs: [5, 40],
  tickLateMs: 40,
  pause: { chance: 0.004, ms: [200, 3000] },
};

/** The mixed group of the CI range (see the file comment). */
export function mixedGroup(): MemberProfile[] {
  return [
    NODE_PROFILE,
    NODE_PROFILE,
    DURABLE_OBJECT_PROFILE,
    { ...DURABLE_OBJECT_PROFILE, learner: true },
    TAB_PROFILE,
  ];
}

/** A member's runtime as the simulation drives it: latencies drawn from its profile, and its pauses. */
export class RuntimeModel {
  /** Virtual time until which the member is frozen (0: running). */
  pausedUntil = 0;
  pauses = 0;

  readonly profile: MemberProfile;
  private readonly rng: Rng;

  constructor(profile: MemberProfile, rng: Rng) {
    this.profile = profile;
    this.rng = rng;
  }

  diskLatency(): number {
    return this.rng.range(this.profile.diskMs[0], this.profile.diskMs[1]);
  }

  /** Extra delay for one message through this member's link. */
  netDelay(): number {
    const [lo, hi] = this.profile.netMs;
    return hi === 0 ? 0 : this.rng.range(lo, hi);
  }

  /** When the next tick runs after one due at `now` + `tickMs`; may start a pause. */
  nextTick(now: number, tickMs: number): number {
    const pause = this.profile.pause;
    if (pause && now >= this.pausedUntil && this.rng.chance(pause.chance)) {
      this.pausedUntil = now + this.rng.range(pause.ms[0], pause.ms[1]);
      this.pauses++;
    }
    const late = this.profile.tickLateMs > 0 ? this.rng.int(this.profile.tickLateMs + 1) : 0;
    return Math.max(now + tickMs + late, this.pausedUntil);
  }

  /** When a message arriving at `at` is handled (a frozen member handles it once it runs again). */
  deliveryTime(at: number): number {
    return Math.max(at, this.pausedUntil);
  }
}
