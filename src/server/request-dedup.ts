// Exactly-once application of proposals. The transport contract allows duplicated messages, so a follower's
// forwarded proposal (MsgProp) can reach the leader twice and be appended twice; applying it twice would run
// one client request twice (the simulator found this: seed 249, a delete applied twice around a CAS). Every
// member therefore remembers, as replicated state, the recent request IDs it applied per proposer and skips
// repeats — the same decision everywhere, since it depends only on the log.

import type { RequestId } from './ops.ts';

/** Request IDs remembered per proposer incarnation. Duplicates arrive close together, so this is plenty. */
const WINDOW = 4096;
/** A proposer incarnation not heard from for this many applied entries is forgotten. */
const FORGET_AFTER = 200_000;

interface Origin {
  readonly seqs: Set<number>;
  readonly order: number[];
  lastIndex: number;
}

export class RequestDedup {
  private readonly origins = new Map<string, Origin>();

  /** Records `id` as applied at `index`; returns false if it was applied before (skip it). */
  firstTime(id: RequestId, index: number): boolean {
    const key = `${id.member}:${id.nonce}`;
    let o = this.origins.get(key);
    if (!o) {
      o = { seqs: new Set(), order: [], lastIndex: index };
      this.origins.set(key, o);
    }
    if (o.seqs.has(id.seq)) return false;
    o.seqs.add(id.seq);
    o.order.push(id.seq);
    if (o.order.length > WINDOW) o.seqs.delete(o.order.shift()!);
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
      .map(([k, o]) => [k, o.lastIndex, o.order]);
  }

  static fromJSON(data: unknown): RequestDedup {
    const d = new RequestDedup();
    for (const [key, lastIndex, order] of (data ?? []) as [string, number, number[]][]) {
      d.origins.set(key, {
        seqs: new Set(order.map(Number)),
        order: order.map(Number),
        lastIndex: Number(lastIndex),
      });
    }
    return d;
  }
}
