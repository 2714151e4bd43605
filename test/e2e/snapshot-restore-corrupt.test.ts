// `edgecd snapshot restore` given a damaged or hostile file, through the real CLI (bin/edgecd.js): every case
// ends with exit code 1, one clear `Error: …` line on stderr naming what is wrong, and no data dir — nothing is
// written before the whole file has been read and checked, and a restore that fails later removes what it made.
// A data dir that already exists is refused and left exactly as it was. A sound file still restores (the
// control case), and the member it makes starts.

import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeMetaPage } from '../../src/bbolt/meta.ts';
import { BRANCH_PAGE_FLAG, LEAF_PAGE_FLAG, PAGE_HEADER_SIZE, writePageHeader } from '../../src/bbolt/page.ts';
import { etcdStateOf } from '../../src/server/etcd-snapshot.ts';
import { encodeEtcdSnapshotFile, encodeSnapshotFile } from '../../src/server/snapshot-file.ts';
import { ServerStateMachine } from '../../src/server/state-machine.ts';

const CLI = new URL('../../bin/edgecd.js', import.meta.url).pathname;
const PAGE = 4096;
const enc = (s: string) => new TextEncoder().encode(s);

let dir: string;
let sound: Uint8Array;

function restore(file: Uint8Array | string, dataDir: string, ...extra: string[]) {
  const path = typeof file === 'string' ? file : join(dir, `snap-${Math.random().toString(16).slice(2)}.db`);
  if (typeof file !== 'string') writeFileSync(path, file);
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      ...['snapshot', 'restore', path, '--name', 'm1', '--data-dir', dataDir],
      ...[
        '--initial-cluster',
        'm1=http://127.0.0.1:1',
        '--initial-advertise-peer-urls',
        'http://127.0.0.1:1',
      ],
      ...extra,
    ],
    { encoding: 'utf8', timeout: 60_000, env: { ...process.env, EDGECD_FROM_SOURCE: '1' } },
  );
  return { status: r.status, signal: r.signal, stderr: r.stderr, stdout: r.stdout };
}

function expectRefused(r: ReturnType<typeof restore>, dataDir: string, message: RegExp): void {
  expect(r.signal, r.stderr).toBeNull();
  expect(r.status, r.stderr).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines.at(-1)).toMatch(/^Error: /);
  expect(lines.at(-1)).toMatch(message);
  expect(r.stderr).not.toMatch(/TypeError|RangeError| {4}at /);
  expect(existsSync(dataDir), `${dataDir} was left behind`).toBe(false);
}

/** A sound etcd 3.4 snapshot file (bbolt backend + sha256 trailer) with history, leases and a big value. */
async function soundSnapshot(bigValues = 1): Promise<Uint8Array> {
  const sm = new ServerStateMachine({ minLeaseTtl: 2 }, { onEvents: () => {}, onCompacted: () => {} });
  sm.apply({ type: 'leaseGrant', request: { ID: 5n, TTL: 30 } }, 0);
  for (let i = 0; i < 200; i++) {
    const value = i % 5 === 3 && i < 5 * bigValues ? `${i}`.repeat(9000) : `v${i}`;
    sm.apply({ type: 'put', request: { key: enc(`k/${i % 40}`), value: enc(value) } }, 0);
  }
  sm.appliedIndex = 9;
  return encodeEtcdSnapshotFile(etcdStateOf(sm));
}

/** Valid meta pages over 41 branch pages that each list the next one twice (2^40 steps for a naive walk). */
function exponentialTree(): Uint8Array {
  const n = 41;
  const file = new Uint8Array((2 + n) * PAGE);
  const view = new DataView(file.buffer);
  for (let i = 0; i < n; i++) {
    const at = (2 + i) * PAGE;
    if (i === n - 1) {
      writePageHeader(view, at, { id: 2 + i, flags: LEAF_PAGE_FLAG, count: 0, overflow: 0 });
      continue;
    }
    writePageHeader(view, at, { id: 2 + i, flags: BRANCH_PAGE_FLAG, count: 2, overflow: 0 });
    for (const e of [0, 1]) view.setBigUint64(at + PAGE_HEADER_SIZE + e * 16 + 8, BigInt(3 + i), true);
  }
  const meta = { pageSize: PAGE, flags: 0, root: 2, rootSequence: 0n, freelist: undefined, pgid: 2 + n };
  writeMetaPage(file, 0, 0, { ...meta, txid: 2n });
  writeMetaPage(file, PAGE, 1, { ...meta, txid: 1n });
  return file;
}

describe('edgecd snapshot restore of a damaged file', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'edgecd-restore-'));
    sound = await soundSnapshot();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('control: a sound file restores into a new data dir', () => {
    const dataDir = join(dir, 'ok');
    const r = restore(sound, dataDir);
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(join(dataDir, 'member'))).toEqual(expect.arrayContaining(['wal', 'snap']));
  });

  it('an empty file', () => {
    const dataDir = join(dir, 'empty');
    expectRefused(restore(new Uint8Array(0), dataDir), dataDir, /not an edgecd snapshot|not a snapshot/);
  });

  it('a missing file', () => {
    const dataDir = join(dir, 'missing');
    expectRefused(restore(join(dir, 'no-such.db'), dataDir), dataDir, /no-such\.db/);
  });

  it('noise', () => {
    const dataDir = join(dir, 'noise');
    const noise = new Uint8Array(8192 + 32).map((_, i) => (i * 2654435761) >>> 24);
    expectRefused(restore(noise, dataDir), dataDir, /snapshot/);
  });

  it('one byte flipped in the middle: the sha256 trailer does not match', () => {
    const dataDir = join(dir, 'flipped');
    const bad = Uint8Array.from(sound);
    bad[bad.length >> 1] ^= 0x40;
    expectRefused(
      restore(bad, dataDir),
      dataDir,
      /^Error: snapshot file is corrupt: sha256 checksum mismatch$/,
    );
  });

  it('cut in half', () => {
    const dataDir = join(dir, 'cut');
    expectRefused(restore(sound.subarray(0, sound.length >> 1), dataDir), dataDir, /snapshot/);
  });

  it('--skip-hash-check with damaged pages: the reader says what is wrong', () => {
    const dataDir = join(dir, 'pages');
    const bad = Uint8Array.from(sound.subarray(0, sound.length - 32));
    // Every page after the meta pages and the freelist gets a leaf header claiming 0xffff elements.
    for (let p = 3; p * PAGE < bad.length; p++)
      writePageHeader(new DataView(bad.buffer), p * PAGE, {
        id: p,
        flags: LEAF_PAGE_FLAG,
        count: 0xffff,
        overflow: 0,
      });
    expectRefused(restore(bad, dataDir, '--skip-hash-check'), dataDir, /^Error: snapshot file is corrupt: /);
  });

  it('--skip-hash-check with a tree that would take 2^40 steps to walk: refused at once', () => {
    const dataDir = join(dir, 'dag');
    expectRefused(
      restore(exponentialTree(), dataDir, '--skip-hash-check'),
      dataDir,
      /^Error: snapshot file is corrupt: page \d+: referenced more than once/,
    );
  });

  it("an edgecd file whose sha256 matches but whose data is not a keyspace (a forger's, or a bug's)", async () => {
    for (const [name, data] of [
      ['garbage', enc('not msgpack at all \xc1')],
      ['no keyspace', Uint8Array.of(0x80)],
      [
        'bad keyspace',
        Uint8Array.of(0x82, 0xa4, ...enc('mvcc'), 0xc4, 1, 7, 0xa6, ...enc('lessor'), 0xc4, 1, 7),
      ],
    ] as const) {
      const dataDir = join(dir, `forged-${name.replace(/ /g, '-')}`);
      const file = await encodeSnapshotFile({
        clusterId: 1n,
        memberId: 1n,
        revision: 5,
        appliedIndex: 5,
        data,
        format: 'edgecd',
      });
      expectRefused(restore(file, dataDir), dataDir, /^Error: snapshot file is corrupt: /);
    }
  });

  it('a disk that fills up during the restore: the error, and the half-written data dir removed', async (ctx) => {
    const mountPoint = join(dir, 'small-disk');
    mkdirSync(mountPoint);
    const m = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mountPoint], {
      encoding: 'utf8',
    });
    if (m.status !== 0) {
      ctx.skip(`cannot mount a small tmpfs here: ${(m.stderr || m.error?.message || '').trim()}`);
      return;
    }
    try {
      const big = await soundSnapshot(40);
      expect(big.length).toBeGreaterThan(256 * 1024);
      const dataDir = join(mountPoint, 'data');
      expectRefused(restore(big, dataDir), dataDir, /ENOSPC/);
      expect(readdirSync(mountPoint)).toEqual([]);
    } finally {
      spawnSync('umount', [mountPoint]);
    }
  });

  it('an existing data dir is refused and left exactly as it was', () => {
    const dataDir = join(dir, 'existing');
    mkdirSync(join(dataDir, 'member'), { recursive: true });
    writeFileSync(join(dataDir, 'member', 'keep'), 'mine');
    const r = restore(sound, dataDir);
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr.trim()).toBe(`Error: data-dir "${dataDir}" exists`);
    expect(readdirSync(dataDir)).toEqual(['member']);
    expect(readdirSync(join(dataDir, 'member'))).toEqual(['keep']);
    expect(readFileSync(join(dataDir, 'member', 'keep'), 'utf8')).toBe('mine');
  });
});
