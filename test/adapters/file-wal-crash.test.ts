// Real processes, real kill -9: a child saves batches and prints each acknowledged index; the parent kills it
// with SIGKILL mid-stream, twice, then reopens the directory (taking over the dead child's lock) and checks that
// every acknowledged index is there. Power cuts are covered by file-wal-powercut.test.ts: kill -9 leaves the
// page cache intact, so this test proves the process-crash path and the lock, not fsync.

import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileWalStorage } from '../../adapters/storage/file-wal/index.ts';
import { RecordingLogger, tempDir } from './file-wal/helpers.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const CHILD = join(HERE, 'file-wal', 'crash-child.ts');
const ROOT = join(HERE, '..', '..');

interface Child {
  readonly process: ChildProcess;
  /** Lines printed so far. */
  readonly lines: string[];
  /** Resolves once the lines printed satisfy `done` (rejects after `timeoutMs`, or if the child exits first). */
  waitUntil(done: (lines: readonly string[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  /** Resolves with every line once the child has exited and its stdout is drained. */
  readonly closed: Promise<string[]>;
}

function startChild(dir: string, mode: 'write' | 'hold'): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, dir, mode], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buffered = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    buffered += chunk;
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    lines.push(...parts);
    for (const wake of waiters) wake();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited = false;
  const closed = new Promise<string[]>((resolve) =>
    child.on('close', () => {
      exited = true;
      for (const wake of waiters) wake();
      resolve(lines);
    }),
  );
  return {
    process: child,
    lines,
    closed,
    waitUntil(satisfied, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const finish = (error?: Error) => {
          clearTimeout(timer);
          waiters.delete(check);
          if (error) reject(error);
          else resolve();
        };
        const check = () => {
          if (satisfied(lines)) finish();
          else if (exited) finish(new Error(`child exited before ${what}; stderr: ${stderr}`));
        };
        const timer = setTimeout(
          () => finish(new Error(`timed out waiting for ${what}; stderr: ${stderr}`)),
          timeoutMs,
        );
        waiters.add(check);
        check();
      });
    },
  };
}

function acked(lines: readonly string[]): number[] {
  return lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)));
}

describe('file-wal real-process crash (SIGKILL)', () => {
  let tmp: { dir: string; remove(): Promise<void> };
  const children: ChildProcess[] = [];

  beforeEach(async () => {
    tmp = await tempDir();
  });

  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    await tmp.remove();
  });

  async function killAfterAcks(count: number): Promise<{ pid: number; acks: number[] }> {
    const child = startChild(tmp.dir, 'write');
    children.push(child.process);
    // Bounded: `count` acknowledgements or a timeout, then kill mid-stream (the child is still saving).
    await child.waitUntil((lines) => acked(lines).length >= count, `${count} acknowledgements`);
    child.process.kill('SIGKILL');
    const lines = await child.closed;
    expect(child.process.signalCode).toBe('SIGKILL');
    return { pid: child.process.pid ?? -1, acks: acked(lines) };
  }

  it('keeps every acknowledged save across two kill -9s, and takes over the stale lock', async () => {
    const first = await killAfterAcks(150);
    expect(first.acks.length).toBeGreaterThanOrEqual(150);
    const second = await killAfterAcks(80); // reopens the killed child's directory: stale lock taken over
    expect(second.acks.length).toBeGreaterThanOrEqual(80);
    expect(second.acks[0]).toBeGreaterThan(first.acks.at(-1)!);
    expect((await readFile(join(tmp.dir, 'LOCK'), 'utf8')).trim()).toBe(String(second.pid));

    const logger = new RecordingLogger();
    const storage = await FileWalStorage.open(tmp.dir, { logger });
    const loaded = await storage.load();
    await storage.close();
    expect(logger.warnings()).toContainEqual(
      expect.objectContaining({
        message: expect.stringMatching(/stale/),
        fields: expect.objectContaining({ pid: second.pid }),
      }),
    );
    const lastAck = second.acks.at(-1)!;
    // Everything acknowledged is there, contiguous from 1, with its data; perhaps more (a save that completed
    // but whose ack line was never printed).
    expect(loaded.entries.length).toBeGreaterThanOrEqual(lastAck);
    loaded.entries.forEach((e, i) => {
      if (e.index !== i + 1 || new TextDecoder().decode(e.data) !== `v${i + 1}`) {
        throw new Error(`entry ${i + 1} came back as ${e.index}`);
      }
    });
    expect(loaded.hardState.commit).toBeGreaterThanOrEqual(lastAck);
    expect(loaded.hardState.commit).toBeLessThanOrEqual(loaded.entries.length);
  }, 60_000);

  it("refuses to open a live process's directory", async () => {
    const child = startChild(tmp.dir, 'hold');
    children.push(child.process);
    await child.waitUntil((lines) => lines.some((l) => l.startsWith('ready ')), 'ready');
    await expect(FileWalStorage.open(tmp.dir)).rejects.toThrow(
      new RegExp(`locked by process ${child.process.pid} `),
    );
    child.process.kill('SIGKILL');
    await child.closed;
    const storage = await FileWalStorage.open(tmp.dir);
    await storage.load();
    await storage.close();
  }, 60_000);

  it('a holder killed with -9 frees the lock at once, while it is still an unreaped zombie', async () => {
    // The holder's parent is a `sleep` that never waits for it, so after kill -9 it stays a zombie (as a member
    // does for a while when PID 1 reaps slowly): a PID check would still see it running.
    const shell = spawn(
      'sh',
      [
        '-c',
        `"$0" --import tsx "$1" "$2" hold & echo "holder $!"; exec sleep 60`,
        process.execPath,
        CHILD,
        tmp.dir,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(shell);
    let out = '';
    shell.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const deadline = Date.now() + 20_000;
    while (!/^ready /m.test(out) || !/^holder \d+/m.test(out)) {
      if (Date.now() > deadline) throw new Error(`holder never ready: ${out}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const holder = Number(/^holder (\d+)/m.exec(out)?.[1]);
    await expect(FileWalStorage.open(tmp.dir)).rejects.toThrow(new RegExp(`locked by process ${holder} `));
    process.kill(holder, 'SIGKILL');
    const state = () => {
      const stat = readFileSync(`/proc/${holder}/stat`, 'latin1');
      return stat[stat.lastIndexOf(')') + 2];
    };
    // The kernel frees the lock once the dying process's last thread is gone, moments after the signal.
    let storage: FileWalStorage | undefined;
    while (storage === undefined) {
      storage = await FileWalStorage.open(tmp.dir).catch((e: Error) => {
        if (!/locked by process/.test(e.message) || Date.now() > deadline) throw e;
        return undefined;
      });
      if (storage === undefined) await new Promise((r) => setTimeout(r, 10));
    }
    await storage.load();
    expect(state()).toBe('Z'); // still unreaped: the lock did not wait for it
    await storage.close();
  }, 60_000);
});
