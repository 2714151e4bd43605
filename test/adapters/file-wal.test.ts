import { spawnSync } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeSnapshot, encodeSnapshotPrefix } from '../../adapters/storage/file-wal/codec.ts';
import {
  CrashableFs,
  FileWalStorage,
  nodeFs,
  type OpenMode,
  type WalFile,
  type WalFs,
} from '../../adapters/storage/file-wal/index.ts';
import {
  frameRecord,
  HEADER_SIZE,
  RECORD_SNAPSHOT,
  recordHeader,
} from '../../adapters/storage/file-wal/record.ts';
import type { Snapshot } from '../../src/raft/types.ts';
import { entries, entry, runStorageConformance, snapshot } from '../conformance/storage.ts';
import { RecordingLogger, tempDir } from './file-wal/helpers.ts';

runStorageConformance('file-wal (real fs)', async () => {
  const tmp = await tempDir();
  return { open: () => FileWalStorage.open(tmp.dir), cleanup: () => tmp.remove() };
});

runStorageConformance('file-wal (CrashableFs)', async () => {
  const fs = new CrashableFs(7);
  return { open: () => FileWalStorage.open('/data', { fs }), cleanup: async () => {} };
});

// Every reopen follows a power cut that loses whatever was not made durable (torn writes included), and a
// small segment size makes segments roll and compaction delete them: what a resolved save wrote must survive.
runStorageConformance('file-wal (CrashableFs, power cut before every reopen)', async () => {
  const fs = new CrashableFs(11);
  let opened = false;
  return {
    open: async () => {
      if (opened) {
        fs.powerCut({ zeroFill: true });
        fs.restore();
      }
      opened = true;
      return FileWalStorage.open('/data', { fs, segmentSize: 4096, isProcessAlive: () => false });
    },
    cleanup: async () => {},
  };
});

describe('file-wal', () => {
  let tmp: { dir: string; remove(): Promise<void> };
  const opened: FileWalStorage[] = [];

  beforeEach(async () => {
    tmp = await tempDir();
  });

  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close().catch(() => {});
    await tmp.remove();
  });

  async function open(options: Parameters<typeof FileWalStorage.open>[1] = {}): Promise<FileWalStorage> {
    const storage = await FileWalStorage.open(tmp.dir, options);
    opened.push(storage);
    return storage;
  }

  it('lays out files as documented: LOCK, wal/<seq>-<first>.wal (zeros after its records), snap/<term>-<index>.snap', async () => {
    const storage = await open();
    await storage.load();
    expect((await readFile(join(tmp.dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1n, commit: 2 } });
    await storage.saveSnapshot(snapshot(2, 1));
    expect(await readdir(join(tmp.dir, 'wal'))).toEqual(['0000000000000001-0000000000000001.wal']);
    expect(await readdir(join(tmp.dir, 'snap'))).toEqual(['0000000000000001-0000000000000002.snap']);
    // The segment starts with a header record: length, type 1, three zero bytes, payload CRC, header CRC.
    const bytes = new Uint8Array(
      await readFile(join(tmp.dir, 'wal', '0000000000000001-0000000000000001.wal')),
    );
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const length = view.getUint32(0, true);
    expect(Array.from(bytes.subarray(4, 8))).toEqual([1, 0, 0, 0]);
    expect(view.getUint32(8, true)).toBe(crc32(bytes.subarray(16, 16 + length)));
    expect(view.getUint32(12, true)).toBe(crc32(bytes.subarray(0, 12)));
    // Then one batch record (type 2) for the one save, then zeros: the file is extended ahead of its records.
    const next = 16 + length;
    expect(bytes[next + 4]).toBe(2);
    const end = next + 16 + view.getUint32(next, true);
    expect(bytes.length).toBeGreaterThan(end);
    expect(bytes.subarray(end).every((b) => b === 0)).toBe(true);
    await storage.close();
    await expect(stat(join(tmp.dir, 'LOCK'))).rejects.toThrow();
  });

  it('CVE-2020-15113: creates the data directory 0700 and its files 0600 (etcd 3.4.10+)', async () => {
    const dir = join(tmp.dir, 'member');
    const storage = await FileWalStorage.open(dir);
    opened.push(storage);
    await storage.load();
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1n, commit: 2 } });
    await storage.saveSnapshot(snapshot(2, 1));
    const mode = async (path: string) => ((await stat(path)).mode & 0o777).toString(8);
    for (const d of [dir, join(dir, 'wal'), join(dir, 'snap')]) expect(await mode(d), d).toBe('700');
    const files = [
      join(dir, 'LOCK'),
      ...(await readdir(join(dir, 'wal'))).map((f) => join(dir, 'wal', f)),
      ...(await readdir(join(dir, 'snap'))).map((f) => join(dir, 'snap', f)),
    ];
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(await mode(f), f).toBe('600');
  });

  it('loads 100,000 entries saved in batches of 100, across rolled segments and after compaction', async () => {
    const storage = await open({ segmentSize: 128 * 1024 });
    await storage.load();
    const data = new Uint8Array(16).fill(7);
    for (let first = 1; first <= 100_000; first += 100) {
      const batch = [];
      for (let i = first; i < first + 100; i++) batch.push(entry(i, 1 + Math.floor(i / 30_000), data));
      await storage.save({ entries: batch, hardState: { term: 4, vote: 3n, commit: first - 1 } });
    }
    const segments = await readdir(join(tmp.dir, 'wal'));
    expect(segments.length).toBeGreaterThan(10);
    await storage.close();
    opened.length = 0;

    const reopened = await open({ segmentSize: 128 * 1024 });
    const loaded = await reopened.load();
    expect(loaded.entries.length).toBe(100_000);
    loaded.entries.forEach((e, i) => {
      if (e.index !== i + 1 || e.term !== 1 + Math.floor((i + 1) / 30_000) || e.data.length !== 16) {
        throw new Error(`entry ${i + 1} came back as ${e.index}/${e.term}`);
      }
    });
    expect(loaded.hardState).toEqual({ term: 4, vote: 3n, commit: 99_900 });
    await reopened.saveSnapshot(snapshot(50_000, 2));
    await reopened.compact(50_000);
    const left = await readdir(join(tmp.dir, 'wal'));
    expect(left.length).toBeLessThan(segments.length);
    expect(left.length).toBeGreaterThan(1);
    await reopened.close();
    opened.length = 0;

    const last = await open({ segmentSize: 128 * 1024 });
    const after = await last.load();
    expect(after.snapshot?.metadata.index).toBe(50_000);
    expect(after.entries.length).toBe(50_000);
    expect(after.entries[0].index).toBe(50_001);
    expect(after.entries.at(-1)?.index).toBe(100_000);
  });

  it('keeps only the newest snapshots', async () => {
    const storage = await open({ snapshotsToKeep: 2 });
    await storage.load();
    await storage.save({ entries: entries(1, 10, 1) });
    for (const i of [2, 4, 6, 8]) await storage.saveSnapshot(snapshot(i, 1));
    expect((await readdir(join(tmp.dir, 'snap'))).sort()).toEqual([
      '0000000000000001-0000000000000006.snap',
      '0000000000000001-0000000000000008.snap',
    ]);
  });

  it('commits concurrent saves as a group: one write and one fdatasync', async () => {
    const counting = new CountingFs(nodeFs);
    const storage = await open({ fs: counting });
    await storage.load();
    await storage.save({ entries: entries(1, 1, 1) });
    counting.datasyncs = 0;
    counting.writes = 0;
    const saves = [];
    for (let i = 2; i <= 11; i++) saves.push(storage.save({ entries: [entry(i, 1)] }));
    // One of them is refused (a gap); the others still commit.
    saves.push(storage.save({ entries: [entry(20, 1)] }).catch((e: Error) => e.message));
    saves.push(storage.save({ entries: [entry(12, 1)], hardState: { term: 1, vote: 0n, commit: 12 } }));
    const results = await Promise.all(saves);
    expect(results[10]).toMatch(/gap/);
    // Twelve saves, at most two records: the first may go alone (if the queue was idle), the rest share one.
    expect(counting.datasyncs).toBeLessThanOrEqual(2);
    expect(counting.writes).toBe(counting.datasyncs);
    await storage.close();
    opened.length = 0;
    const loaded = await (await open()).load();
    expect(loaded.entries.map((e) => e.index)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(loaded.hardState.commit).toBe(12);
  });

  it('keeps a commit-index-only batch (MustSync false) in memory; the next record carries it durably', async () => {
    const counting = new CountingFs(nodeFs);
    const storage = await open({ fs: counting });
    await storage.load();
    await storage.save({ entries: entries(1, 3, 1), hardState: { term: 1, vote: 1n, commit: 1 } });
    counting.datasyncs = 0;
    counting.writes = 0;
    await storage.save({ entries: [], hardState: { term: 1, vote: 1n, commit: 3 }, commitOnly: true });
    expect(counting.writes).toBe(0);
    expect(counting.datasyncs).toBe(0);
    await storage.save({ entries: [entry(4, 1)] });
    expect(counting.writes).toBe(1);
    expect(counting.datasyncs).toBe(1);
    await storage.close();
    opened.length = 0;
    const loaded = await (await open()).load();
    expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3, 4]);
    expect(loaded.hardState).toEqual({ term: 1, vote: 1n, commit: 3 });
  });

  it('a commit index kept in memory is durable once the next record is, and close writes it', async () => {
    const fs = new CrashableFs(3);
    const options = { fs, isProcessAlive: () => false };
    const storage = await FileWalStorage.open('/d', options);
    await storage.load();
    await storage.save({ entries: entries(1, 3, 2), hardState: { term: 2, vote: 1n, commit: 1 } });
    await storage.save({ entries: [], hardState: { term: 2, vote: 1n, commit: 3 }, commitOnly: true });
    await storage.save({ entries: [entry(4, 2)] });
    fs.powerCut({ zeroFill: false });
    fs.restore();
    const reopened = await FileWalStorage.open('/d', options);
    expect((await reopened.load()).hardState).toEqual({ term: 2, vote: 1n, commit: 3 });
    await reopened.save({ entries: [], hardState: { term: 2, vote: 1n, commit: 4 }, commitOnly: true });
    await reopened.close();
    fs.powerCut({ zeroFill: false });
    fs.restore();
    const closed = await FileWalStorage.open('/d', options);
    expect((await closed.load()).hardState).toEqual({ term: 2, vote: 1n, commit: 4 });
  });

  it('a power cut may lose an unsynced commit index, never a durable entry or the term and vote', async () => {
    for (let seed = 1; seed <= 20; seed++) {
      const fs = new CrashableFs(seed);
      const options = { fs, isProcessAlive: () => false };
      const storage = await FileWalStorage.open('/d', options);
      await storage.load();
      await storage.save({ entries: entries(1, 3, 2), hardState: { term: 2, vote: 1n, commit: 1 } });
      await storage.save({ entries: [], hardState: { term: 2, vote: 1n, commit: 3 }, commitOnly: true });
      fs.powerCut({ zeroFill: seed % 2 === 0 });
      fs.restore();
      const loaded = await (await FileWalStorage.open('/d', options)).load();
      expect(loaded.entries.map((e) => e.index)).toEqual([1, 2, 3]);
      expect(loaded.hardState.term).toBe(2);
      expect(loaded.hardState.vote).toBe(1n);
      expect([1, 3]).toContain(loaded.hardState.commit);
    }
  });

  it('writes a snapshot file beside the log: saves resolve while it is still being written', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The snapshot file's data write waits until released, as a large keyspace's file takes a while.
    const slowSnapshots: WalFs = {
      ...nodeFs,
      async open(path: string, mode: OpenMode): Promise<WalFile> {
        const file = await nodeFs.open(path, mode);
        if (!path.endsWith('.snap.tmp')) return file;
        return {
          write: async (data, position) => {
            await held;
            await file.write(data, position);
          },
          datasync: () => file.datasync(),
          sync: () => file.sync(),
          truncate: (length) => file.truncate(length),
          size: () => file.size(),
          close: () => file.close(),
        };
      },
    };
    const storage = await open({ fs: slowSnapshots });
    expect(storage.snapshotsBesideSaves).toBe(true);
    await storage.load();
    await storage.save({ entries: entries(1, 10, 1) });
    let snapshotSaved = false;
    const saving = storage.saveSnapshot(snapshot(5, 1)).then(() => {
      snapshotSaved = true;
    });
    await storage.save({ entries: entries(11, 20, 1) });
    await storage.save({ entries: entries(21, 30, 1) });
    expect(snapshotSaved).toBe(false);
    release();
    await saving;
    await storage.compact(5);
    await storage.close();
    const reopened = await open();
    const loaded = await reopened.load();
    expect(loaded.snapshot?.metadata.index).toBe(5);
    expect(loaded.entries.map((e) => e.index)).toEqual(Array.from({ length: 25 }, (_, i) => i + 6));
  });

  it('refuses every write after a failed fdatasync', async () => {
    const failing = new CountingFs(nodeFs);
    const storage = await open({ fs: failing });
    await storage.load();
    await storage.save({ entries: entries(1, 2, 1) });
    failing.failDatasync = true;
    await expect(storage.save({ entries: [entry(3, 1)] })).rejects.toThrow(/injected/);
    failing.failDatasync = false;
    await expect(storage.save({ entries: [entry(3, 1)] })).rejects.toThrow(/failed earlier/);
    await expect(storage.saveSnapshot(snapshot(1, 1))).rejects.toThrow(/failed earlier/);
    await storage.close();
    await expect(stat(join(tmp.dir, 'LOCK'))).rejects.toThrow();
  });

  it('refuses writes before load and after close', async () => {
    const storage = await open();
    await expect(storage.save({ entries: [entry(1, 1)] })).rejects.toThrow(/load/);
    await storage.load();
    await expect(storage.load()).rejects.toThrow(/once/);
    await storage.close();
    await expect(storage.save({ entries: [entry(1, 1)] })).rejects.toThrow(/closed/);
  });

  describe('lock', () => {
    it('refuses a second open of a directory in use, and allows it after close', async () => {
      const storage = await open();
      await expect(FileWalStorage.open(tmp.dir)).rejects.toThrow(
        new RegExp(`locked by process ${process.pid} \\(${join(tmp.dir, 'LOCK')}\\)`),
      );
      await storage.close();
      opened.length = 0;
      await open();
    });

    it('takes over a stale lock whose process is gone, and logs it', async () => {
      const dead = spawnSync(process.execPath, ['-e', '']).pid;
      expect(dead).toBeGreaterThan(0);
      await writeFile(join(tmp.dir, 'LOCK'), `${dead}\n`);
      const logger = new RecordingLogger();
      const storage = await open({ logger });
      await storage.load();
      expect(logger.warnings()).toEqual([
        expect.objectContaining({
          message: expect.stringMatching(/stale/),
          fields: expect.objectContaining({ pid: dead }),
        }),
      ]);
      expect((await readFile(join(tmp.dir, 'LOCK'), 'utf8')).trim()).toBe(String(process.pid));
    });

    it('takes over an empty lock file (a crash between creating and writing it)', async () => {
      await writeFile(join(tmp.dir, 'LOCK'), '');
      await (await open()).load();
    });
  });

  it('completes a received snapshot whose file survived a power cut but whose WAL marker did not', async () => {
    const fs = new CrashableFs(3);
    const logger = new RecordingLogger();
    const options = { fs, logger, isProcessAlive: () => false };
    const storage = await FileWalStorage.open('/d', options);
    await storage.load();
    await storage.save({ entries: entries(1, 8, 1), hardState: { term: 1, vote: 1n, commit: 5 } });
    // The snapshot file takes seven operations (open, two writes — its header, then its data —, sync, close,
    // rename, fsync dir); the eighth is the WAL write, which the power cut prevents.
    fs.cutPowerAt(7);
    await expect(storage.save({ snapshot: snapshot(20, 2), entries: [entry(21, 2)] })).rejects.toThrow(
      /power/,
    );
    fs.restore();
    const reopened = await FileWalStorage.open('/d', options);
    const loaded = await reopened.load();
    expect(loaded.snapshot?.metadata.index).toBe(20);
    expect(loaded.entries).toEqual([]);
    expect(loaded.hardState).toEqual({ term: 1, vote: 1n, commit: 5 });
    expect(logger.warnings().map((w) => w.message)).toContainEqual(
      expect.stringMatching(/interrupted snapshot/),
    );
    await reopened.save({ entries: [entry(21, 2)] });
    await reopened.close();
    const again = await (await FileWalStorage.open('/d', options)).load();
    expect(again.entries.map((e) => e.index)).toEqual([21]);
  });
});

/** Counts writes and syncs, and can fail fdatasync. */
class CountingFs implements WalFs {
  writes = 0;
  datasyncs = 0;
  failDatasync = false;
  constructor(private readonly inner: WalFs) {}
  async open(path: string, mode: OpenMode): Promise<WalFile> {
    const file = await this.inner.open(path, mode);
    return {
      write: (data, position) => {
        this.writes++;
        if (mode !== 'r+d') return file.write(data, position);
        // An O_DSYNC write is the write and its fdatasync in one call.
        this.datasyncs++;
        return this.failDatasync ? Promise.reject(new Error('injected EIO')) : file.write(data, position);
      },
      datasync: () => {
        this.datasyncs++;
        return this.failDatasync ? Promise.reject(new Error('injected EIO')) : file.datasync();
      },
      sync: () => file.sync(),
      truncate: (length) => file.truncate(length),
      size: () => file.size(),
      close: () => file.close(),
    };
  }
  readFile(path: string) {
    return this.inner.readFile(path);
  }
  readdir(path: string) {
    return this.inner.readdir(path);
  }
  mkdir(path: string) {
    return this.inner.mkdir(path);
  }
  rename(from: string, to: string) {
    return this.inner.rename(from, to);
  }
  unlink(path: string) {
    return this.inner.unlink(path);
  }
  fsyncDir(path: string) {
    return this.inner.fsyncDir(path);
  }
}

describe('snapshot files written in two pieces', () => {
  it('hold the same record as one framed encoding, for every msgpack bin size', async () => {
    for (const size of [0, 1, 255, 256, 65_535, 65_536, 70_000]) {
      const s: Snapshot = {
        metadata: { index: 7, term: 3, confState: { voters: [1n, 2n], learners: [3n] } },
        data: new Uint8Array(size).map((_, i) => i * 31),
      };
      const prefix = encodeSnapshotPrefix(s);
      const pieces = new Uint8Array(HEADER_SIZE + prefix.length + size);
      pieces.set(recordHeader(RECORD_SNAPSHOT, [prefix, s.data]), 0);
      pieces.set(prefix, HEADER_SIZE);
      pieces.set(s.data, HEADER_SIZE + prefix.length);
      expect(pieces, `data of ${size} bytes`).toEqual(frameRecord(RECORD_SNAPSHOT, encodeSnapshot(s)));
    }
  });
});
