// Exactly-once application of proposals. The transport contract allows duplicated messages, so a follower's
// forwarded proposal (MsgProp) can reach the leader twice and be appended twice; applying it twice would run
// one client request twice (the simulator found this: seed 249, a delete applied twice around a CAS). Every
// member therefore remembers, as replicated state, the recent request IDs it applied per proposer and skips
// repeats — the same decision everywhere, since it depends only on the log.

import { originKey, type RequestId } from './ops.ts';

/** Request IDs remembered per proposer incarnation. Duplicates arrive close together, so this is plenty. */
const WINDOW = 4096;
/** A proposer incarnation not heard from for this many applied entries is forgotten. */
const FORGET_AFTER = 200_000;

interface Origin {
  readonly seqs: Set<number>;
  /** The remembered seqs in a ring: oldest at `head` once full (no O(n) shift per request). */
  readonly ring: number[];
  head: number;
  lastIndex: number;
}

/** The remembered seqs, oldest first. */
function orderOf(o: Origin): number[] {
  return o.head === 0 ? [...o.ring] : [...o.ring.slice(o.head), ...o.ring.slice(0, o.head)];
}

export class RequestDedup {
  private readonly origins = new Map<string, Origin>();

  /** Records `id` as applied at `index`; returns false if it was applied before (skip it). */
  firstTime(id: RequestId, index: number): boolean {
    const key = originKey(id);
    let o = this.origins.get(key);
    if (!o) {
      o = { seqs: new Set(), ring: [], head: 0, lastIndex: index };
      this.origins.set(key, o);
    }
    if (o.seqs.has(id.seq)) return false;
    o.seqs.add(id.seq);
    if (o.ring.length < WINDOW) o.ring.push(id.seq);
    else {
      o.seqs.delete(o.ring[o.head]);
      o.ring[o.head] = id.seq;
      o.head = (o.head + 1) % o.ring.length;
    }
    o.lastIndex = index;
    if (index % 1024 === 0) this.forget(index);
    return true;
  }

  private forget(index: number): void {
    for (const [key, o] of this.origins) if (index - o.lastIndex > FORGET_AFTER) this.origins.delete(key);
  }

  toJSON(): [string, number, number[]][] {
    return [...this.origins]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, o]) => [k, o.lastIndex, orderOf(o)]);
  }

  static fromJSON(data: unknown): RequestDedup {
    const d = new RequestDedup();
    for (const [key, lastIndex, order] of (data ?? []) as [string, number, number[]][]) {
      const seqs = order.map(Number);
      d.origins.set(key, { seqs: new Set(seqs), ring: seqs, head: 0, lastIndex: Number(lastIndex) });
    }
    return d;
  }
}
