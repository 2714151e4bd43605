// What only the leader does on its ticks, each through Raft like any write: revoke expired leases and checkpoint
// remaining TTLs (etcd's lessor loops), auto-compaction (etcd's compactor), and the periodic corruption check
// (alarms.ts: the leader proposes its HashKV; every member compares its own when applying it).

import type { Logger } from '../env.ts';
import { type AutoCompactionConfig, AutoCompactor } from './auto-compaction.ts';
import type { Operation } from './ops.ts';
import type { ServerStateMachine } from './state-machine.ts';

export interface LeaderDutiesConfig {
  readonly leaseCheckpointIntervalMs: number;
  readonly autoCompaction?: AutoCompactionConfig;
  readonly corruptCheckIntervalMs?: number;
}

export class LeaderDuties {
  private readonly config: LeaderDutiesConfig;
  private readonly propose: (op: Operation) => void;
  private readonly logger: Logger;
  private readonly compactor?: AutoCompactor;
  private lastHashCheck: number;

  /** `propose` submits an internal operation (its failure is only logged). */
  constructor(config: LeaderDutiesConfig, now: number, propose: (op: Operation) => void, logger: Logger) {
    this.config = config;
    this.propose = propose;
    this.logger = logger;
    this.lastHashCheck = now;
    if (config.autoCompaction) this.compactor = new AutoCompactor(config.autoCompaction);
  }

  /** One leader tick's duties, in etcd's order: leases, compaction, the corruption check. */
  run(now: number, sm: ServerStateMachine): void {
    this.leases(now, sm);
    this.compaction(now, sm);
    this.corruption(now, sm);
  }

  /** Leadership is lost: compaction starts counting afresh under the next leader. */
  demoted(): void {
    this.compactor?.reset();
  }

  // Leases: the leader revokes expired leases and checkpoints remaining TTLs, through Raft.
  private leases(now: number, sm: ServerStateMachine): void {
    const lessor = sm.lessor;
    for (const id of lessor.expired(now, 500))
      this.propose({ type: 'leaseRevoke', id, unlessRenewedAfter: sm.appliedIndex });
    const checkpoints = lessor.dueCheckpoints(now, this.config.leaseCheckpointIntervalMs, 1000);
    if (checkpoints.length > 0) this.propose({ type: 'leaseCheckpoint', checkpoints });
  }

  private compaction(now: number, sm: ServerStateMachine): void {
    const mvcc = sm.mvcc;
    const target = this.compactor?.due(now, mvcc.revision, mvcc.compactRevision);
    if (target !== undefined) {
      this.logger.info('auto compaction', { revision: target });
      this.propose({ type: 'compact', request: { revision: target } });
    }
  }

  /**
   * The corruption check (alarms.ts): the leader proposes its HashKV at its current revision; every member
   * compares its own when applying it and raises CORRUPT for itself on a mismatch.
   */
  private corruption(now: number, sm: ServerStateMachine): void {
    const every = this.config.corruptCheckIntervalMs;
    if (!every || now - this.lastHashCheck < every) return;
    this.lastHashCheck = now;
    const r = sm.mvcc.hashKV(0);
    this.propose({ type: 'hashCheck', revision: r.header.revision, hash: r.hash });
  }
}
