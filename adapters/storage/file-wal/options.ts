// FileWalStorage's options (index.ts).

import type { Logger } from '../../../src/env.ts';
import type { WalFs } from './fs.ts';
import type { KernelLockFactory } from './lock.ts';

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

export interface FileWalOptions {
  /** The file layer; the real file system by default. */
  readonly fs?: WalFs;
  readonly logger?: Logger;
  /** A new segment is cut once the current one reaches this many bytes. Default 64 MiB. */
  readonly segmentSize?: number;
  /** Snapshot files kept (the newest ones). Default 3, at least 1. */
  readonly snapshotsToKeep?: number;
  /** Written to the lock file. Default: this process. */
  readonly pid?: number;
  /** Whether a lock file's owner still runs (used without a kernel lock). Default: `process.kill(pid, 0)`. */
  readonly isProcessAlive?: (pid: number) => boolean;
  /**
   * The kernel-released lock (lock.ts). Default: Linux's abstract-namespace socket when `fs` is the real file
   * system; none (the LOCK file alone) with another file layer.
   */
  readonly kernelLock?: KernelLockFactory | false;
  /** Offer a value spill in `dir` (LogStorage.valueSpill: value-spill.ts). Default: when `fs` is not given. */
  readonly valueSpill?: boolean;
}
