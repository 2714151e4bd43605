// A keyspace restored from its snapshot read piece by piece (a ByteReader through a ByteWindow, as a restarting
// member reads its snapshot file) is the keyspace restored from the whole buffer: records cut anywhere across the
// window's buffer, records larger than it, readers that give a few bytes at a time; a reader cut short or with
// bytes to spare is corrupt, and a reader's own error (a damaged file found at the last read) reaches the caller.

import { describe, expect, it } from 'vitest';
import { type ByteReader, ByteWindow, bytesReader } from '../../src/mvcc/byte-reader.ts';
import { decodeBinary } from '../../src/mvcc/snapshot-binary.ts';
import { MvccStore } from '../../src/mvcc/store.ts';
import { readStateMachineSnapshot, writeStateMachineSnapshot } from '../../src/server/sm-snapshot.ts';
import { b, newStore, put, seeded, thrownMessage } from './helpers.ts';

function keyspace(): MvccStore {
  const store = newStore();
  for (let i = 0; i < 400; i++)
    put(store, `key/${i % 150}`, `value ${i}`.repeat(1 + (i % 9)), { lease: BigInt(i % 3) });
  put(store, 'big', 'x'.repeat(5_000));
  put(store, 'empty', '');
  store.txn({ success: [{ requestDeleteRange: { key: b('key/5') } }] });
  store.compact(store.revision - 100);
  return store;
}

/** `bytes` handed out at most `piece()` bytes per read. */
function piecesOf(bytes: Uint8Array, piece: () => number): ByteReader {
  let at = 0;
  return {
    size: bytes.length,
    read(out) {
      const n = Math.min(out.length, piece(), bytes.length - at);
      out.set(bytes.subarray(at, at + n), 0);
      at += n;
      return n;
    },
  };
}

const corrupt = (detail: string) => new Error(`corrupt: ${detail}`);

/** Every record, its key and value copied as it comes (they are views, right until the next record). */
function records(window: ByteWindow): unknown[] {
  const out: unknown[] = [];
  for (const r of decodeBinary(window, corrupt).records) {
    out.push({ ...r, kv: { ...r.kv, key: r.kv.key.slice(), value: r.kv.value.slice() } });
  }
  return out;
}

describe('keyspace snapshot read piece by piece', () => {
  it('gives the records of the whole buffer for any window and piece size', () => {
    const whole = keyspace().snapshot();
    const expected = records(ByteWindow.whole(whole));
    expect(expected.length).toBeGreaterThan(200);
    const random = seeded(11);
    for (const windowBytes of [16, 100, 1000, 4096, whole.length]) {
      for (const piece of [() => 1, () => 1 + Math.floor(random() * 3000), () => 1 << 20]) {
        expect(
          records(ByteWindow.over(piecesOf(whole, piece), windowBytes)),
          `window ${windowBytes}`,
        ).toEqual(expected);
      }
    }
  });

  it('restores the same store as the whole buffer (with and without a spill)', () => {
    const store = keyspace();
    const whole = store.snapshot();
    const fromReader = MvccStore.restore(piecesOf(whole, () => 777));
    expect(fromReader.snapshot()).toEqual(whole);
    expect(fromReader.hashKV(0)).toEqual(store.hashKV(0));
    const spilled: Uint8Array[] = [];
    const spill = {
      write: (position: number, bytes: Uint8Array) => {
        spilled[position] = bytes.slice();
      },
      read: (position: number, into: Uint8Array) => into.set(spilled[position].subarray(0, into.length)),
    };
    const withSpill = MvccStore.restore(bytesReader(whole), {
      values: { spill, residentBytes: 1024, segmentBytes: 512 },
    });
    expect(withSpill.snapshot()).toEqual(whole);
  });

  it('calls a reader cut short or with bytes to spare corrupt', () => {
    const whole = keyspace().snapshot();
    const random = seeded(3);
    for (let i = 0; i < 40; i++) {
      const cut = Math.floor(random() * whole.length);
      const message = thrownMessage(() => MvccStore.restore(bytesReader(whole.subarray(0, cut))));
      expect(message, `cut at ${cut}`).toMatch(
        /mvcc: corrupt snapshot: (truncated header|record past the end|record count past the end)/,
      );
    }
    const longer = new Uint8Array(whole.length + 3);
    longer.set(whole, 0);
    expect(thrownMessage(() => MvccStore.restore(bytesReader(longer)))).toMatch(/trailing bytes/);
  });

  it("passes a reader's error on", () => {
    const whole = keyspace().snapshot();
    const inner = bytesReader(whole);
    let left = whole.length;
    const failing: ByteReader = {
      size: whole.length,
      read(out) {
        const n = inner.read(out.subarray(0, Math.min(out.length, 1000)));
        left -= n;
        if (left === 0) throw new Error('payload CRC mismatch');
        return n;
      },
    };
    expect(() => MvccStore.restore(failing)).toThrow('payload CRC mismatch');
  });

  it('reads a state machine snapshot piece by piece: the metadata, then the keyspace as the rest', () => {
    const store = keyspace();
    const parts = {
      appliedIndex: 42,
      lessor: Uint8Array.of(1, 2, 3),
      members: { a: 1 },
      dedup: [],
      auth: undefined,
    };
    const captured = store.captureSnapshot();
    const written = writeStateMachineSnapshot(parts, captured);
    written.step(Number.POSITIVE_INFINITY);
    const streamed = readStateMachineSnapshot(piecesOf(written.bytes, () => 5));
    expect(streamed.appliedIndex).toBe(42);
    expect(streamed.lessor).toEqual(Uint8Array.of(1, 2, 3));
    expect(streamed.mvcc).not.toBeInstanceOf(Uint8Array);
    expect(MvccStore.restore(streamed.mvcc).snapshot()).toEqual(store.snapshot());
  });
});
