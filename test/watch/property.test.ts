// Randomized, seeded: random writes, compactions, watchers created at random (past, present, future) start
// revisions on streams whose consumers drain at random speeds, random syncWatchers budgets, progress requests
// and ticks. Then every watcher's response sequence is checked against the write log.

import { describe, expect, it } from 'vitest';
import type { Event } from '../../src/etcd/kv.ts';
import type { WatchCreateRequest, WatchFilter, WatchResponse } from '../../src/etcd/types.ts';
import { prefixRangeEnd } from '../../src/mvcc/index.ts';
import type { WatchStream } from '../../src/watch/index.ts';
import { ALL, b, Host, settle, show } from './helpers.ts';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['a', 'a/1', 'a/2', 'b', 'b/1', 'c', 'd', 'e'];

interface Created {
  readonly req: WatchCreateRequest;
  /** The watch layer's revision when it was created. */
  readonly atRevision: number;
}

interface StreamSim {
  readonly stream: WatchStream;
  readonly drainChance: number;
  readonly maxEvents: number;
  readonly creates: Created[];
  readonly out: WatchResponse[];
}

function runSeed(seed: number, steps: number): Stats {
  const rnd = mulberry32(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const h = new Host({
    maxEventsPerResponse: int(1, 6),
    maxResponseBytes: pick([100, 200, 2000]),
  });
  const streams: StreamSim[] = Array.from({ length: int(2, 4) }, () => {
    const maxEvents = int(1, 8);
    return {
      stream: h.watch.newStream({ maxBufferedEvents: maxEvents, maxBufferedResponses: int(2, 6) }),
      drainChance: pick([0, 0.05, 0.3, 0.9]),
      maxEvents,
      creates: [],
      out: [],
    };
  });
  let largestRevision = 0;

  let victims = 0;
  for (let step = 0; step < steps; step++) {
    const unsyncedBefore = h.watch.unsyncedCount;
    const op = rnd();
    if (op < 0.35) {
      h.put(pick(KEYS), `v${step}`.padEnd(int(1, 40), '.'));
      victims += Math.max(0, h.watch.unsyncedCount - unsyncedBefore);
    } else if (op < 0.42) {
      const k = pick(KEYS);
      if (rnd() < 0.5) h.del(k);
      else h.del(k, rnd() < 0.3 ? ALL : prefixRangeEnd(b(k)));
    } else if (op < 0.5) {
      const keys = [...new Set(Array.from({ length: int(1, 4) }, () => pick(KEYS)))];
      h.txn({
        success: keys.map((k) =>
          rnd() < 0.7
            ? { requestPut: { key: b(k), value: b(`t${step}`) } }
            : { requestDeleteRange: { key: b(k) } },
        ),
      });
    } else if (op < 0.6) {
      const s = pick(streams);
      const key = pick(KEYS);
      const shape = int(0, 3);
      const rangeEnd = [undefined, prefixRangeEnd(b(key)), b(pick(KEYS)), ALL][shape];
      const rev = h.watch.revision;
      const filters: WatchFilter[] = rnd() < 0.2 ? [pick(['NOPUT', 'NODELETE'] as const)] : [];
      const req: WatchCreateRequest = {
        key: b(key),
        rangeEnd,
        startRevision: pick([0, 0, Math.max(1, rev - int(0, 8)), int(1, rev + 2)]),
        filters,
        prevKv: rnd() < 0.5,
        fragment: rnd() < 0.3,
        progressNotify: rnd() < 0.5,
        watchId: rnd() < 0.2 ? int(1, 4) : 0,
      };
      s.stream.create(req);
      s.creates.push({ req, atRevision: rev });
    } else if (op < 0.63) {
      const s = pick(streams);
      const ids = s.stream.watchIds();
      if (ids.length > 0) s.stream.cancel(pick(ids));
    } else if (op < 0.645) {
      const from = Math.max(h.kv.compactRevision + 1, 1);
      if (from <= h.kv.revision) h.compact(int(from, h.kv.revision));
    } else if (op < 0.8) {
      h.watch.syncWatchers(int(1, 20));
    } else if (op < 0.83) {
      h.watch.progressTick();
    } else if (op < 0.86) {
      pick(streams).stream.requestProgress();
    }
    for (const s of streams) {
      if (rnd() < s.drainChance) s.out.push(...s.stream.take(int(1, 10)));
    }
    const last = h.log[h.log.length - 1];
    if (last !== undefined) largestRevision = Math.max(largestRevision, last.events.length);
    for (const s of streams) {
      expect(s.stream.buffered.events).toBeLessThanOrEqual(Math.max(s.maxEvents, largestRevision));
    }
  }

  const sinks = streams.map(() => [] as WatchResponse[]);
  settle(
    h,
    streams.map((s) => s.stream),
    sinks,
  );
  streams.forEach((s, i) => {
    s.out.push(...sinks[i]);
  });
  for (const s of streams) checkStream(h, s);
  const responses = streams.flatMap((s) => s.out);
  return {
    victims,
    compactCancels: responses.filter((r) => r.compactRevision !== undefined).length,
    fragments: responses.filter((r) => r.fragment).length,
    progressReplies: responses.filter((r) => r.watchId === -1).length,
    progressNotifies: responses.filter(
      (r) => r.watchId >= 0 && !r.created && !r.canceled && r.events.length === 0,
    ).length,
    events: responses.reduce((n, r) => n + r.events.length, 0),
  };
}

/** What a watcher must see: the log's events from its start revision, in its range, filtered, viewed. */
function expectedEvents(h: Host, c: Created): { rev: number; shown: string }[] {
  const { req } = c;
  const start =
    req.startRevision === 0 || req.startRevision === undefined ? c.atRevision + 1 : req.startRevision;
  const key = req.key;
  const end = req.rangeEnd;
  const inRange = (k: Uint8Array): boolean => {
    const ge = cmp(k, key) >= 0;
    if (end === undefined || end.length === 0) return cmp(k, key) === 0;
    if (end.length === 1 && end[0] === 0) return ge;
    return ge && cmp(k, end) < 0;
  };
  const out: { rev: number; shown: string }[] = [];
  for (const l of h.log) {
    if (l.revision < start) continue;
    for (const ev of l.events) {
      if (!inRange(ev.kv.key)) continue;
      if (req.filters?.includes(ev.type === 'PUT' ? 'NOPUT' : 'NODELETE')) continue;
      const viewed: Event = req.prevKv ? ev : { type: ev.type, kv: ev.kv };
      out.push({ rev: l.revision, shown: show(viewed) });
    }
  }
  return out;
}

function cmp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

interface Incarnation {
  readonly id: number;
  readonly created: Created;
  readonly expected: { rev: number; shown: string }[];
  readonly got: string[];
  readonly gotRevs: number[];
  lastEventRev: number;
  /** Inside a run of fragments. */
  fragmenting: boolean;
  ended: 'canceled' | 'compacted' | undefined;
  compactRevision: number;
  /** The highest revision this watcher was told it has everything up to. */
  progress: number;
}

function checkStream(h: Host, s: StreamSim): void {
  // As etcd 3.4, a watcher that needs exactly the compacted revision is served from the compacted history,
  // where a delete made at that revision (and the previous value of a key changed at it) is gone. Events at a
  // compaction revision are therefore compared loosely; every other event exactly.
  const boundary = new Set(h.compactions);
  const strict = (events: readonly string[], revs: readonly number[]) =>
    events.filter((_, i) => !boundary.has(revs[i]));
  const creates = [...s.creates];
  const live = new Map<number, Incarnation>();
  const all: Incarnation[] = [];
  const received = (w: Incarnation, upTo: number) => {
    const want = w.expected.filter((e) => e.rev <= upTo && !boundary.has(e.rev)).length;
    expect(w.got.length, `watcher ${w.id}: events ≤ ${upTo} not all delivered`).toBeGreaterThanOrEqual(want);
    w.progress = Math.max(w.progress, upTo);
  };
  for (const r of s.out) {
    if (r.created) {
      const c = creates.shift();
      expect(c, 'a created response without a create call').toBeDefined();
      expect(r.header.revision).toBe(c!.atRevision);
      if (r.canceled) {
        expect(r.watchId).toBe(-1);
        continue;
      }
      expect(live.has(r.watchId)).toBe(false);
      const w: Incarnation = {
        id: r.watchId,
        created: c!,
        expected: expectedEvents(h, c!),
        got: [],
        gotRevs: [],
        lastEventRev: 0,
        fragmenting: false,
        ended: undefined,
        compactRevision: 0,
        progress: 0,
      };
      live.set(r.watchId, w);
      all.push(w);
      continue;
    }
    if (r.watchId === -1) {
      // A progress reply: every live watcher of the stream has everything up to its revision.
      expect(r.events).toHaveLength(0);
      for (const w of live.values()) received(w, r.header.revision);
      continue;
    }
    const w = live.get(r.watchId);
    expect(w, `response for unknown watch ${r.watchId}`).toBeDefined();
    if (w === undefined) continue;
    if (r.canceled) {
      expect(w.fragmenting).toBe(false);
      w.ended = r.compactRevision !== undefined ? 'compacted' : 'canceled';
      w.compactRevision = r.compactRevision ?? 0;
      live.delete(r.watchId);
      continue;
    }
    if (r.events.length === 0) {
      received(w, r.header.revision); // progress_notify
      continue;
    }
    const revs = r.events.map((e) => e.kv.modRevision);
    // A revision is never split, except across fragments; revisions ascend.
    if (w.fragmenting) expect(revs[0]).toBeGreaterThanOrEqual(w.lastEventRev);
    else expect(revs[0]).toBeGreaterThan(w.lastEventRev);
    for (let i = 1; i < revs.length; i++) expect(revs[i]).toBeGreaterThanOrEqual(revs[i - 1]);
    expect(r.header.revision).toBeGreaterThanOrEqual(revs[revs.length - 1]);
    if (r.fragment) expect(w.created.req.fragment).toBe(true);
    w.fragmenting = r.fragment === true;
    w.lastEventRev = revs[revs.length - 1];
    w.got.push(...r.events.map(show));
    w.gotRevs.push(...revs);
    if (!w.fragmenting) received(w, r.header.revision);
  }
  expect(creates).toHaveLength(0);
  for (const w of all) {
    const want = strict(
      w.expected.map((e) => e.shown),
      w.expected.map((e) => e.rev),
    );
    const got = strict(w.got, w.gotRevs);
    if (w.ended === undefined) {
      expect(got, `watcher ${w.id} from ${w.created.req.startRevision}`).toEqual(want);
    } else {
      expect(got).toEqual(want.slice(0, got.length));
    }
    if (w.ended === 'compacted') {
      // Canceled only when it still needed a revision that compaction removed.
      const start = w.created.req.startRevision || w.created.atRevision + 1;
      const nextNeeded = Math.max(start, w.lastEventRev + 1, w.progress + 1);
      expect(nextNeeded).toBeLessThan(w.compactRevision);
      expect(w.compactRevision).toBeLessThanOrEqual(h.kv.compactRevision);
    }
  }
}

interface Stats {
  victims: number;
  compactCancels: number;
  fragments: number;
  progressReplies: number;
  progressNotifies: number;
  events: number;
}

const totals: Stats = {
  victims: 0,
  compactCancels: 0,
  fragments: 0,
  progressReplies: 0,
  progressNotifies: 0,
  events: 0,
};

describe('randomized watch property', () => {
  for (let seed = 1; seed <= 40; seed++) {
    it(`seed ${seed}: every watcher sees exactly its events, in order, or is canceled for compaction`, () => {
      const stats = runSeed(seed, 500);
      for (const k of Object.keys(totals) as (keyof Stats)[]) totals[k] += stats[k];
    });
  }

  it('exercises what it claims to: victims, compaction cancels, fragments, progress replies and notifications', () => {
    // Guards against a generator that silently stops producing the interesting cases.
    expect(totals.victims).toBeGreaterThan(20);
    expect(totals.compactCancels).toBeGreaterThan(20);
    expect(totals.fragments).toBeGreaterThan(20);
    expect(totals.progressReplies).toBeGreaterThan(20);
    expect(totals.progressNotifies).toBeGreaterThan(20);
    expect(totals.events).toBeGreaterThan(5_000);
  });
});
