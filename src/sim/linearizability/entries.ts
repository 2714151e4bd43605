// Calls and returns in time order, as the doubly linked list the search lifts operations out of.
//
// Tie rule: at equal timestamps calls sort before returns, so two operations that merely touch (one returns at
// t, the other is called at t) count as concurrent. Virtual time has millisecond granularity and many events
// share a millisecond, so ordering them would report violations that did not happen. Remaining ties go by
// operation index, which keeps the search order (and its step count) reproducible.

import type { Operation } from './types.ts';

export interface TimedEvent {
  readonly kind: 'call' | 'return';
  /** Index of the operation in its partition. */
  readonly id: number;
  readonly time: number;
}

export interface Entry extends TimedEvent {
  /** For a call, its return entry; null for returns. */
  match: Entry | null;
  prev: Entry | null;
  next: Entry | null;
}

export function sortedEvents<I, O>(operations: readonly Operation<I, O>[]): TimedEvent[] {
  const events: TimedEvent[] = [];
  operations.forEach((op, id) => {
    if (!Number.isFinite(op.call))
      throw new RangeError(`operation ${id}: call time ${op.call} is not finite`);
    if (!(op.return >= op.call))
      throw new RangeError(`operation ${id}: return ${op.return} < call ${op.call}`);
    events.push({ kind: 'call', id, time: op.call }, { kind: 'return', id, time: op.return });
  });
  return events.sort(
    (a, b) => a.time - b.time || (a.kind === b.kind ? a.id - b.id : a.kind === 'call' ? -1 : 1),
  );
}

/** A sentinel head followed by every event in time order. */
export function buildList<I, O>(operations: readonly Operation<I, O>[]): Entry {
  const head: Entry = { kind: 'call', id: -1, time: -Infinity, match: null, prev: null, next: null };
  const calls: Entry[] = [];
  const returns: Entry[] = [];
  let last = head;
  for (const event of sortedEvents(operations)) {
    const entry: Entry = { ...event, match: null, prev: last, next: null };
    last.next = entry;
    last = entry;
    (event.kind === 'call' ? calls : returns)[event.id] = entry;
  }
  for (const call of calls) call.match = returns[call.id];
  return head;
}

/** Remove a call and its return from the list (the operation has been linearized). */
export function lift(call: Entry): void {
  call.prev!.next = call.next;
  call.next!.prev = call.prev;
  const ret = call.match!;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

/** Undo `lift`: the removed entries still point at their old neighbours. */
export function unlift(call: Entry): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  call.next!.prev = call;
}
