// Property tests of the file WAL's readers (adapters/storage/file-wal/record.ts, codec.ts, and load()), fixed
// seed, FUZZ_RUNS runs per property (default 300; `npm run fuzz` raises it):
// - records: any bytes give a record or a reason, never an exception; a length field of 2^31 with a valid header
//   CRC allocates nothing;
// - payload decoders: anything msgpack can carry gives a value of the right shape or a `malformed …` error;
// - load() of a real WAL (segments and snapshot files, in memory) after damage a disk can do — flipped bytes, a
//   cut, garbage appended — and after records forged with valid CRCs around arbitrary payloads: the state it
//   recovers is well-formed, or it refuses with the file WAL's own error, never a TypeError or RangeError.

import { crc32 } from 'node:zlib';
import { Decoder, Encoder } from '@msgpack/msgpack';
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeBatch, decodeSegmentHeader, decodeSnapshot } from '../../adapters/storage/file-wal/codec.ts';
import { CrashableFs } from '../../adapters/storage/file-wal/crashable-fs.ts';
import { FileWalStorage } from '../../adapters/storage/file-wal/index.ts';
import {
  findValidRecord,
  frameRecord,
  RECORD_BATCH,
  RECORD_SEGMENT_HEADER,
  RECORD_SNAPSHOT,
  type RecordType,
  readRecord,
} from '../../adapters/storage/file-wal/record.ts';
import type { Entry, Snapshot } from '../../src/raft/types.ts';
import type { LoadedState } from '../../src/storage.ts';
import { entries, snapshot } from '../conformance/storage.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
// Long budgets (`npm run fuzz`) need more than the default 30 s per test.
vi.setConfig({ testTimeout: 30_000 + RUNS * 20 });

const encoder = new Encoder({ useBigInt64: true });
const silent = { debug() {}, info() {}, warn() {}, error() {} };

/** Any msgpack value, with the numbers, bigints and byte arrays the WAL's payloads hold. */
const { anyValue } = fc.letrec<{ anyValue: unknown }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(null, true, 0, 1, -1, 2 ** 53, 0.5, 1n, -1n, 2n ** 63n),
    fc.nat(20),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.string({ maxLength: 4 }),
    fc.uint8Array({ maxLength: 4 }),
    fc.array(tie('anyValue'), { maxLength: 6 }),
  ),
}));

const small = fc.oneof(fc.nat(12), fc.constantFrom(-1, 0.5, 2 ** 53, 1n, null, 'x'));
const hardState = fc.oneof(fc.tuple(small, fc.oneof(fc.constant(1n), anyValue), small), anyValue);
const marker = fc.oneof(fc.constant(null), fc.tuple(small, small), anyValue);
/** Payloads shaped like the WAL's (codec.ts layouts), each part right or wrong. */
const batchLike = fc.array(
  fc.oneof(
    fc.tuple(
      marker,
      small,
      fc.array(fc.oneof(small, fc.constantFrom(0, 1, 2), fc.uint8Array({ maxLength: 3 })), { maxLength: 9 }),
      fc.oneof(fc.constant(null), hardState),
    ),
    anyValue,
  ),
  { maxLength: 3 },
);
const headerLike = fc.oneof(fc.tuple(fc.constantFrom(1, 2), small, small, hardState, marker), anyValue);
const snapshotLike = fc.oneof(
  fc.tuple(
    small,
    small,
    fc.array(fc.oneof(fc.constant(1n), anyValue), { maxLength: 2 }),
    fc.array(anyValue, { maxLength: 2 }),
    fc.oneof(fc.uint8Array({ maxLength: 4 }), anyValue),
  ),
  anyValue,
);

/** A decoder's result, or its error when it is of the decoder's own kind. */
function decodeOrMalformed<T>(payload: Uint8Array, decode: (p: Uint8Array) => T): T | Error {
  try {
    new Decoder({ useBigInt64: true }).decode(payload);
  } catch (err) {
    return err as Error; // not msgpack at all: the decoder's first step refuses it (wrapped by load)
  }
  try {
    return decode(payload);
  } catch (err) {
    if (err instanceof Error && /^malformed /.test(err.message)) return err;
    throw err;
  }
}

describe('WAL records', () => {
  it('any bytes: a record or a reason at every offset, never an exception', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 64 }),
      fc
        .tuple(
          fc.constantFrom(RECORD_BATCH, RECORD_SNAPSHOT, RECORD_SEGMENT_HEADER),
          fc.uint8Array({ maxLength: 8 }),
        )
        .chain(([type, payload]) =>
          fc.tuple(fc.nat(), fc.nat(255), fc.nat()).map(([at, x, cut]) => {
            const r = Uint8Array.from(frameRecord(type as RecordType, payload));
            r[at % r.length] ^= x;
            return r.subarray(0, cut % (r.length + 1));
          }),
        ),
    );
    fc.assert(
      fc.property(bytes, (b) => {
        for (let offset = 0; offset <= b.length; offset++) {
          const r = readRecord(b, offset);
          if (r.ok) expect(r.next).toBeLessThanOrEqual(b.length);
          else expect(typeof r.reason).toBe('string');
        }
        const next = findValidRecord(b, -1);
        expect(next === -1 || readRecord(b, next).ok).toBe(true);
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });

  it('a length of 2^31−1 with a valid header CRC is an incomplete payload and allocates nothing', () => {
    const before = process.memoryUsage().arrayBuffers;
    const record = Uint8Array.from(frameRecord(RECORD_BATCH, Uint8Array.of(0x90)));
    const view = new DataView(record.buffer);
    view.setUint32(0, 0x7fff_ffff, true);
    view.setUint32(12, crc32(record.subarray(0, 12)), true);
    for (let i = 0; i < 1000; i++) {
      const r = readRecord(record, 0);
      expect(r.ok).toBe(false);
      expect((r as { reason: string }).reason).toMatch(/^incomplete payload/);
    }
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('payload decoders: a value or a `malformed …` error for anything msgpack carries', () => {
    fc.assert(
      fc.property(batchLike, headerLike, snapshotLike, fc.uint8Array({ maxLength: 16 }), (b, h, s, noise) => {
        for (const [value, decode] of [
          [b, decodeBatch],
          [h, decodeSegmentHeader],
          [s, decodeSnapshot],
        ] as [unknown, (p: Uint8Array) => unknown][]) {
          decodeOrMalformed(encoder.encode(value), decode);
          decodeOrMalformed(noise, decode);
        }
      }),
      { seed: SEED, numRuns: RUNS * 10 },
    );
  });
});

/** A WAL with three segments and two snapshot files, written through the adapter into an in-memory fs. */
async function writeWal(fs: CrashableFs): Promise<void> {
  const wal = await FileWalStorage.open('/d', { fs, logger: silent, segmentSize: 256 });
  await wal.load();
  for (let i = 0; i < 6; i++) {
    const from = i * 4 + 1;
    await wal.save({
      entries: entries(from, from + 3, 1 + (i >> 1)),
      hardState: { term: 1 + (i >> 1), vote: 1n, commit: from + 3 },
    });
    if (i === 2 || i === 4) await wal.saveSnapshot(snapshot(from + 1, 1 + (i >> 1)));
  }
  await wal.close();
}

/** What load() may hand the node: a hard state, maybe a snapshot, and contiguous entries after it. */
function expectWellFormed(state: LoadedState): void {
  const base = state.snapshot?.metadata.index ?? 0;
  state.entries.forEach((e, i) => {
    expect(e.index).toBe(base + 1 + i);
    expect(Number.isSafeInteger(e.term) && e.term >= 0).toBe(true);
    expect(e.data).toBeInstanceOf(Uint8Array);
    expect(['normal', 'confChange']).toContain(e.type);
  });
  expect(state.hardState.commit).toBeLessThanOrEqual(Math.max(base, base + state.entries.length));
  expect(typeof state.hardState.vote).toBe('bigint');
}

type Damage =
  | { kind: 'flip'; at: number; xor: number }
  | { kind: 'cut'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'forge'; at: number; type: number; payload: Uint8Array };

const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }) }),
  fc.record({
    kind: fc.constant('forge' as const),
    at: fc.nat(),
    type: fc.constantFrom(RECORD_BATCH, RECORD_SNAPSHOT, RECORD_SEGMENT_HEADER),
    payload: fc.oneof(batchLike, headerLike, snapshotLike).map((v) => encoder.encode(v)),
  }),
);

/** Applies `d` to the file at `path` through the fs, as a disk (or a forger) would leave it. */
async function apply(fs: CrashableFs, path: string, d: Damage): Promise<void> {
  const bytes = fs.contents(path);
  let next: Uint8Array;
  if (d.kind === 'flip') {
    next = Uint8Array.from(bytes);
    if (next.length > 0) next[d.at % next.length] ^= d.xor;
  } else if (d.kind === 'cut') {
    next = bytes.subarray(0, d.at % (bytes.length + 1));
  } else if (d.kind === 'append') {
    next = Buffer.concat([bytes, d.bytes]);
  } else {
    // A forged record with valid CRCs, at a record boundary (replacing the rest of the file) or the end.
    const boundaries: number[] = [];
    for (let o = 0; o < bytes.length; ) {
      const r = readRecord(bytes, o);
      if (!r.ok) break;
      boundaries.push(o);
      o = r.next;
    }
    boundaries.push(bytes.length);
    const at = boundaries[d.at % boundaries.length];
    next = Buffer.concat([bytes.subarray(0, at), frameRecord(d.type as RecordType, d.payload)]);
  }
  const file = await fs.open(path, 'w');
  await file.write(next, 0);
  await file.sync();
  await file.close();
}

describe('WAL load after damage', () => {
  const written = new Map<number, Entry>();
  const writtenSnapshots = new Map<number, Snapshot>();
  beforeAll(async () => {
    const fs = new CrashableFs(1);
    await writeWal(fs);
    const wal = await FileWalStorage.open('/d', { fs, logger: silent, segmentSize: 256 });
    const state = await wal.load();
    await wal.close();
    for (const e of state.entries) written.set(e.index, e);
    for (let i = 1; i <= 24; i++) if (!written.has(i)) written.set(i, entries(i, i, 1 + ((i - 1) >> 3))[0]);
    for (const s of [snapshot(10, 2), snapshot(18, 3)]) writtenSnapshots.set(s.metadata.index, s);
  });

  it(
    "a well-formed state or the file WAL's refusal, never a TypeError/RangeError",
    async () => {
      const files = ['wal', 'snap'];
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom(...files), fc.nat(), damage), { minLength: 1, maxLength: 2 }),
          async (damages) => {
            const fs = new CrashableFs(1);
            await writeWal(fs);
            for (const [dir, which, d] of damages) {
              const names = (await fs.readdir(`/d/${dir}`)).filter((n) => !n.endsWith('.tmp')).sort();
              if (names.length === 0) continue;
              await apply(fs, `/d/${dir}/${names[which % names.length]}`, d);
            }
            const wal = await FileWalStorage.open('/d', { fs, logger: silent, segmentSize: 256 });
            try {
              const state = await wal.load();
              expectWellFormed(state);
              // Without a forged record (valid CRCs around a payload of the forger's choice), whatever loads is
              // what was written: damage is refused or cut off as a torn tail, never read as other data.
              if (damages.every(([, , d]) => d.kind !== 'forge')) {
                for (const e of state.entries) expect(e).toEqual(written.get(e.index));
                if (state.snapshot)
                  expect(state.snapshot).toEqual(writtenSnapshots.get(state.snapshot.metadata.index));
              }
            } catch (err) {
              expect(err).toBeInstanceOf(Error);
              expect(err).not.toBeInstanceOf(TypeError);
              expect(err).not.toBeInstanceOf(RangeError);
              const message = (err as Error).message;
              expect(message).toMatch(/^file WAL/);
              // decodeOr wraps a decoder's exception in the refusal: only the decoder's own texts may appear.
              expect(message).not.toMatch(
                /Cannot read|is not a function|is not iterable|Invalid array length|undefined/,
              );
            } finally {
              await wal.close().catch(() => {});
            }
          },
        ),
        { seed: SEED, numRuns: RUNS },
      );
    },
    30_000 + RUNS * 50,
  );
});
