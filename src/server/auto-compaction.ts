// etcd's --auto-compaction-mode / --auto-compaction-retention, decided by the leader and carried out through Raft
// (a compact proposal), so every member compacts at the same revision.
//
//   revision mode, retention N:  every `intervalMs` (etcd: 5 minutes), compact to (current revision − N).
//   periodic mode, retention D:  sample the revision every D/10 (at most every hour, as etcd 3.4); compact to the
//                                 revision that was current D ago.

export interface AutoCompactionConfig {
  readonly mode: 'periodic' | 'revision';
  /** Revisions to keep (revision mode) or milliseconds of history to keep (periodic mode). 0 = off. */
  readonly retention: number;
  /** Revision mode: how often to check (default 5 minutes). */
  readonly intervalMs?: number;
}

export class AutoCompactor {
  private nextAt = 0;
  private readonly samples: { at: number; revision: number }[] = [];

  private readonly config: AutoCompactionConfig;

  constructor(config: AutoCompactionConfig) {
    this.config = config;
  }

  get enabled(): boolean {
    return this.config.retention > 0;
  }

  /** Called on the leader each tick; returns a revision to compact to, if it is time. */
  due(now: number, revision: number, compacted: number): number | undefined {
    if (!this.enabled || now < this.nextAt) return undefined;
    if (this.config.mode === 'revision') {
      this.nextAt = now + (this.config.intervalMs ?? 5 * 60_000);
      const target = revision - this.config.retention;
      return target > compacted ? target : undefined;
    }
    const period = Math.min(Math.max(this.config.retention / 10, 1), 60 * 60_000);
    this.nextAt = now + period;
    this.samples.push({ at: now, revision });
    let target: number | undefined;
    while (this.samples.length > 0 && this.samples[0].at <= now - this.config.retention) {
      target = this.samples.shift()!.revision;
    }
    return target !== undefined && target > compacted ? target : undefined;
  }

  /** Leadership lost: a later leader starts its own sampling. */
  reset(): void {
    this.nextAt = 0;
    this.samples.length = 0;
  }
}

/** Parses etcd's flag values: revision mode takes a count; periodic mode a duration (`1h`, `30m`, `90s`) or bare hours. */
export function parseAutoCompaction(mode: string, retention: string): AutoCompactionConfig {
  if (mode !== 'periodic' && mode !== 'revision') throw new Error(`unknown auto-compaction-mode "${mode}"`);
  if (mode === 'revision') {
    const n = Number(retention);
    if (!Number.isInteger(n) || n < 0) throw new Error(`invalid auto-compaction-retention "${retention}"`);
    return { mode, retention: n };
  }
  const m = /^(\d+(?:\.\d+)?)(h|m|s|ms)?$/.exec(retention.trim());
  if (!m) throw new Error(`invalid auto-compaction-retention "${retention}"`);
  const unit = m[2] ?? 'h';
  const factor = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 }[unit] as number;
  return { mode, retention: Number(m[1]) * factor };
}
