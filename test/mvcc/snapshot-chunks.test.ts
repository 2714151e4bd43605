// The keyspace snapshot handed out in pieces (SnapshotChunks, what a storage streams to its file) is byte for byte
// the snapshot written in one buffer, for any piece size: records cut anywhere, a record larger than a piece, the
// store taking writes (and compacting) while the pieces are taken.

import { describe, expect, it } from 'vitest';
import { SnapshotChunks } from '../../src/mvcc/snapshot-binary.ts';
import { b, newStore, put, seeded } from './helpers.ts';

function drain(chunks: { fill(out: Uint8Array): number }, pieceSizes: () => number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (;;) {
    const out = new Uint8Array(pieceSizes());
    const n = chunks.fill(out);
    if (n === 0) break;
    expect(n).toBeLessThanOrEqual(out.length);
    parts.push(out.slice(0, n));
  }
  const all = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}

function keyspace() {
  const store = newStore();
  for (let i = 0; i < 300; i++)
    put(store, `key/${i % 120}`, `value ${i}`.repeat(1 + (i % 7)), { lease: BigInt(i % 3) });
  put(store, 'big', 'x'.repeat(10_000));
  store.txn({ success: [{ requestDeleteRange: { key: b('key/5') } }] });
  return store;
}

describe('keyspace snapshot in pieces', () => {
  it('gives the bytes of the whole-buffer snapshot for any piece size', () => {
    const store = keyspace();
    const whole = store.snapshot();
    for (const size of [1, 7, 29, 1000, 4096, 65_536, whole.length + 5]) {
      expect(
        drain(store.captureSnapshot().chunks(), () => size),
        `pieces of ${size}`,
      ).toEqual(whole);
    }
    const random = seeded(7);
    expect(drain(store.captureSnapshot().chunks(), () => 1 + Math.floor(random() * 20_000))).toEqual(whole);
  });

  it('gives the keyspace as captured while the store takes writes and compacts', () => {
    const store = keyspace();
    const whole = store.snapshot();
    const chunks = store.captureSnapshot().chunks();
    const first = new Uint8Array(5000);
    const n = chunks.fill(first);
    for (let i = 0; i < 200; i++) put(store, `key/${i}`, `later ${i}`);
    store.compact(store.revision);
    const rest = drain(chunks, () => 777);
    const all = new Uint8Array(n + rest.length);
    all.set(first.subarray(0, n), 0);
    all.set(rest, n);
    expect(all).toEqual(whole);
  });

  it('throws when the records do not add up to the shape it was given', () => {
    const short = new SnapshotChunks({ currentRev: 3, compactRev: 0, count: 2, size: 100 }, [].values());
    expect(() => drain(short, () => 64)).toThrow(/changed while their snapshot was written/);
  });
});
