// A WAL segment's records read through a reused window (adapters/storage/file-wal/segment-records.ts): every
// record exactly, whatever the window's size against the records', zeros after them as the end, and anything
// else handed to the whole-file reading that recovery judges torn tails and corruption on.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFs } from '../../../adapters/storage/file-wal/fs.ts';
import {
  frameRecord,
  PAYLOAD_CRC_MISMATCH,
  RECORD_BATCH,
  type ReadResult,
} from '../../../adapters/storage/file-wal/record.ts';
import { END_OF_DATA, SegmentRecords } from '../../../adapters/storage/file-wal/segment-records.ts';

const dir = mkdtempSync(join(tmpdir(), 'edgecd-segment-records-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Payloads of 1 byte to 3 KB (a few larger than the small windows below), deterministic. */
function payloads(count: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let x = 7;
  for (let i = 0; i < count; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const p = new Uint8Array(1 + (x % (i % 10 === 0 ? 3000 : 300)));
    for (let j = 0; j < p.length; j++) p[j] = (x >>> (j % 24)) + j;
    p[p.length - 1] = 0; // a payload may end in zeros
    out.push(p);
  }
  return out;
}

function segmentFile(name: string, records: Uint8Array[], tail: Uint8Array): string {
  const framed = records.map((p) => frameRecord(RECORD_BATCH, p));
  const size = framed.reduce((n, f) => n + f.length, 0) + tail.length;
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const f of framed) {
    bytes.set(f, at);
    at += f.length;
  }
  bytes.set(tail, at);
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Reads every record as recovery does: returns the payloads (copied) and how the reading ended. */
async function readAll(path: string, window: Uint8Array) {
  const records = await SegmentRecords.open(nodeFs, path, window);
  const got: Uint8Array[] = [];
  let offset = 0;
  let failed: ReadResult | undefined;
  try {
    for (;;) {
      const r = records.at(offset) ?? (await records.reread(offset));
      if (r === END_OF_DATA) break;
      if (!r.ok) {
        failed = r;
        break;
      }
      got.push(r.payload.slice());
      offset = r.next;
    }
  } finally {
    records.close();
  }
  return { got, offset, failed, reread: records.bytes !== undefined };
}

describe('SegmentRecords', () => {
  const sent = payloads(400);

  it('reads every record through windows smaller and larger than them, up to the zeros after them', async () => {
    const path = segmentFile('zeros.wal', sent, new Uint8Array(100_000));
    for (const size of [17, 64, 1000, 4096, 1 << 22]) {
      const r = await readAll(path, new Uint8Array(size));
      expect(r.failed).toBeUndefined();
      expect(r.reread).toBe(false);
      expect(r.got).toEqual(sent);
    }
  });

  it('reads a file that ends at a record boundary, without zeros', async () => {
    const r = await readAll(segmentFile('exact.wal', sent, new Uint8Array(0)), new Uint8Array(100));
    expect(r).toMatchObject({ failed: undefined, reread: false });
    expect(r.got).toEqual(sent);
  });

  it('reads the file whole from a damaged record on, which then reads as damaged', async () => {
    const path = segmentFile('damaged.wal', sent, new Uint8Array(50));
    const bytes = new Uint8Array(await nodeFs.readFile(path));
    const good = sent.slice(0, 200).reduce((n, p) => n + 16 + p.length, 0);
    bytes[good + 16] ^= 1; // the 201st record's first payload byte
    writeFileSync(path, bytes);
    const r = await readAll(path, new Uint8Array(256));
    expect(r.reread).toBe(true);
    expect(r.got).toEqual(sent.slice(0, 200));
    expect(r.offset).toBe(good);
    expect(r.failed).toEqual({ ok: false, reason: PAYLOAD_CRC_MISMATCH });
  });

  it('reads the file whole when bytes follow the zeros, or when the last record is cut short', async () => {
    const garbage = new Uint8Array(5000);
    garbage[4000] = 9;
    const afterZeros = await readAll(segmentFile('garbage.wal', sent, garbage), new Uint8Array(1024));
    expect(afterZeros).toMatchObject({ reread: true, failed: { ok: false, reason: 'header CRC mismatch' } });
    expect(afterZeros.got).toEqual(sent);

    const path = segmentFile('cut.wal', sent, new Uint8Array(0));
    const bytes = await nodeFs.readFile(path);
    writeFileSync(path, bytes.subarray(0, bytes.length - 3));
    const cut = await readAll(path, new Uint8Array(1024));
    expect(cut.reread).toBe(true);
    expect(cut.got).toEqual(sent.slice(0, -1));
    expect(cut.failed?.ok).toBe(false);
  });
});
