// Runs ranges of seeds and summarizes what they did, so that a range cannot pass by doing nothing.

import { runSimulation, type SimOptions, type SimResult, type SimStats } from './simulation.ts';

export function runSeeds(
  lo: number,
  hi: number,
  options: Partial<Omit<SimOptions, 'seed'>>,
  onResult?: (r: SimResult) => void,
): SimResult[] {
  const results: SimResult[] = [];
  for (let seed = lo; seed <= hi; seed++) {
    const r = runSimulation({ ...options, seed });
    onResult?.(r);
    results.push(r);
  }
  return results;
}

export function totals(results: readonly SimResult[]): SimStats {
  const sum = { ...results[0].stats };
  for (const k of Object.keys(sum) as (keyof SimStats)[]) sum[k] = 0;
  for (const r of results) for (const k of Object.keys(sum) as (keyof SimStats)[]) sum[k] += r.stats[k];
  return sum;
}

export function formatSummary(results: readonly SimResult[]): string {
  const t = totals(results);
  const failed = results.filter((r) => !r.ok).length;
  return (
    `seeds ${results.length} passed ${results.length - failed} failed ${failed} | ` +
    `elections ${t.elections} crashes ${t.crashes} (lost unsynced data ${t.crashesLostData}) ` +
    `partitions ${t.partitions} snapshots created ${t.snapshotsCreated} installed ${t.snapshotsInstalled} ` +
    `(chunks ${t.snapshotChunks}) membership changes ${t.membershipChanges} leadership transfers ${t.transfers} ` +
    `proposals committed ${t.proposalsCommitted} read-index served ${t.readIndexServed} ` +
    `messages ${t.messagesSent} (dropped ${t.messagesDropped})`
  );
}
