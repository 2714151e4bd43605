// The newest snapshot file read as it is restored (load({ snapshotReader: true })): the metadata from the file's
// first bytes, the data handed out piece by piece through the caller's buffer, the CRC summed as it goes and
// compared at the last byte, so a damaged byte anywhere still refuses the file — only later than a whole read.

import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeSnapshotHead, encodeSnapshotPrefix } from '../../../adapters/storage/file-wal/codec.ts';
import { FileWalStorage } from '../../../adapters/storage/file-wal/index.ts';
import type { LoadedState } from '../../../src/storage.ts';
import { entries, snapshot } from '../../conformance/storage.ts';
import { mulberry32, tempDir } from './helpers.ts';

const dirs: { remove(): Promise<void> }[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

function bytes(size: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random.next() * 256);
  return out;
}

const base = snapshot(9, 2);
const SNAP = '0000000000000002-0000000000000009.snap';

/** A data directory whose newest snapshot holds `data` (with entries 1–12 beside it). */
async function stored(data: Uint8Array): Promise<string> {
  const tmp = await tempDir();
  dirs.push(tmp);
  const storage = await FileWalStorage.open(tmp.dir);
  await storage.load();
  await storage.save({ entries: entries(1, 12, 2) });
  await storage.saveSnapshot({ metadata: base.metadata, data });
  await storage.close();
  return tmp.dir;
}

async function loadIn(
  dir: string,
  snapshotReader = true,
): Promise<{ storage: FileWalStorage; loaded: LoadedState }> {
  const storage = await FileWalStorage.open(dir);
  try {
    return { storage, loaded: await storage.load({ snapshotReader }) };
  } catch (error) {
    await storage.close();
    throw error;
  }
}

/** Everything the reader gives, read `piece` bytes at a time. */
function drain(loaded: LoadedState, piece: number): Uint8Array {
  const reader = loaded.snapshotReader!;
  const out = new Uint8Array(reader.size);
  const buffer = new Uint8Array(piece);
  let at = 0;
  for (let n = reader.read(buffer); n > 0; n = reader.read(buffer)) {
    out.set(buffer.subarray(0, n), at);
    at += n;
  }
  expect(at).toBe(reader.size);
  return out;
}

describe('file-wal: the newest snapshot read piece by piece', () => {
  it('hands out the data exactly, in pieces of any size, with the metadata and the entries after it', async () => {
    const data = bytes(300_000, 1);
    const dir = await stored(data);
    for (const piece of [1, 4099, 65_536, 1 << 20]) {
      const { storage, loaded } = await loadIn(dir);
      expect(loaded.snapshot?.metadata).toEqual(base.metadata);
      expect(loaded.snapshot?.data.length).toBe(0);
      expect(loaded.entries.map((e) => e.index)).toEqual(piece === 1 ? [10, 11, 12] : [10, 11, 12, 13]);
      expect(Buffer.compare(drain(loaded, piece), data)).toBe(0);
      loaded.snapshotReader!.close();
      // The storage goes on as after a whole load.
      if (piece === 1) await storage.save({ entries: entries(13, 13, 2) });
      await storage.close();
    }
  });

  it('refuses a damaged byte anywhere in the data at the last read', async () => {
    const data = bytes(200_000, 2);
    const dir = await stored(data);
    const path = join(dir, 'snap', SNAP);
    const original = new Uint8Array(await readFile(path));
    for (const offset of [
      original.length - data.length + 5,
      original.length - 100_000,
      original.length - 1,
    ]) {
      const damaged = original.slice();
      damaged[offset] ^= 0x40;
      await writeFile(path, damaged);
      const { storage, loaded } = await loadIn(dir);
      const reader = loaded.snapshotReader!;
      const buffer = new Uint8Array(50_000);
      let read = 0;
      expect(() => {
        for (let n = reader.read(buffer); n > 0; n = reader.read(buffer)) read += n;
      }).toThrow(new RegExp(`${SNAP} at byte offset 0: payload CRC mismatch; refusing to load`));
      expect(read).toBeGreaterThan(data.length - buffer.length); // every piece but the last came out
      reader.close();
      await storage.close();
      // A whole load refuses it with the same words.
      await expect(loadIn(dir, false)).rejects.toThrow(/payload CRC mismatch/);
    }
  });

  it('refuses a damaged header or a cut file when it is opened', async () => {
    const dir = await stored(bytes(100_000, 3));
    const path = join(dir, 'snap', SNAP);
    const original = new Uint8Array(await readFile(path));
    const damaged = original.slice();
    damaged[2] ^= 1; // the payload length, which the header CRC covers
    await writeFile(path, damaged);
    await expect(loadIn(dir)).rejects.toThrow(/at byte offset 0: header CRC mismatch; refusing to load/);
    await writeFile(path, original);
    await truncate(path, original.length - 1);
    await expect(loadIn(dir)).rejects.toThrow(/incomplete payload \(\d+ of \d+ bytes\); refusing to load/);
  });

  it('finds the metadata only in a head that holds all of it', () => {
    const meta = { metadata: base.metadata, size: 70_000, fill: () => 0 };
    const prefix = encodeSnapshotPrefix(meta);
    const payload = new Uint8Array(prefix.length + 10);
    payload.set(prefix, 0);
    for (let k = 1; k < prefix.length; k++)
      expect(decodeSnapshotHead(payload.subarray(0, k))).toBeUndefined();
    for (const k of [prefix.length, payload.length]) {
      expect(decodeSnapshotHead(payload.subarray(0, k))).toEqual({
        metadata: base.metadata,
        dataOffset: prefix.length,
        dataLength: 70_000,
      });
    }
    expect(() => decodeSnapshotHead(Uint8Array.of(0x94, 1))).toThrow(/malformed snapshot/);
  });
});
