// The file WAL's write queue: one job at a time, in order. Consecutive saves are handed over together so that
// they share one record, one write and one sync (group commit); other jobs (snapshot files, compaction, close)
// run alone. After a failed write nothing is written again, except what closing must do.

import type { PersistBatch } from '../../../src/storage.ts';

export interface SaveJob {
  readonly kind: 'save';
  readonly batch: PersistBatch;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface TaskJob {
  readonly kind: 'task';
  readonly run: () => Promise<void>;
  /** Runs even after a failure (closing releases the lock whatever happened). */
  readonly always?: boolean;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

type Job = SaveJob | TaskJob;

/** What the queue asks of the storage it serves. */
export interface WriteQueueHost {
  /** Why a job may not be queued now (closed, not loaded, failed earlier), or undefined. */
  refusal(): Error | undefined;
  /** The failure that stopped writes, if any. */
  failure(): Error | undefined;
  /** A task failed: the storage stops writing. */
  fail(error: unknown): void;
  /** Writes consecutive saves as one record and settles every one of them. */
  writeGroup(jobs: SaveJob[]): Promise<void>;
}

/** The refusal of every write after `failure`. */
export function failedEarlier(failure: Error): Error {
  return new Error(`FileWalStorage failed earlier and refuses writes: ${failure.message}`);
}

export class WriteQueue {
  private readonly host: WriteQueueHost;
  private jobs: Job[] = [];
  private draining = false;

  constructor(host: WriteQueueHost) {
    this.host = host;
  }

  save(batch: PersistBatch): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'save', batch, resolve, reject }));
  }

  task(run: () => Promise<void>): Promise<void> {
    return new Promise((resolve, reject) => this.enqueue({ kind: 'task', run, resolve, reject }));
  }

  /** Queues `run` past any refusal, to run after everything queued even if a write failed: closing. */
  last(run: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.jobs.push({ kind: 'task', always: true, run, resolve, reject });
      if (!this.draining) void this.drain();
    });
  }

  private enqueue(job: Job): void {
    const refused = this.host.refusal();
    if (refused) {
      job.reject(refused);
      return;
    }
    this.jobs.push(job);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.jobs.length > 0) {
        const first = this.jobs[0];
        if (first.kind === 'save') {
          let n = 1;
          while (n < this.jobs.length && this.jobs[n].kind === 'save') n++;
          await this.host.writeGroup(this.jobs.splice(0, n) as SaveJob[]);
          continue;
        }
        this.jobs.shift();
        const failure = this.host.failure();
        if (failure && !first.always) {
          first.reject(failedEarlier(failure));
          continue;
        }
        try {
          await first.run();
          first.resolve();
        } catch (error) {
          if (!first.always) this.host.fail(error);
          first.reject(error);
        }
      }
    } finally {
      this.draining = false;
    }
  }
}
