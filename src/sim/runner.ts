// Runs ranges of seeds — each seed runs the Raft-level simulation and the whole-member simulation with client
// workloads — and summarizes what they did, so that a range cannot pass by doing nothing.

import { type KvSimOptions, type KvSimResult, type KvSimStats, runKvSimulation } from './kv-simulation.ts';
import { runSimulation, type SimOptions, type SimResult, type SimStats } from './simulation.ts';

export interface SeedResult {
  readonly seed: number;
  readonly ok: boolean;
  /** Absent when only the whole-member simulation ran (`kvOnly`). */
  readonly raft?: SimResult;
  readonly kv?: KvSimResult;
}

export interface RunOptions {
  readonly raft?: Partial<Omit<SimOptions, 'seed'>>;
  readonly kv?: Partial<Omit<KvSimOptions, 'seed'>>;
  /** Skip the whole-member simulation (Raft-only runs, e.g. of a buggy Raft build). */
  readonly raftOnly?: boolean;
  /** Skip the Raft-level simulation (`npm run sim -- --kv`). */
  readonly kvOnly?: boolean;
}

export function runSeed(seed: number, options: RunOptions = {}): SeedResult {
  const raft = options.kvOnly ? undefined : runSimulation({ ...options.raft, seed });
  const kv = options.raftOnly ? undefined : runKvSimulation({ ...options.kv, seed });
  return { seed, ok: (raft?.ok ?? true) && (kv?.ok ?? true), raft, kv };
}

export function runSeeds(
  lo: number,
  hi: number,
  options: RunOptions = {},
  onResult?: (r: SeedResult) => void,
): SeedResult[] {
  const results: SeedResult[] = [];
  for (let seed = lo; seed <= hi; seed++) {
    const r = runSeed(seed, options);
    onResult?.(r);
    results.push(r);
  }
  return results;
}

function sum<T extends object>(items: readonly T[]): T | undefined {
  if (items.length === 0) return undefined;
  const out = { ...items[0] } as Record<string, number>;
  for (const k of Object.keys(out)) out[k] = 0;
  for (const it of items) for (const k of Object.keys(out)) out[k] += (it as Record<string, number>)[k];
  return out as T;
}

export function raftTotals(results: readonly SeedResult[]): SimStats | undefined {
  return sum(results.flatMap((r) => (r.raft ? [r.raft.stats] : [])));
}

export function kvTotals(results: readonly SeedResult[]): KvSimStats | undefined {
  return sum(results.flatMap((r) => (r.kv ? [r.kv.stats] : [])));
}

export function formatSummary(results: readonly SeedResult[]): string {
  const t = raftTotals(results);
  const failed = results.filter((r) => !r.ok).length;
  let line = `seeds ${results.length} passed ${results.length - failed} failed ${failed}`;
  if (t) {
    line +=
      ` | raft: elections ${t.elections} crashes ${t.crashes} (lost unsynced data ${t.crashesLostData}) ` +
      `partitions ${t.partitions} snapshots created ${t.snapshotsCreated} installed ${t.snapshotsInstalled} ` +
      `(chunks ${t.snapshotChunks}) membership changes ${t.membershipChanges} leadership transfers ${t.transfers} ` +
      `proposals committed ${t.proposalsCommitted} read-index served ${t.readIndexServed} ` +
      `messages ${t.messagesSent} (dropped ${t.messagesDropped})`;
  }
  const k = kvTotals(results);
  if (k) {
    const ops = k.opsOk + k.opsFailed + k.opsIndeterminate;
    line +=
      ` | clients: ops ${ops} ok ${k.opsOk} (${((100 * k.opsOk) / Math.max(1, ops)).toFixed(0)}%) ` +
      `indeterminate ${k.opsIndeterminate} failed ${k.opsFailed} reads ${k.readsOk} cas won ${k.casSucceeded} ` +
      `linearizability steps ${k.linearizabilitySteps} watch events ${k.watchEvents} watchers verified ` +
      `${k.watchersChecked} lease keep-alives ${k.leaseKeepAlives} leases expired ${k.leasesExpired} ` +
      `crashes ${k.crashes} partitions ${k.partitions} elections ${k.elections} snapshots installed ${k.snapshotsInstalled}`;
  }
  return line;
}
