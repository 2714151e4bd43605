// The Node value spill (adapters/storage/file-wal/value-spill.ts) on the real file system: what is written at a
// place is read back, the file is gone from the directory as soon as it is open, and a store spilling its values
// there reads exactly as one keeping them in memory.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileWalStorage } from '../../../adapters/storage/file-wal/index.ts';
import { openValueSpill } from '../../../adapters/storage/file-wal/value-spill.ts';
import { MvccStore, prefixRangeEnd } from '../../../src/mvcc/index.ts';

const dirs: string[] = [];
function dir(): string {
  const d = mkdtempSync(join(tmpdir(), 'edgecd-spill-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('value spill on the file system', () => {
  it('reads back what was written at each place and leaves no file behind', () => {
    const d = dir();
    const spill = openValueSpill(d);
    expect(readdirSync(d)).toEqual([]);
    const a = new Uint8Array(70_000).map((_, i) => i % 251);
    const c = new Uint8Array(100).fill(7);
    spill.write(0, a);
    spill.write(200_000, c);
    spill.write(70_000, c);
    const into = new Uint8Array(70_000);
    spill.read(0, into);
    expect(into).toEqual(a);
    const small = new Uint8Array(100);
    spill.read(200_000, small);
    expect(small).toEqual(c);
    expect(() => spill.read(300_000, small)).toThrow(/past its end/);
  });

  it('holds the values of a store with a small memory budget, which reads as one without', async () => {
    const d = dir();
    const storage = await FileWalStorage.open(d);
    try {
      expect(storage.valueSpill).toBeTypeOf('function');
      const spill = storage.valueSpill!();
      const store = new MvccStore({ values: { spill, residentBytes: 256 * 1024 } });
      const plain = new MvccStore();
      const value = (i: number, r: number) => new Uint8Array(200 + (i % 50)).fill((i + r) % 256);
      for (let r = 0; r < 3; r++) {
        for (let i = 0; i < 5000; i++)
          for (const s of [store, plain])
            s.put({ key: new TextEncoder().encode(`k/${i}`), value: value(i, r) });
        for (const s of [store, plain]) s.compact(s.revision);
      }
      expect(store.valueStats.spillBytes).toBeGreaterThan(1024 * 1024);
      expect(store.valueStats.residentBytes).toBeLessThanOrEqual(256 * 1024);
      const all = {
        key: new TextEncoder().encode('k/'),
        rangeEnd: prefixRangeEnd(new TextEncoder().encode('k/')),
      };
      // Compared as whole buffers (an element-wise compare of megabytes is slow).
      const flat = (s: MvccStore) => Buffer.concat(s.range(all).kvs.flatMap((kv) => [kv.key, kv.value]));
      expect(flat(store).equals(flat(plain))).toBe(true);
      expect(store.hashKV()).toEqual(plain.hashKV());
      expect(Buffer.from(store.snapshot()).equals(Buffer.from(plain.snapshot()))).toBe(true);
      expect(readdirSync(d).filter((f) => f.endsWith('.spill'))).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});
