// Lowe's refinement of Wing & Gong's search, as in Porcupine: walk the time-ordered list; linearize a call if
// the model accepts it and the (set, state) pair is new, lifting it out of the list; meeting a return means
// that operation had to be linearized by now, so undo the last choice and try the next candidate.

import { Bitset } from './bitset.ts';
import { idHash, SearchCache } from './cache.ts';
import { buildList, type Entry, lift, unlift } from './entries.ts';
import type { CheckResult, Model, Operation } from './types.ts';

export interface SearchOutcome {
  readonly result: CheckResult;
  readonly steps: number;
  /** Operation ids of the longest linearizable prefix seen, in order; the whole linearization if 'ok'. */
  readonly longest: readonly number[];
}

interface Frame<S> {
  readonly entry: Entry;
  /** The state before this entry's operation was applied. */
  readonly state: S;
}

/** One loop iteration (a step attempt or a backtrack) costs one unit of `budget`. */
export function searchPartition<S, I, O>(
  model: Model<S, I, O>,
  operations: readonly Operation<I, O>[],
  budget: number,
): SearchOutcome {
  const head = buildList(operations);
  const cache = new SearchCache(model);
  const linearized = Bitset.empty(operations.length);
  const stack: Frame<S>[] = [];
  let setHash = 0;
  let state = model.init();
  let longest: number[] = [];
  let steps = 0;
  let entry = head.next;

  const snapshot = (): void => {
    if (stack.length > longest.length) longest = stack.map((f) => f.entry.id);
  };

  while (entry !== null) {
    if (steps >= budget) {
      snapshot();
      return { result: 'unknown', steps, longest };
    }
    steps++;
    if (entry.kind === 'call') {
      const op = operations[entry.id];
      const next = model.step(state, op.input, op.output);
      if (next.ok) {
        const nextHash = (setHash ^ idHash(entry.id)) >>> 0;
        const nextSet = linearized.clone();
        nextSet.set(entry.id);
        if (cache.add(nextSet, nextHash, next.state)) {
          stack.push({ entry, state });
          state = next.state;
          linearized.set(entry.id);
          setHash = nextHash;
          lift(entry);
          entry = head.next;
          continue;
        }
      }
      entry = entry.next;
    } else {
      // A pending operation's return: nothing later can go first, so backtrack.
      snapshot();
      const top = stack.pop();
      if (!top) return { result: 'illegal', steps, longest };
      state = top.state;
      linearized.clear(top.entry.id);
      setHash = (setHash ^ idHash(top.entry.id)) >>> 0;
      unlift(top.entry);
      entry = top.entry.next;
    }
  }
  return { result: 'ok', steps, longest: stack.map((f) => f.entry.id) };
}
