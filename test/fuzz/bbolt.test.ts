// Property tests of the bbolt reader (src/bbolt/reader.ts) and of what `edgecd snapshot restore` builds on it
// (readSnapshotForRestore in adapters/runtime/node/restore.ts, over src/server/snapshot-file.ts), fixed seed,
// FUZZ_RUNS runs per property (default 300; `npm run fuzz` raises it). Input: a real etcd backend (written the way `Maintenance.Snapshot` streams it),
// then damaged — bytes flipped or set in page headers, element tables and meta pages, pages copied over others
// (cycles, shared subtrees), the file cut — or pages of noise. Property: the database, or a BoltError from the
// reader (a SnapshotFileError from the restore path), never a TypeError/RangeError, and quickly: a tree whose
// pages point back at each other is refused instead of walked forever.

import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { readSnapshotForRestore } from '../../adapters/runtime/node/restore.ts';
import { BoltError, readBolt } from '../../src/bbolt/index.ts';
import { writeMetaPage } from '../../src/bbolt/meta.ts';
import { BRANCH_PAGE_FLAG, LEAF_PAGE_FLAG, PAGE_HEADER_SIZE, writePageHeader } from '../../src/bbolt/page.ts';
import { encodeEtcdBackend, etcdStateOf } from '../../src/server/etcd-snapshot.ts';
import { SnapshotFileError } from '../../src/server/snapshot-file.ts';
import { ServerStateMachine } from '../../src/server/state-machine.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = Number(process.env.FUZZ_SEED ?? 12);
// Long budgets (`npm run fuzz`) need more than the default 30 s per test.
vi.setConfig({ testTimeout: 30_000 + RUNS * 20 });
const PAGE = 4096;

const enc = (s: string) => new TextEncoder().encode(s);

/** An etcd backend with a few hundred revisions (branch pages, overflow pages), leases, members, a compaction. */
function etcdBackend(): Uint8Array {
  const sm = new ServerStateMachine({ minLeaseTtl: 2 }, { onEvents: () => {}, onCompacted: () => {} });
  sm.members.add(0xabcdefn, { peerURLs: ['http://a:2380'], name: 'a' }, false);
  sm.apply({ type: 'leaseGrant', request: { ID: 5n, TTL: 30 } }, 0);
  for (let i = 0; i < 300; i++) {
    const value = i % 97 === 3 ? 'y'.repeat(9000) : `v${i}`;
    sm.apply(
      { type: 'put', request: { key: enc(`k/${i % 50}`), value: enc(value), lease: i % 7 ? 0n : 5n } },
      0,
    );
  }
  sm.apply({ type: 'compact', request: { revision: 100 } }, 0);
  sm.appliedIndex = 77;
  return encodeEtcdBackend(etcdStateOf(sm));
}

const BASE = etcdBackend();
const PAGES = BASE.length / PAGE;

type Damage =
  | { kind: 'flip'; page: number; at: number; xor: number }
  | { kind: 'u16'; page: number; at: number; value: number }
  | { kind: 'u64'; page: number; at: number; value: number }
  | { kind: 'copy'; from: number; to: number }
  | { kind: 'cut'; at: number };

const page = fc.nat({ max: PAGES - 1 });
/** Offsets where the structure lives: page headers and the first element tables. */
const structural = fc.oneof(fc.nat({ max: 15 }), fc.nat({ max: 16 + 16 * 20 }), fc.nat({ max: PAGE - 1 }));
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    page,
    at: structural,
    xor: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('u16' as const),
    page,
    at: structural,
    value: fc.oneof(fc.constantFrom(0, 1, 2, 0x10, 0xffff), fc.nat(0xffff)),
  }),
  fc.record({
    kind: fc.constant('u64' as const),
    page,
    at: structural,
    value: fc.oneof(fc.nat(PAGES + 2), fc.constantFrom(2 ** 31, 2 ** 53 - 1)),
  }),
  fc.record({ kind: fc.constant('copy' as const), from: page, to: page }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat(BASE.length) }),
);

function damaged(base: Uint8Array, damages: readonly Damage[]): Uint8Array {
  let file = Uint8Array.from(base);
  for (const d of damages) {
    if (file.length < 8 && d.kind !== 'cut') continue;
    const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
    const at = (p: number, off: number, size: number) => Math.min(p * PAGE + off, file.length - size);
    if (d.kind === 'flip') file[at(d.page, d.at, 1)] ^= d.xor;
    else if (d.kind === 'u16') view.setUint16(at(d.page, d.at, 2), d.value, true);
    else if (d.kind === 'u64') view.setBigUint64(at(d.page, d.at, 8), BigInt(d.value), true);
    else if (d.kind === 'copy') file.copyWithin(d.to * PAGE, d.from * PAGE, (d.from + 1) * PAGE);
    else file = file.slice(0, d.at);
  }
  return file;
}

function readOrBoltError(file: Uint8Array): unknown {
  try {
    return readBolt(file);
  } catch (err) {
    if (err instanceof BoltError) return err;
    throw err;
  }
}

/** A file whose meta pages are valid and point at `root`, with `pages` of noise after them. */
function withMeta(pages: Uint8Array[], root: number): Uint8Array {
  const file = new Uint8Array((2 + pages.length) * PAGE);
  pages.forEach((p, i) => {
    file.set(p.subarray(0, PAGE), (2 + i) * PAGE);
  });
  const meta = {
    pageSize: PAGE,
    flags: 0,
    root,
    rootSequence: 0n,
    freelist: undefined,
    pgid: 2 + pages.length,
  };
  writeMetaPage(file, 0, 0, { ...meta, txid: 2n });
  writeMetaPage(file, PAGE, 1, { ...meta, txid: 1n });
  return file;
}

describe('bbolt reader', () => {
  it('reads the undamaged backend', () => {
    expect(readOrBoltError(BASE)).not.toBeInstanceOf(BoltError);
  });

  it('a damaged etcd backend: the database or a BoltError', () => {
    fc.assert(
      fc.property(fc.array(damage, { minLength: 1, maxLength: 3 }), (damages) => {
        readOrBoltError(damaged(BASE, damages));
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });

  it('valid meta pages over pages of noise or of forged headers: the database or a BoltError', () => {
    const noisePage = fc
      .tuple(
        fc.constantFrom(BRANCH_PAGE_FLAG, LEAF_PAGE_FLAG, 0x10, 0),
        fc.nat(0xffff),
        fc.nat(3),
        fc.uint8Array({ maxLength: 256 }),
      )
      .map(([flags, count, overflow, body]) => {
        const p = new Uint8Array(PAGE);
        p.set(body, PAGE_HEADER_SIZE);
        writePageHeader(new DataView(p.buffer), 0, {
          id: 0,
          flags,
          count: count % 2 ? count : count % 40,
          overflow,
        });
        return p;
      });
    fc.assert(
      fc.property(fc.array(noisePage, { minLength: 1, maxLength: 5 }), fc.nat(8), (pages, root) => {
        readOrBoltError(withMeta(pages, root));
      }),
      { seed: SEED, numRuns: RUNS * 3 },
    );
  });

  // Found by the properties above (each hung or threw a RangeError before the reader bounded its walk).
  it('regression: branch pages that each list the next one twice are refused, not walked 2^40 times', () => {
    const pages = Array.from({ length: 41 }, (_, i) => {
      const p = new Uint8Array(PAGE);
      const view = new DataView(p.buffer);
      if (i === 40) {
        writePageHeader(view, 0, { id: 2 + i, flags: LEAF_PAGE_FLAG, count: 0, overflow: 0 });
        return p;
      }
      writePageHeader(view, 0, { id: 2 + i, flags: BRANCH_PAGE_FLAG, count: 2, overflow: 0 });
      for (const e of [0, 1]) view.setBigUint64(PAGE_HEADER_SIZE + e * 16 + 8, BigInt(3 + i), true);
      return p;
    });
    const err = readOrBoltError(withMeta(pages, 2));
    expect(err).toBeInstanceOf(BoltError);
    expect((err as Error).message).toMatch(/more than once/);
  });

  it('regression: a leaf page whose element table runs past the end of the file is a BoltError', () => {
    const p = new Uint8Array(PAGE);
    writePageHeader(new DataView(p.buffer), 0, { id: 2, flags: LEAF_PAGE_FLAG, count: 0xffff, overflow: 0 });
    expect(readOrBoltError(withMeta([p], 2))).toBeInstanceOf(BoltError);
  });
});

const MEMBERS = [{ id: 1n, name: 'm1', peerURLs: ['http://127.0.0.1:2380'] }];

/** What `edgecd snapshot restore` does with the file before writing anything, or its SnapshotFileError. */
async function restoreOrError(file: Uint8Array): Promise<unknown> {
  try {
    return await readSnapshotForRestore(file, MEMBERS, { skipHashCheck: true });
  } catch (err) {
    if (!(err instanceof SnapshotFileError)) throw err;
    expect(err.message).toMatch(/^snapshot file is corrupt: |^not a|^snapshot missing hash/);
    expect(err.message).not.toMatch(/Cannot read|is not a function|is not iterable|Invalid array length/);
    return err;
  }
}

describe('snapshot restore reader', () => {
  it(
    'a damaged etcd snapshot: the new cluster state or a SnapshotFileError',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(damage, { minLength: 1, maxLength: 3 }), async (damages) => {
          await restoreOrError(damaged(BASE, damages));
        }),
        { seed: SEED, numRuns: RUNS },
      );
    },
    30_000 + RUNS * 100,
  );

  // Found with FUZZ_SEED=2026: a lease record damaged so that its lease is granted badly; leasesOf threw the
  // lessor's EtcdError ('etcdserver: requested lease not found') out of readSnapshotFile.
  it('regression: a damaged lease record is a SnapshotFileError', async () => {
    const err = await restoreOrError(damaged(BASE, [{ kind: 'u16', page: 19, at: 528, value: 0 }]));
    expect(err).toBeInstanceOf(SnapshotFileError);
  });
});
