// The data directory lock: `<dir>/LOCK` holds the owner's PID. A second open fails while the owner lives; a
// lock whose process is gone (kill -9, power cut) is taken over, so a restart needs no manual cleanup.
//
// Limits: the check is advisory (it needs no flock, which Node lacks). Two processes racing to take over the
// same stale lock in the same few microseconds could both win; a PID reused by an unrelated process after a
// reboot makes a stale lock look live (the error names the PID and the file, so an operator can remove it).

import type { Logger } from '../../../src/env.ts';
import { errorCode, type WalFs } from './fs.ts';

export interface LockOptions {
  readonly pid: number;
  readonly isProcessAlive: (pid: number) => boolean;
  readonly logger: Logger;
}

/** `process.kill(pid, 0)`: ESRCH means no such process; EPERM means it lives but is not ours. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCode(error) !== 'ESRCH';
  }
}

const ATTEMPTS = 20;

export async function acquireLock(fs: WalFs, path: string, options: LockOptions): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    try {
      const file = await fs.open(path, 'wx');
      try {
        await file.write(new TextEncoder().encode(`${options.pid}\n`), 0);
        await file.sync();
      } finally {
        await file.close();
      }
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
    if (owner !== undefined && options.isProcessAlive(owner)) {
      throw new Error(
        `data directory is locked by process ${owner} (${path}): another edgecd is using it; ` +
          'if that process is not edgecd, remove the lock file',
      );
    }
    options.logger.warn('taking over a stale data directory lock', { file: path, pid: owner ?? text });
    try {
      await fs.unlink(path);
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
  throw new Error(`could not acquire the data directory lock ${path}`);
}

export async function releaseLock(fs: WalFs, path: string): Promise<void> {
  try {
    await fs.unlink(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
}
