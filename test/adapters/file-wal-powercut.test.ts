// Power cuts at random points (CrashableFs), many seeds: random sequences of save / saveSnapshot / compact, shaped
// like Raft's (appends, conflicting suffixes above the commit index, hard states, received snapshots), are cut
// off at a random file operation, with unsynced writes dropped or torn. After each reboot the recovered state
// must be exactly what the resolved operations wrote, or that plus the one operation in flight (whole, or for
// a received snapshot, its snapshot alone): so every resolved save survived, nothing has holes, and the commit
// index never passes the last entry. A failing seed replays bit for bit.

import { describe, expect, it } from 'vitest';
import { CrashableFs, FileWalStorage, type PowerCutOptions } from '../../adapters/storage/file-wal/index.ts';
import { type Random, randomInt } from '../../src/env.ts';
import type { Entry, HardState, Snapshot } from '../../src/raft/types.ts';
import { EMPTY_HARD_STATE } from '../../src/raft/types.ts';
import type { LoadedState, PersistBatch } from '../../src/storage.ts';
import { mulberry32 } from './file-wal/helpers.ts';

interface Model {
  readonly entries: ReadonlyMap<number, Entry>;
  readonly last: number;
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
}

type Op =
  | { readonly kind: 'save'; readonly batch: PersistBatch }
  | { readonly kind: 'saveSnapshot'; readonly snapshot: Snapshot }
  | { readonly kind: 'compact'; readonly index: number };

const EMPTY: Model = { entries: new Map(), last: 0, hardState: EMPTY_HARD_STATE, snapshot: undefined };

function apply(model: Model, op: Op, snapshotOnly = false): Model {
  if (op.kind === 'compact') return model;
  if (op.kind === 'saveSnapshot') {
    const current = model.snapshot?.metadata.index ?? 0;
    return current > op.snapshot.metadata.index ? model : { ...model, snapshot: op.snapshot };
  }
  const { snapshot, entries, hardState } = op.batch;
  const map = snapshot ? new Map<number, Entry>() : new Map(model.entries);
  let last = snapshot ? snapshot.metadata.index : model.last;
  if (snapshotOnly) return { ...model, entries: map, last, snapshot };
  if (entries.length > 0) {
    for (let i = entries[0].index; i <= last; i++) map.delete(i);
    for (const e of entries) map.set(e.index, e);
    last = entries[entries.length - 1].index;
  }
  return {
    entries: map,
    last,
    hardState: hardState ?? model.hardState,
    snapshot: snapshot ?? model.snapshot,
  };
}

function bytes(random: Random, max: number): Uint8Array {
  return Uint8Array.from({ length: randomInt(random, max + 1) }, () => randomInt(random, 256));
}

function makeEntries(random: Random, from: number, count: number, term: number): Entry[] {
  return Array.from({ length: count }, (_, i) => ({
    index: from + i,
    term,
    type: randomInt(random, 10) === 0 ? ('confChange' as const) : ('normal' as const),
    data: bytes(random, 200),
  }));
}

/** A random operation that Raft could ask for in state `model`. */
function nextOp(random: Random, model: Model): Op {
  const { term, vote, commit } = model.hardState;
  const snapIndex = model.snapshot?.metadata.index ?? 0;
  const between = (lo: number, hi: number) => lo + randomInt(random, hi - lo + 1);
  const roll = random.next();
  if (roll < 0.1 && model.last > commit) {
    // A new leader overwrites a suffix above the commit index.
    const from = between(commit + 1, model.last);
    const entries = makeEntries(random, from, between(1, 4), term + 1);
    return {
      kind: 'save',
      batch: { entries, hardState: { term: term + 1, vote: BigInt(between(1, 3)), commit } },
    };
  }
  if (roll < 0.2) {
    return {
      kind: 'save',
      batch: { entries: [], hardState: { term, vote, commit: between(commit, model.last) } },
    };
  }
  if (roll < 0.32 && commit > snapIndex) {
    const index = between(snapIndex + 1, commit);
    const at = model.entries.get(index);
    if (!at) throw new Error(`model has no entry ${index}`);
    const snapshot: Snapshot = {
      metadata: { index, term: at.term, confState: { voters: [1n, 2n, 3n], learners: [] } },
      data: bytes(random, 300),
    };
    return { kind: 'saveSnapshot', snapshot };
  }
  if (roll < 0.42 && snapIndex > 0) return { kind: 'compact', index: between(0, snapIndex) };
  if (roll < 0.47) {
    // A snapshot received from a leader: it replaces the log.
    const index = between(commit + 1, model.last + 10);
    const snapshot: Snapshot = {
      metadata: {
        index,
        term: term + 1,
        confState: { voters: [1n, 0xffff_ffff_ffff_ff00n], learners: [4n] },
      },
      data: bytes(random, 300),
    };
    const entries = makeEntries(random, index + 1, randomInt(random, 3), term + 1);
    return {
      kind: 'save',
      batch: { snapshot, entries, hardState: { term: term + 1, vote: 0n, commit: index } },
    };
  }
  const count = between(1, 8);
  const entries = makeEntries(random, model.last + 1, count, term);
  const hardState =
    random.next() < 0.7 ? { term, vote, commit: between(commit, model.last + count) } : undefined;
  return { kind: 'save', batch: { entries, hardState } };
}

async function run(storage: FileWalStorage, op: Op): Promise<void> {
  if (op.kind === 'save') return storage.save(op.batch);
  if (op.kind === 'saveSnapshot') return storage.saveSnapshot(op.snapshot);
  return storage.compact(op.index);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Why `loaded` is not what `model` would load, or undefined if it is. */
function mismatch(loaded: LoadedState, model: Model): string | undefined {
  const s = loaded.snapshot;
  const m = model.snapshot;
  if (!!s !== !!m) return `snapshot ${s?.metadata.index} vs ${m?.metadata.index}`;
  if (s && m) {
    if (s.metadata.index !== m.metadata.index || s.metadata.term !== m.metadata.term) {
      return `snapshot ${s.metadata.index}/${s.metadata.term} vs ${m.metadata.index}/${m.metadata.term}`;
    }
    if (!sameBytes(s.data, m.data)) return 'snapshot data';
  }
  const { term, vote, commit } = loaded.hardState;
  const h = model.hardState;
  if (term !== h.term || vote !== h.vote || commit !== h.commit) {
    return `hard state ${term}/${vote}/${commit} vs ${h.term}/${h.vote}/${h.commit}`;
  }
  const base = s?.metadata.index ?? 0;
  const expected = Math.max(0, model.last - base);
  if (loaded.entries.length !== expected)
    return `${loaded.entries.length} entries after ${base}, want ${expected}`;
  for (const e of loaded.entries) {
    const want = model.entries.get(e.index);
    if (!want || want.term !== e.term || want.type !== e.type || !sameBytes(want.data, e.data)) {
      return `entry ${e.index} differs`;
    }
  }
  return undefined;
}

function checkInvariants(loaded: LoadedState): void {
  const base = loaded.snapshot?.metadata.index ?? 0;
  loaded.entries.forEach((e, i) => {
    if (e.index !== base + 1 + i)
      throw new Error(`hole: entry ${i} has index ${e.index}, expected ${base + 1 + i}`);
  });
  const last = loaded.entries.at(-1)?.index ?? base;
  if (loaded.hardState.commit > last)
    throw new Error(`commit ${loaded.hardState.commit} beyond last ${last}`);
}

async function powerCutRun(seed: number): Promise<{ cuts: number; acked: number }> {
  const random = mulberry32(seed);
  const fs = new CrashableFs(mulberry32(seed ^ 0x5eed));
  const options = {
    fs,
    segmentSize: [600, 2048, 64 * 1024][randomInt(random, 3)],
    snapshotsToKeep: 1 + randomInt(random, 3),
    isProcessAlive: () => false, // every reopen follows a reboot
  };
  let model = EMPTY;
  let acked = 0;
  for (let cycle = 0; cycle < 4; cycle++) {
    const storage = await FileWalStorage.open('/node', options);
    await storage.load();
    const cut: PowerCutOptions = {
      keepUnsyncedPrefix: random.next() < 0.8,
      tornWrites: random.next() < 0.8,
      zeroFill: random.next() < 0.3,
    };
    fs.cutPowerAt(1 + randomInt(random, 200), cut);
    let pending: Op | undefined;
    for (let step = 0; step < 40 && !fs.isDown; step++) {
      const op = nextOp(random, model);
      try {
        await run(storage, op);
      } catch (error) {
        if (!fs.isDown) throw error;
        pending = op;
        break;
      }
      model = apply(model, op);
      acked++;
    }
    if (!fs.isDown) fs.powerCut(cut);
    fs.restore();
    // Candidates: the resolved operations alone, or with the one in flight (a received snapshot may survive
    // without its entries and hard state: it is written first).
    const candidates = [model];
    if (pending) candidates.push(apply(model, pending));
    if (pending?.kind === 'save' && pending.batch.snapshot) candidates.push(apply(model, pending, true));
    const reopened = await FileWalStorage.open('/node', options);
    const after = await reopened.load();
    checkInvariants(after);
    const reasons = candidates.map((c) => mismatch(after, c));
    const match = reasons.indexOf(undefined);
    if (match < 0) {
      throw new Error(
        `seed ${seed} cycle ${cycle}: recovered state matches no candidate: ${reasons.join('; ')}`,
      );
    }
    model = candidates[match];
    await reopened.close();
  }
  return { cuts: fs.cuts, acked };
}

describe('file-wal power cuts (CrashableFs)', () => {
  it('recovers every resolved save after power cuts at random points (300 seeds × 4 cuts)', async () => {
    let acked = 0;
    let cuts = 0;
    for (let seed = 1; seed <= 300; seed++) {
      const result = await powerCutRun(seed);
      acked += result.acked;
      cuts += result.cuts;
    }
    expect(cuts).toBe(300 * 4);
    expect(acked).toBeGreaterThan(1000);
  });
});
