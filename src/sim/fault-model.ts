// Decides the fate of each message between two nodes: dropped, delayed, duplicated, or cut off by a
// partition. Pure apart from its Random, so the in-memory transport and the deterministic simulator share one
// set of fault rules and a seed replays the same network, message for message.

import type { Random } from '../env.ts';
import type { NodeId } from '../raft/types.ts';

export interface FaultRates {
  /** Delivery delay range in ms, both ends included; each delivery draws its own delay, which reorders. */
  readonly minDelayMs: number;
  readonly maxDelayMs: number;
  /** Probability in [0, 1] that a message is lost. */
  readonly dropRate: number;
  /** Probability in [0, 1] that a message that is not lost arrives twice. */
  readonly duplicateRate: number;
}

/** A perfect network: no delay, no loss, no duplicates. */
export const FAULT_FREE: FaultRates = { minDelayMs: 0, maxDelayMs: 0, dropRate: 0, duplicateRate: 0 };

/** How many values `plan` draws from the Random on every call, whatever the outcome. */
export const DRAWS_PER_PLAN = 4;

export class FaultModel {
  private readonly random: Random;
  private current: FaultRates = FAULT_FREE;
  /** Partition group of each named node; unnamed nodes share one implicit group. Null: no partition. */
  private groups: Map<NodeId, number> | null = null;
  private readonly isolated = new Set<NodeId>();
  /** One-way cuts and slow links, keyed by `linkKey(from, to)`. */
  private readonly cuts = new Set<string>();
  private readonly slow = new Map<string, number>();

  constructor(random: Random, rates: Partial<FaultRates> = {}) {
    this.random = random;
    this.setRates(rates);
  }

  get rates(): FaultRates {
    return this.current;
  }

  /** Changes some of the rates; the others keep their values. */
  setRates(rates: Partial<FaultRates>): void {
    const next = { ...this.current, ...rates };
    if (!(next.minDelayMs >= 0 && next.maxDelayMs >= next.minDelayMs)) {
      throw new RangeError(`bad delay range [${next.minDelayMs}, ${next.maxDelayMs}]`);
    }
    for (const rate of [next.dropRate, next.duplicateRate]) {
      if (!(rate >= 0 && rate <= 1)) throw new RangeError(`rate ${rate} is outside [0, 1]`);
    }
    this.current = next;
  }

  /**
   * Splits the network: nodes in different groups cannot talk. Nodes named in no group together form one more
   * group (so `partition([[a]])` cuts `a` off from everyone else). Replaces any earlier partition.
   */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const map = new Map<NodeId, number>();
    groups.forEach((group, i) => {
      for (const id of group) map.set(id, i);
    });
    this.groups = map;
  }

  /** Cuts `id` off from every other node, in both directions, until `heal`. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Loses every message from `from` to `to`; the other direction still works. */
  cut(from: NodeId, to: NodeId): void {
    this.cuts.add(linkKey(from, to));
  }

  /** Adds `ms` to every delivery from `from` to `to` (replacing an earlier value for that link). */
  slowLink(from: NodeId, to: NodeId, ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`bad extra delay ${ms}`);
    this.slow.set(linkKey(from, to), ms);
  }

  /** Removes partitions, isolations, cuts and slow links; the rates stay. */
  heal(): void {
    this.groups = null;
    this.isolated.clear();
    this.cuts.clear();
    this.slow.clear();
  }

  /** Whether partitions, isolations and cuts let a message from `from` reach `to` (rates aside). */
  canReach(from: NodeId, to: NodeId): boolean {
    if (from === to) return true;
    if (this.isolated.has(from) || this.isolated.has(to)) return false;
    if (this.cuts.has(linkKey(from, to))) return false;
    if (this.groups && this.groups.get(from) !== this.groups.get(to)) return false;
    return true;
  }

  /**
   * The delivery delays (ms) of one message from `from` to `to`: [] when it is lost, two when duplicated.
   * Always draws DRAWS_PER_PLAN values (loss, duplication, two delays), even for an unreachable link, so a
   * change of topology or rates does not shift the random sequence of later decisions.
   */
  plan(from: NodeId, to: NodeId): number[] {
    const lost = this.random.next() < this.current.dropRate;
    const duplicated = this.random.next() < this.current.duplicateRate;
    const first = this.delay(from, to, this.random.next());
    const second = this.delay(from, to, this.random.next());
    if (lost || !this.canReach(from, to)) return [];
    return duplicated ? [first, second] : [first];
  }

  private delay(from: NodeId, to: NodeId, draw: number): number {
    const { minDelayMs, maxDelayMs } = this.current;
    const jitter = Math.min(Math.floor(draw * (maxDelayMs - minDelayMs + 1)), maxDelayMs - minDelayMs);
    return minDelayMs + jitter + (this.slow.get(linkKey(from, to)) ?? 0);
  }
}

function linkKey(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}
