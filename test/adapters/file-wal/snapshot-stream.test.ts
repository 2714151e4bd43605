// A local snapshot streamed to its file (FileWalStorage.saveSnapshotStream): the data taken piece by piece from
// the source while it is written, the CRC summed as it goes and the header written last. The file is the one
// saveSnapshot writes for the same bytes, loads back exact, and a source that gives the wrong number of bytes
// leaves no snapshot file behind and stops the storage (as a failed write does).

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWalStorage } from '../../../adapters/storage/file-wal/index.ts';
import type { SnapshotSource } from '../../../src/storage.ts';
import { entries, snapshot } from '../../conformance/storage.ts';
import { mulberry32, tempDir } from './helpers.ts';

/** `data` handed out in pieces whose sizes `sizes` picks (never more than asked for). */
function sourceOf(base: ReturnType<typeof snapshot>, data: Uint8Array, sizes: () => number): SnapshotSource {
  let at = 0;
  return {
    metadata: base.metadata,
    size: data.length,
    fill(out) {
      const n = Math.min(sizes(), out.length, data.length - at);
      out.set(data.subarray(at, at + n), 0);
      at += n;
      return n;
    },
  };
}

function bytes(size: number, seed: number): Uint8Array {
  const random = mulberry32(seed);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Math.floor(random.next() * 256);
  return out;
}

/** Byte equality without the matcher's element-by-element diff (megabytes here). */
function same(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

const dirs: { remove(): Promise<void> }[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await d.remove();
});

async function openIn(): Promise<{ storage: FileWalStorage; dir: string }> {
  const tmp = await tempDir();
  dirs.push(tmp);
  const storage = await FileWalStorage.open(tmp.dir);
  await storage.load();
  return { storage, dir: tmp.dir };
}

async function snapFile(dir: string): Promise<Uint8Array> {
  const names = (await readdir(join(dir, 'snap'))).filter((n) => n.endsWith('.snap'));
  expect(names).toHaveLength(1);
  return readFile(join(dir, 'snap', names[0]));
}

describe('file-wal: a snapshot streamed to its file', () => {
  it('writes the file saveSnapshot writes, for data larger than its buffers, in pieces of any size', async () => {
    const data = bytes(3 * 1024 * 1024 + 11, 1);
    const base = snapshot(9, 2);
    const random = mulberry32(5);
    for (const sizes of [() => 1 << 20, () => 1 + Math.floor(random.next() * 300_000), () => 4099]) {
      const streamed = await openIn();
      await streamed.storage.save({ entries: entries(1, 12, 2) });
      await streamed.storage.saveSnapshotStream(sourceOf(base, data, sizes));
      await streamed.storage.compact(9);
      await streamed.storage.close();
      const whole = await openIn();
      await whole.storage.save({ entries: entries(1, 12, 2) });
      await whole.storage.saveSnapshot({ metadata: base.metadata, data });
      await whole.storage.close();
      expect(same(await snapFile(streamed.dir), await snapFile(whole.dir))).toBe(true);

      const reopened = await FileWalStorage.open(streamed.dir);
      const loaded = await reopened.load();
      expect(loaded.snapshot?.metadata).toEqual(base.metadata);
      expect(same(loaded.snapshot!.data, data)).toBe(true);
      expect(loaded.entries.map((e) => e.index)).toEqual([10, 11, 12]);
      await reopened.close();
    }
  });

  it('refuses a source that ends early or gives too much, keeping the snapshot before it', async () => {
    for (const wrong of ['short', 'long'] as const) {
      const { storage, dir } = await openIn();
      await storage.save({ entries: entries(1, 12, 2) });
      await storage.saveSnapshot(snapshot(4, 2));
      const data = bytes(100_000, 2);
      const source = sourceOf(snapshot(9, 2), data, () => 10_000);
      const bad =
        wrong === 'short' ? { ...source, size: data.length + 1 } : { ...source, size: data.length - 1 };
      await expect(storage.saveSnapshotStream(bad)).rejects.toThrow(/snapshot source gave/);
      await expect(storage.save({ entries: entries(13, 13, 2) })).rejects.toThrow();
      await storage.close();
      const reopened = await FileWalStorage.open(dir);
      const loaded = await reopened.load();
      expect(loaded.snapshot?.metadata.index).toBe(4);
      expect((await readdir(join(dir, 'snap'))).filter((n) => n.includes('.tmp'))).toEqual([]);
      await reopened.close();
    }
  });
});
