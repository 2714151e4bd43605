import { describe, expect, it } from 'vitest';
import { ByteSlabs } from '../../../adapters/storage/file-wal/byte-slabs.ts';

const value = (i: number, n = 200) => new Uint8Array(n).fill(i % 251);

describe('ByteSlabs', () => {
  it('copies small byte strings into shared slabs; large ones keep their own buffer', () => {
    const arena = new ByteSlabs();
    const source = value(1);
    const a = arena.copy(source);
    const c = arena.copy(value(2));
    expect(a).toEqual(source);
    expect(a.buffer).toBe(c.buffer);
    source.fill(9); // the copy is its own
    expect(a).toEqual(value(1));
    const big = arena.copy(new Uint8Array(8192).fill(3));
    expect(big.buffer.byteLength).toBe(8192);
    expect(arena.copy(new Uint8Array(0)).length).toBe(0);
  });
});
