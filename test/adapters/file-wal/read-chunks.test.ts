// The snapshot file's CRC is computed as the file is read, piece by piece (nodeFs.readFileChunks + PayloadCrc),
// instead of after the whole file is in memory: the same answer, and a damaged byte anywhere still refuses it.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFs } from '../../../adapters/storage/file-wal/fs.ts';
import {
  frameRecord,
  PayloadCrc,
  RECORD_SNAPSHOT,
  readRecord,
} from '../../../adapters/storage/file-wal/record.ts';

const dir = mkdtempSync(join(tmpdir(), 'edgecd-chunks-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function payload(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 2654435761) >>> 24;
  return bytes;
}

describe('nodeFs.readFileChunks', () => {
  it('hands over the file in order, in pieces, and returns all of it', async () => {
    const bytes = payload(20 * 1024 * 1024 + 7); // three pieces of 8 MB at most
    const path = join(dir, 'big');
    writeFileSync(path, bytes);
    const pieces: [number, number][] = [];
    const read = await nodeFs.readFileChunks!(path, (chunk, offset) => pieces.push([offset, chunk.length]));
    expect(Buffer.from(read).equals(Buffer.from(bytes))).toBe(true);
    expect(pieces.length).toBe(3);
    let next = 0;
    for (const [offset, length] of pieces) {
      expect(offset).toBe(next);
      next += length;
    }
    expect(next).toBe(bytes.length);
  });

  it('reads an empty file', async () => {
    const path = join(dir, 'empty');
    writeFileSync(path, new Uint8Array(0));
    let calls = 0;
    expect((await nodeFs.readFileChunks!(path, () => calls++)).length).toBe(0);
    expect(calls).toBe(0);
  });
});

describe('PayloadCrc', () => {
  const record = frameRecord(RECORD_SNAPSHOT, payload(100_000));
  const fed = (bytes: Uint8Array, cuts: number[]) => {
    const crc = new PayloadCrc();
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      crc.add(bytes.subarray(from, to), from);
      from = to;
    }
    return crc.value;
  };

  it('gives the payload CRC wherever the pieces are cut', () => {
    const expected = crc32(record.subarray(16));
    for (const cuts of [[], [16], [17], [5000], [16, 99_999], [40_000, 40_001, 70_000]]) {
      expect(fed(record, cuts), `cut at ${cuts}`).toBe(expected);
    }
    expect(readRecord(record, 0, fed(record, [333]))).toMatchObject({ ok: true, type: RECORD_SNAPSHOT });
  });

  it('covers only the record: bytes after it do not change the CRC', () => {
    const longer = new Uint8Array(record.length + 10);
    longer.set(record);
    longer.fill(9, record.length);
    expect(fed(longer, [50_000])).toBe(crc32(record.subarray(16)));
  });

  it('a damaged payload byte is a CRC mismatch; a damaged header gives no CRC (readRecord says why)', () => {
    const damaged = new Uint8Array(record);
    damaged[60_000] ^= 1;
    expect(readRecord(damaged, 0, fed(damaged, [8192]))).toEqual({
      ok: false,
      reason: 'payload CRC mismatch',
    });
    const badHeader = new Uint8Array(record);
    badHeader[2] ^= 1;
    expect(fed(badHeader, [8192])).toBeUndefined();
    expect(readRecord(badHeader, 0, undefined)).toEqual({ ok: false, reason: 'header CRC mismatch' });
  });
});
