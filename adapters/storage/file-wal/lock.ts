// The data directory lock. etcd flocks its WAL, so the kernel releases the lock the moment the owner dies. Node
// has no flock; on Linux the same guarantee comes from a Unix socket in the abstract namespace, named after the
// directory's real path: binding it fails while a live process holds it, and the kernel frees it when that
// process exits (its descriptors close before it lingers as a zombie; no file is left behind, and a PID reused
// after a reboot means nothing). `<dir>/LOCK` still records the owner's PID, for the error message and for
// operators.
//
// Elsewhere (no abstract namespace) the LOCK file is the lock: a second open fails while the PID in it runs,
// and a lock whose process is gone is taken over. That fallback is advisory (a PID reused by an unrelated
// process makes a stale lock look live; the error names the PID and the file so an operator can remove it).

import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import net from 'node:net';
import type { Logger } from '../../../src/env.ts';
import { errorCode, type WalFs } from './fs.ts';

/** A held lock the kernel releases at process death; `release` frees it earlier. */
export interface KernelLock {
  release(): Promise<void>;
}

/** Takes the kernel lock for a directory: the lock, 'busy' (held by a live process), or undefined (unsupported). */
export type KernelLockFactory = (dir: string) => Promise<KernelLock | 'busy' | undefined>;

export interface LockOptions {
  readonly pid: number;
  readonly isProcessAlive: (pid: number) => boolean;
  readonly logger: Logger;
  /** The directory the lock guards, for the kernel lock. */
  readonly dir: string;
  /** Absent: the LOCK file alone is the lock (as on a platform without one, or in a simulated file system). */
  readonly kernelLock?: KernelLockFactory;
}

/**
 * Whether a process runs: `process.kill(pid, 0)` (ESRCH: no such process; EPERM: it lives but is not ours), and
 * on Linux a zombie (state Z in /proc/<pid>/stat: dead, not yet reaped) counts as gone.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return errorCode(error) !== 'ESRCH';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** Linux's abstract-namespace Unix socket as the kernel lock (see the file comment). */
export const abstractSocketLock: KernelLockFactory = async (dir) => {
  if (process.platform !== 'linux') return undefined;
  const real = realpathSync(dir);
  const name = `\0edgecd-data-dir-${createHash('sha256').update(real).digest('hex')}`;
  const server = net.createServer();
  const outcome = await new Promise<'bound' | 'busy' | Error>((resolve) => {
    server.once('error', (err) => resolve(errorCode(err) === 'EADDRINUSE' ? 'busy' : err));
    server.listen(name, () => resolve('bound'));
  });
  if (outcome === 'busy') return 'busy';
  if (outcome instanceof Error) return undefined; // e.g. a sandbox without Unix sockets: fall back
  server.unref(); // the lock must not keep the process alive
  return { release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

const ATTEMPTS = 20;

/** Takes the lock; returns the kernel lock to hand back to `releaseLock` (undefined with the file lock alone). */
export async function acquireLock(
  fs: WalFs,
  path: string,
  options: LockOptions,
): Promise<KernelLock | undefined> {
  const kernel = await options.kernelLock?.(options.dir);
  if (kernel === 'busy') {
    const owner = await readOwner(fs, path);
    throw lockedBy(owner ?? 'unknown', path);
  }
  if (kernel !== undefined) {
    // Ours by the kernel's word: whatever LOCK says is stale.
    const owner = await readOwner(fs, path);
    if (owner !== undefined && owner !== options.pid) {
      options.logger.warn('taking over a stale data directory lock', { file: path, pid: owner });
    }
    try {
      await writeOwner(fs, path, options.pid, 'w');
    } catch (error) {
      await kernel.release();
      throw error;
    }
    return kernel;
  }
  await acquireFileLock(fs, path, options);
  return undefined;
}

async function readOwner(fs: WalFs, path: string): Promise<number | undefined> {
  try {
    const text = new TextDecoder().decode(await fs.readFile(path)).trim();
    return /^\d+$/.test(text) ? Number(text) : undefined;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
}

async function writeOwner(fs: WalFs, path: string, pid: number, mode: 'w' | 'wx'): Promise<void> {
  const file = await fs.open(path, mode);
  try {
    await file.write(new TextEncoder().encode(`${pid}\n`), 0);
    await file.sync();
  } finally {
    await file.close();
  }
}

function lockedBy(owner: number | string, path: string): Error {
  return new Error(
    `data directory is locked by process ${owner} (${path}): another edgecd is using it; ` +
      'if that process is not edgecd, remove the lock file',
  );
}

/** The LOCK file as the lock (no kernel lock): created exclusively, taken over when its owner is gone. */
async function acquireFileLock(fs: WalFs, path: string, options: LockOptions): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      await writeOwner(fs, path, options.pid, 'wx');
      return;
    } catch (error) {
      if (errorCode(error) !== 'EEXIST') throw error;
    }
    let text: string;
    try {
      text = new TextDecoder().decode(await fs.readFile(path));
    } catch (error) {
      if (errorCode(error) === 'ENOENT') continue; // released meanwhile
      throw error;
    }
    const owner = /^\d+$/.test(text.trim()) ? Number(text.trim()) : undefined;
    if (owner === undefined && attempt < ATTEMPTS / 2) {
      // Possibly another process between creating and writing its lock: give it a moment.
      await new Promise((resolve) => setTimeout(resolve, 5));
      continue;
    }
    if (owner !== undefined && options.isProcessAlive(owner)) throw lockedBy(owner, path);
    options.logger.warn('taking over a stale data directory lock', { file: path, pid: owner ?? text });
    try {
      await fs.unlink(path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
  throw new Error(`could not acquire the data directory lock ${path}`);
}

export async function releaseLock(fs: WalFs, path: string, kernel: KernelLock | undefined): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  } finally {
    await kernel?.release();
  }
}
