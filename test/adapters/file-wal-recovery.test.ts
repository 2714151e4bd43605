// Recovery test vectors. Each test writes a small WAL through the adapter, then damages the bytes on disk the
// way a crash (a torn tail) or a bad disk (anything else) would, and checks what `load` makes of it: a torn
// tail is truncated and logged, everything else is refused with the file and byte offset.

import { appendFile, readdir, readFile, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FileWalOptions, FileWalStorage } from '../../adapters/storage/file-wal/index.ts';
import { readRecord } from '../../adapters/storage/file-wal/record.ts';
import { entries, snapshot } from '../conformance/storage.ts';
import { RecordingLogger, tempDir } from './file-wal/helpers.ts';

interface RecordSpan {
  readonly offset: number;
  readonly end: number;
}

/** The records of a file, in order (the first is the segment header); zeros allocated ahead of them end it. */
async function records(path: string): Promise<RecordSpan[]> {
  const bytes = new Uint8Array(await readFile(path));
  const out: RecordSpan[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    if (bytes.subarray(offset).every((b) => b === 0)) break;
    const r = readRecord(bytes, offset);
    if (!r.ok) throw new Error(`unexpected bad record at ${offset}`);
    out.push({ offset, end: r.next });
    offset = r.next;
  }
  return out;
}

async function patch(path: string, offset: number, change: (byte: number) => number): Promise<void> {
  const bytes = new Uint8Array(await readFile(path));
  bytes[offset] = change(bytes[offset]);
  await writeFile(path, bytes);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function refusal(path: string, offset: number): RegExp {
  return new RegExp(`${escapeRegExp(path)} at byte offset ${offset}: .*refusing to load`);
}

describe('file-wal recovery vectors', () => {
  let tmp: { dir: string; remove(): Promise<void> };
  let logger: RecordingLogger;

  beforeEach(async () => {
    tmp = await tempDir();
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    await tmp.remove();
  });

  /** Three saves of three entries each (1-3, 4-6, 7-9), each with commit at its last entry. */
  async function writeLog(options: FileWalOptions = {}): Promise<string[]> {
    const storage = await FileWalStorage.open(tmp.dir, options);
    await storage.load();
    for (let k = 0; k < 3; k++) {
      await storage.save({
        entries: entries(3 * k + 1, 3 * k + 3, 1),
        hardState: { term: 1, vote: 1n, commit: 3 * k + 3 },
      });
    }
    await storage.close();
    const names = (await readdir(join(tmp.dir, 'wal'))).sort();
    return names.map((name) => join(tmp.dir, 'wal', name));
  }

  async function load(options: FileWalOptions = {}) {
    const storage = await FileWalStorage.open(tmp.dir, { logger, ...options });
    try {
      return await storage.load();
    } finally {
      await storage.close();
    }
  }

  async function expectTornTail(path: string, offset: number, lastIndex: number): Promise<void> {
    const loaded = await load();
    expect(loaded.entries.map((e) => e.index)).toEqual(Array.from({ length: lastIndex }, (_, i) => i + 1));
    expect(loaded.hardState.commit).toBe(lastIndex);
    expect(logger.warnings()).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/torn tail/),
        fields: expect.objectContaining({ file: path, offset }),
      }),
    ]);
    expect((await stat(path)).size).toBe(offset);
    // Loading again finds a clean log, and appending after the cut works.
    logger = new RecordingLogger();
    const storage = await FileWalStorage.open(tmp.dir, { logger });
    await storage.load();
    await storage.save({ entries: entries(lastIndex + 1, lastIndex + 1, 2) });
    await storage.close();
    expect((await load()).entries.length).toBe(lastIndex + 1);
    expect(logger.warnings()).toEqual([]);
  }

  describe('torn tail: truncated, logged, the good prefix loads', () => {
    it('a last record cut short in its payload', async () => {
      const [path] = await writeLog();
      const last = (await records(path)).at(-1)!;
      await truncate(path, last.end - 7);
      await expectTornTail(path, last.offset, 6);
    });

    it('a last record cut short in its header', async () => {
      const [path] = await writeLog();
      const last = (await records(path)).at(-1)!;
      await truncate(path, last.offset + 5);
      await expectTornTail(path, last.offset, 6);
    });

    it('a last record with a bad payload CRC', async () => {
      const [path] = await writeLog();
      const last = (await records(path)).at(-1)!;
      await patch(path, last.end - 1, (b) => b ^ 0x40);
      await expectTornTail(path, last.offset, 6);
    });

    it('a last record with a bad header (length field damaged)', async () => {
      const [path] = await writeLog();
      const last = (await records(path)).at(-1)!;
      await patch(path, last.offset + 1, (b) => b ^ 0x01);
      await expectTornTail(path, last.offset, 6);
    });

    it('a last record cut short, zeros allocated ahead after it', async () => {
      const [path] = await writeLog();
      const last = (await records(path)).at(-1)!;
      const bytes = new Uint8Array(await readFile(path));
      expect(bytes.length).toBeGreaterThan(last.end); // allocated ahead
      bytes.fill(0, last.end - 9);
      await writeFile(path, bytes);
      await expectTornTail(path, last.offset, 6);
    });

    it('garbage after the last record', async () => {
      const [path] = await writeLog();
      const size = (await records(path)).at(-1)!.end;
      await appendFile(
        path,
        Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff),
      );
      await expectTornTail(path, size, 9);
    });
  });

  describe('zeros after the last record: space allocated ahead of it (as etcd preallocates), the log ends there', () => {
    it('the segment is extended ahead of its records, and loads with nothing logged', async () => {
      const [path] = await writeLog();
      const end = (await records(path)).at(-1)!.end;
      expect((await stat(path)).size).toBeGreaterThan(end);
      const loaded = await load();
      expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(logger.warnings()).toEqual([]);
      // Appends go after the records, not after the zeros.
      const storage = await FileWalStorage.open(tmp.dir, { logger });
      await storage.load();
      await storage.save({ entries: entries(10, 10, 2) });
      await storage.close();
      expect((await records(path)).at(-1)!.offset).toBe(end);
      expect((await load()).entries.length).toBe(10);
    });

    it('a segment that is not the last is cut to its records when the next one is made', async () => {
      const paths = await writeLog({ segmentSize: 1 });
      for (const path of paths.slice(0, -1)) {
        expect((await stat(path)).size).toBe((await records(path)).at(-1)!.end);
      }
      const tail = paths.at(-1)!;
      expect((await stat(tail)).size).toBeGreaterThan((await records(tail)).at(-1)!.end);
    });

    it('a last record overwritten with zeros (no longer there, as etcd reads it)', async () => {
      const [path] = await writeLog();
      const last = (await records(path)).at(-1)!;
      const bytes = new Uint8Array(await readFile(path));
      bytes.fill(0, last.offset);
      await writeFile(path, bytes);
      expect((await load()).entries.map((e) => e.index)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(logger.warnings()).toEqual([]);
    });
  });

  describe('anything else: refused with the file and offset', () => {
    it('a CRC mismatch in a middle record', async () => {
      const [path] = await writeLog();
      const middle = (await records(path))[2];
      await patch(path, middle.end - 1, (b) => b ^ 0x01);
      await expect(load()).rejects.toThrow(refusal(path, middle.offset));
      await expect(load()).rejects.toThrow(/payload CRC mismatch, and a valid record follows/);
    });

    it('a bad header in a middle record', async () => {
      const [path] = await writeLog();
      const middle = (await records(path))[2];
      await patch(path, middle.offset, (b) => b ^ 0x10);
      await expect(load()).rejects.toThrow(refusal(path, middle.offset));
    });

    it('a bad last record in a segment that is not the last', async () => {
      const paths = await writeLog({ segmentSize: 1 }); // every save cuts a new segment first
      expect(paths.length).toBe(3);
      const last = (await records(paths[0])).at(-1)!;
      await patch(paths[0], last.end - 1, (b) => b ^ 0x01);
      await expect(load()).rejects.toThrow(refusal(paths[0], last.offset));
      await expect(load()).rejects.toThrow(/not the last segment/);
    });

    it('a torn tail in a segment that is not the last', async () => {
      const paths = await writeLog({ segmentSize: 1 });
      const last = (await records(paths[1])).at(-1)!;
      await truncate(paths[1], last.end - 3);
      await expect(load()).rejects.toThrow(refusal(paths[1], last.offset));
    });

    it('a gap in indexes (a record missing from the middle)', async () => {
      const [path] = await writeLog();
      const spans = await records(path);
      const bytes = new Uint8Array(await readFile(path));
      const without = new Uint8Array([
        ...bytes.subarray(0, spans[2].offset),
        ...bytes.subarray(spans[2].end),
      ]);
      await writeFile(path, without);
      await expect(load()).rejects.toThrow(refusal(path, spans[2].offset));
      await expect(load()).rejects.toThrow(/gap in the log: index 3 then 7/);
    });

    it('a missing segment', async () => {
      const paths = await writeLog({ segmentSize: 1 });
      await unlink(paths[1]);
      await expect(load()).rejects.toThrow(/segment\(s\) missing between/);
    });

    it('a damaged segment header', async () => {
      const [path] = await writeLog();
      await patch(path, 20, (b) => b ^ 0x01);
      await expect(load()).rejects.toThrow(refusal(path, 0));
    });

    it('a damaged newest snapshot file', async () => {
      const storage = await FileWalStorage.open(tmp.dir);
      await storage.load();
      await storage.save({ entries: entries(1, 5, 1) });
      await storage.saveSnapshot(snapshot(3, 1));
      await storage.close();
      const path = join(tmp.dir, 'snap', '0000000000000001-0000000000000003.snap');
      await patch(path, 30, (b) => b ^ 0x01);
      await expect(load()).rejects.toThrow(refusal(path, 0));
    });

    it('entries missing between the snapshot and the oldest segment', async () => {
      const paths = await writeLog({ segmentSize: 1 });
      await unlink(paths[0]); // seq 2 is now the oldest; no snapshot covers entries 1-3
      await expect(load()).rejects.toThrow(/entries 1 to 3 are missing/);
    });
  });

  it('clamps a hard state commit beyond the last durable entry, and says so', async () => {
    const storage = await FileWalStorage.open(tmp.dir);
    await storage.load();
    await storage.save({ entries: entries(1, 3, 1) });
    await storage.save({ entries: [], hardState: { term: 1, vote: 2n, commit: 5 } });
    await storage.close();
    const loaded = await load();
    expect(loaded.hardState).toEqual({ term: 1, vote: 2n, commit: 3 });
    expect(logger.warnings()).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/commit/),
        fields: { commit: 5, lastIndex: 3 },
      }),
    ]);
  });
});
