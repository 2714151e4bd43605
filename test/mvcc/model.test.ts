// Property test: random requests against the store and against a tiny reference model that keeps every
// revision's full state. Seeded, so a failure names its seed and replays exactly.

import { describe, expect, it } from 'vitest';
import type { KeyValue, RangeRequest, RequestOp } from '../../src/etcd/kv.ts';
import { compareBytes, MvccStore } from '../../src/mvcc/index.ts';
import { seeded } from './helpers.ts';

const hex = (k: Uint8Array) => [...k].map((x) => x.toString(16).padStart(2, '0')).join('');
type State = Map<string, KeyValue>;

class Model {
  states: State[] = [new Map(), new Map()]; // index = revision; revision 1 is the empty start
  compactRev = -1;
  get rev() {
    return this.states.length - 1;
  }
  /** Applies writes as one revision (only if something changes). */
  write(
    ops: ({ put: Uint8Array; value: Uint8Array; lease: bigint } | { del: Uint8Array; end?: Uint8Array })[],
  ) {
    const next = new Map(this.states[this.rev]);
    const rev = this.rev + 1;
    let changed = false;
    for (const op of ops) {
      if ('put' in op) {
        const prev = next.get(hex(op.put));
        next.set(hex(op.put), {
          key: op.put,
          value: op.value,
          lease: op.lease,
          createRevision: prev ? prev.createRevision : rev,
          modRevision: rev,
          version: (prev?.version ?? 0) + 1,
        });
        changed = true;
      } else {
        for (const kv of [...next.values()]) {
          if (inRange(kv.key, op.del, op.end)) {
            next.delete(hex(kv.key));
            changed = true;
          }
        }
      }
    }
    if (changed) this.states.push(next);
  }
  range(key: Uint8Array, end: Uint8Array | undefined, rev: number): KeyValue[] | string {
    if (rev > this.rev) return 'future';
    const at = rev <= 0 ? this.rev : rev;
    if (at < this.compactRev) return 'compacted';
    return [...this.states[at].values()]
      .filter((kv) => inRange(kv.key, key, end))
      .sort((x, y) => compareBytes(x.key, y.key));
  }
}

function inRange(k: Uint8Array, key: Uint8Array, end: Uint8Array | undefined): boolean {
  if (end === undefined || end.length === 0) return compareBytes(k, key) === 0;
  if (end.length === 1 && end[0] === 0) return compareBytes(k, key) >= 0;
  return compareBytes(k, key) >= 0 && compareBytes(k, end) < 0;
}

function run(seed: number, steps: number): void {
  const rand = seeded(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const alphabet = [0x00, 0x61, 0x62, 0x63, 0xff];
  const randKey = () => Uint8Array.from({ length: 1 + int(3) }, () => alphabet[int(alphabet.length)]);
  const randEnd = (): Uint8Array | undefined => {
    const r = rand();
    return r < 0.4 ? undefined : r < 0.55 ? Uint8Array.of(0) : randKey();
  };
  let store = new MvccStore();
  const twin = new MvccStore();
  const model = new Model();
  const both = (f: (s: MvccStore) => unknown) => {
    f(twin);
    return f(store);
  };
  let restoredAt = 0;

  for (let step = 0; step < steps; step++) {
    const choice = rand();
    const ctx = `seed ${seed} step ${step}`;
    if (choice < 0.35) {
      const key = randKey();
      const value = Uint8Array.of(int(256));
      const lease = BigInt(int(3));
      both((s) => s.put({ key, value, lease }));
      model.write([{ put: key, value, lease }]);
    } else if (choice < 0.45) {
      const key = randKey();
      const end = randEnd();
      both((s) => s.deleteRange({ key, rangeEnd: end }));
      model.write([{ del: key, end }]);
    } else if (choice < 0.6) {
      // A txn: compare one key's version, then distinct-key puts and single-key deletes.
      const cmpKey = randKey();
      const version = int(3);
      const keys = new Map<string, Uint8Array>();
      for (let i = 0; i < 1 + int(4); i++) {
        const k = randKey();
        keys.set(hex(k), k);
      }
      const ops: RequestOp[] = [];
      const modelOps: Parameters<Model['write']>[0] = [];
      for (const k of keys.values()) {
        if (rand() < 0.7) {
          const value = Uint8Array.of(int(256));
          ops.push({ requestPut: { key: k, value } });
          modelOps.push({ put: k, value, lease: 0n });
        } else {
          ops.push({ requestDeleteRange: { key: k } });
          modelOps.push({ del: k });
        }
      }
      const cur = model.range(cmpKey, undefined, 0) as KeyValue[];
      const succeeded = (cur[0]?.version ?? 0) === version;
      const res = both((s) =>
        s.txn({
          compare: [{ key: cmpKey, target: 'VERSION', result: 'EQUAL', version }],
          success: ops,
          failure: [{ requestRange: { key: cmpKey } }],
        }),
      ) as ReturnType<MvccStore['txn']>;
      expect(res.response.succeeded, ctx).toBe(succeeded);
      if (succeeded) model.write(modelOps);
    } else if (choice < 0.65 && model.rev > 1) {
      const rev = model.compactRev + 1 + int(Math.max(1, model.rev - model.compactRev));
      const expected = rev <= model.compactRev ? 'compacted' : rev > model.rev ? 'future' : 'ok';
      let got = 'ok';
      try {
        both((s) => s.compact(rev));
      } catch (err) {
        got = (err as Error).message.includes('compacted') ? 'compacted' : 'future';
      }
      expect(got, ctx).toBe(expected);
      if (got === 'ok') model.compactRev = rev;
    } else if (choice < 0.67) {
      // Swap in a restored copy: it must carry on exactly like the original.
      const restored = MvccStore.restore(store.snapshot());
      expect(restored.hashKV(), ctx).toEqual(store.hashKV());
      store = restored;
      restoredAt = step;
    } else {
      const req: RangeRequest = {
        key: randKey(),
        rangeEnd: randEnd(),
        revision: int(model.rev + 2) - 1,
        limit: int(4),
      };
      const want = model.range(req.key, req.rangeEnd, req.revision ?? 0);
      let got: KeyValue[] | string;
      let count = -1;
      let more = false;
      try {
        const r = store.range(req);
        got = [...r.kvs];
        count = r.count;
        more = r.more;
      } catch (err) {
        got = (err as Error).message.includes('compacted') ? 'compacted' : 'future';
      }
      if (typeof want === 'string') {
        expect(got, ctx).toBe(want);
      } else {
        const limit = req.limit ?? 0;
        expect(got, ctx).toEqual(limit > 0 ? want.slice(0, limit) : want);
        expect(count, ctx).toBe(want.length);
        expect(more, ctx).toBe(limit > 0 && want.length > limit);
      }
    }
    expect(store.revision, ctx).toBe(model.rev);
  }

  // Every readable revision agrees in full, and the twin that never went through a snapshot is identical.
  for (let rev = Math.max(1, model.compactRev); rev <= model.rev; rev++) {
    const all = store.range({ key: Uint8Array.of(0), rangeEnd: Uint8Array.of(0), revision: rev });
    expect([...all.kvs], `seed ${seed} rev ${rev}`).toEqual(
      model.range(Uint8Array.of(0), Uint8Array.of(0), rev),
    );
  }
  expect(store.snapshot(), `seed ${seed} (restored at step ${restoredAt})`).toEqual(twin.snapshot());
  expect(store.hashKV()).toEqual(twin.hashKV());
}

describe('store against a reference model', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`agrees with the model (seed ${seed})`, () => run(seed, 600));
  }
});
