// Property tests of the keyspace snapshot reader (src/mvcc/snapshot.ts, snapshot-binary.ts), which reads what a
// peer's MsgSnap or a snapshot file carries. Fixed seed, FUZZ_RUNS runs per property (default 300; `npm run fuzz`
// raises it). Input: the snapshot of a store built by random writes, deletes and compactions, then damaged —
// bytes flipped, cut, spliced, garbage appended. The property: the store restored, or mvcc's own
// `corrupt snapshot` error (never a TypeError or RangeError); a restored store encodes back to bytes it reads again.

import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { EtcdError } from '../../src/etcd/errors.ts';
import { MvccStore } from '../../src/mvcc/store.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
vi.setConfig({ testTimeout: 30_000 + RUNS * 20 });

const enc = new TextEncoder();

type Op = { put: [number, number, number] } | { del: number } | { compact: true };

const ops = fc.array(
  fc.oneof(
    fc.record({ put: fc.tuple(fc.nat(12), fc.nat(40), fc.nat(3)) }),
    fc.record({ del: fc.nat(12) }),
    fc.record({ compact: fc.constant(true as const) }),
  ),
  { minLength: 1, maxLength: 40 },
) as fc.Arbitrary<Op[]>;

function build(list: Op[]): Uint8Array {
  const store = new MvccStore();
  for (const op of list) {
    if ('put' in op) {
      const [k, size, lease] = op.put;
      store.put({ key: enc.encode(`k${k}`), value: new Uint8Array(size).fill(k), lease: BigInt(lease) });
    } else if ('del' in op) store.deleteRange({ key: enc.encode(`k${op.del}`) });
    else if (store.revision - 2 > store.compactRevision) store.compact(store.revision - 2);
  }
  return store.snapshot();
}

type Damage =
  | { flip: [number, number] }
  | { cut: number }
  | { splice: [number, Uint8Array] }
  | { append: Uint8Array };

const damage = fc.oneof(
  fc.record({ flip: fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })) }),
  fc.record({ cut: fc.nat() }),
  fc.record({ splice: fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 12 })) }),
  fc.record({ append: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
) as fc.Arbitrary<Damage>;

function apply(bytes: Uint8Array, list: Damage[]): Uint8Array {
  let out = bytes.slice();
  for (const d of list) {
    if ('flip' in d) {
      if (out.length > 0) out[d.flip[0] % out.length] ^= d.flip[1];
    } else if ('cut' in d) out = out.slice(0, d.cut % (out.length + 1));
    else if ('splice' in d) {
      const at = d.splice[0] % (out.length + 1);
      const next = new Uint8Array(out.length + d.splice[1].length);
      next.set(out.subarray(0, at));
      next.set(d.splice[1], at);
      next.set(out.subarray(at), at + d.splice[1].length);
      out = next;
    } else {
      const next = new Uint8Array(out.length + d.append.length);
      next.set(out);
      next.set(d.append, out.length);
      out = next;
    }
  }
  return out;
}

describe('keyspace snapshot reader', () => {
  it('restores an undamaged snapshot to the same bytes', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const bytes = build(list);
        expect(MvccStore.restore(bytes).snapshot()).toEqual(bytes);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  });

  it('gives a store or its own corrupt-snapshot error for damaged bytes', () => {
    let refused = 0;
    fc.assert(
      fc.property(ops, fc.array(damage, { minLength: 1, maxLength: 3 }), (list, harm) => {
        const bytes = apply(build(list), harm);
        let store: MvccStore;
        try {
          store = MvccStore.restore(bytes);
        } catch (err) {
          refused++;
          expect(err).toBeInstanceOf(EtcdError);
          expect((err as Error).message).toMatch(/^mvcc: corrupt snapshot: /);
          return;
        }
        // What it accepted is a store that encodes and reads back the same.
        const again = store.snapshot();
        expect(MvccStore.restore(again).snapshot()).toEqual(again);
      }),
      { numRuns: RUNS, seed: SEED },
    );
    expect(refused).toBeGreaterThan(0);
  });
});
