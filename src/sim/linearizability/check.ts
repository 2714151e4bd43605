// Entry point: partition the history, search each partition within a shared step budget, and explain failures.

import { explainIllegal } from './explain.ts';
import { searchPartition } from './search.ts';
import type { CheckOptions, CheckReport, CheckResult, Model, Operation, PartitionReport } from './types.ts';

/** Enough for tens of thousands of well-behaved operations; pathological histories come back 'unknown'. */
export const DEFAULT_BUDGET = 10_000_000;

/**
 * Checks `history` against `model`. Deterministic: the same inputs give the same report, step count included.
 * 'illegal' if any partition is; otherwise 'unknown' if the budget ran out (a failure for callers); else 'ok'.
 */
export function checkOperations<S, I, O>(
  model: Model<S, I, O>,
  history: readonly Operation<I, O>[],
  options: CheckOptions = {},
): CheckReport<I, O> {
  const budget = options.budget ?? DEFAULT_BUDGET;
  const parts = model.partition ? model.partition(history) : [history.slice()];
  const indexOf = new Map(history.map((op, i) => [op, i] as const));
  const historyIndex = (op: Operation<I, O>): number => indexOf.get(op) ?? -1;

  const partitions: PartitionReport<I, O>[] = [];
  const failures: string[] = [];
  let steps = 0;
  parts.forEach((operations, i) => {
    const label = model.describePartition ? model.describePartition(operations) : `partition ${i}`;
    const outcome = searchPartition(model, operations, budget - steps);
    steps += outcome.steps;
    partitions.push({
      label,
      result: outcome.result,
      steps: outcome.steps,
      operations,
      longestPrefix: outcome.longest.map((id) => operations[id]),
    });
    if (outcome.result === 'illegal') {
      failures.push(explainIllegal(model, { label, operations, longest: outcome.longest, historyIndex }));
    }
  });

  const result: CheckResult =
    failures.length > 0 ? 'illegal' : partitions.some((p) => p.result === 'unknown') ? 'unknown' : 'ok';
  const report = { result, steps, partitions };
  if (result === 'illegal') {
    const more = failures.length > 1 ? `\n(${failures.length - 1} more partitions are not linearizable)` : '';
    return { ...report, explanation: failures[0] + more };
  }
  if (result === 'unknown') return { ...report, explanation: explainUnknown(budget, partitions) };
  return report;
}

function explainUnknown<I, O>(budget: number, partitions: readonly PartitionReport<I, O>[]): string {
  const unfinished = partitions.filter((p) => p.result === 'unknown');
  const names = unfinished.map((p) => p.label);
  const shown = names.length > 10 ? `${names.slice(0, 10).join(', ')}, …` : names.join(', ');
  return (
    `Search budget of ${budget} steps exhausted; ${unfinished.length} of ${partitions.length} partitions ` +
    `undecided (${shown}). Treat as a failure: raise the budget or shorten the history.`
  );
}
