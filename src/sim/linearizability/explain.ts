// Turns a failed search into something a person can act on: the longest linearizable prefix, with the state
// after each operation, and the operations that could have come next but were refused.

import { sortedEvents } from './entries.ts';
import type { Model, Operation } from './types.ts';

/** How many prefix lines to print; the end of the prefix, next to the failure, matters most. */
const MAX_PREFIX_LINES = 40;
const MAX_UNPLACED_LINES = 20;

export interface Failure<I, O> {
  readonly label: string;
  readonly operations: readonly Operation<I, O>[];
  /** Ids (indexes into `operations`) of the longest linearizable prefix. */
  readonly longest: readonly number[];
  /** Position of each operation in the caller's history, for cross-referencing. */
  readonly historyIndex: (op: Operation<I, O>) => number;
}

export function explainIllegal<S, I, O>(model: Model<S, I, O>, failure: Failure<I, O>): string {
  const { operations, longest, historyIndex } = failure;
  const describeOp = (op: Operation<I, O>): string =>
    `#${historyIndex(op)} client ${op.clientId} ${interval(op)} ${
      model.describeOperation ? model.describeOperation(op.input, op.output) : defaultDescribe(op)
    }`;
  const describeState = (s: S): string => (model.describeState ? model.describeState(s) : safeJson(s));

  const lines = [
    `${failure.label} is not linearizable (${operations.length} operations).`,
    `Longest linearizable prefix: ${longest.length} of ${operations.length} operations, in linearization order:`,
  ];
  let state = model.init();
  const first = Math.max(0, longest.length - MAX_PREFIX_LINES);
  if (first > 0) lines.push(`  … ${first} earlier operations`);
  longest.forEach((id, i) => {
    const op = operations[id];
    state = model.step(state, op.input, op.output).state;
    if (i >= first) lines.push(`  ${i + 1}. ${describeOp(op)}  => ${describeState(state)}`);
  });
  if (longest.length === 0) lines.push(`  (none; initial state ${describeState(state)})`);

  const placed = new Set(longest);
  const unplaced = operations
    .map((_, id) => id)
    .filter((id) => !placed.has(id))
    .sort((a, b) => operations[a].call - operations[b].call || a - b);
  const candidates = nextCandidates(operations, placed);
  lines.push(
    `Operations that could come next (called before the earliest pending return), none of which fits:`,
  );
  for (const id of candidates) {
    const op = operations[id];
    const verdict = model.step(state, op.input, op.output).ok
      ? 'allowed here, but every continuation fails'
      : `refused in state ${describeState(state)}`;
    lines.push(`  ${describeOp(op)}  — ${verdict}`);
  }
  lines.push(`Not placed: ${unplaced.length} operations, in call order:`);
  for (const id of unplaced.slice(0, MAX_UNPLACED_LINES)) lines.push(`  ${describeOp(operations[id])}`);
  if (unplaced.length > MAX_UNPLACED_LINES) lines.push(`  … ${unplaced.length - MAX_UNPLACED_LINES} more`);
  return lines.join('\n');
}

/** Unplaced operations whose call comes before the first return of any unplaced operation. */
function nextCandidates<I, O>(operations: readonly Operation<I, O>[], placed: ReadonlySet<number>): number[] {
  const candidates: number[] = [];
  for (const event of sortedEvents(operations)) {
    if (placed.has(event.id)) continue;
    if (event.kind === 'return') break;
    candidates.push(event.id);
  }
  return candidates;
}

function interval<I, O>(op: Operation<I, O>): string {
  return op.return === Infinity ? `[${op.call}, ∞)` : `[${op.call}, ${op.return}]`;
}

function defaultDescribe<I, O>(op: Operation<I, O>): string {
  return `${safeJson(op.input)} -> ${safeJson(op.output)}`;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
