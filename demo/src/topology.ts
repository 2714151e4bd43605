// The live cluster's network as the visitor shapes it: partition groups (drag a member onto another, or into
// empty space), and per-link states cycled by clicking a link (ok → cut → slow → ok). Every change is applied to
// the FaultModel from scratch (the one the memory transport and the simulator use) and logged only when the
// partition really changed.

import type { FaultModel } from '../../src/sim/fault-model.ts';
import { log } from './timeline.ts';

export type LinkState = 'ok' | 'cut' | 'slow';

/** What the topology needs of a member: its ID and its partition group (0: the main group). */
export interface Grouped {
  readonly id: number;
  group: number;
}

/** Extra delay of a slowed link, ms. */
export const SLOW_MS = 400;

export function linkKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}

export class Topology {
  private readonly links = new Map<string, LinkState>();
  private readonly faults: FaultModel;
  private readonly members: () => Iterable<Grouped>;
  private readonly changed: () => void;

  /** `changed` runs after every change (redraw links and members). */
  constructor(faults: FaultModel, members: () => Iterable<Grouped>, changed: () => void) {
    this.faults = faults;
    this.members = members;
    this.changed = changed;
  }

  linkState(a: number, b: number): LinkState {
    return this.links.get(linkKey(a, b)) ?? 'ok';
  }

  isAlone(m: Grouped): boolean {
    return m.group !== 0 && [...this.members()].every((o) => o === m || o.group !== m.group);
  }

  freeGroup(): number {
    for (let g = 1; g < 3; g++) if ([...this.members()].every((o) => o.group !== g)) return g;
    return 2;
  }

  joinGroup(m: Grouped, group: number): void {
    const before = this.describeGroups();
    m.group = group;
    this.apply();
    const groups = this.describeGroups();
    // Only what changed: dropping a member where it already was is no event.
    if (groups !== before) log('fault', groups ? `partition ${groups}` : 'partition healed');
  }

  cycleLink(a: number, b: number): void {
    const key = linkKey(a, b);
    const next: LinkState = { ok: 'cut', cut: 'slow', slow: 'ok' }[this.links.get(key) ?? 'ok'] as LinkState;
    if (next === 'ok') this.links.delete(key);
    else this.links.set(key, next);
    this.apply();
    log(
      'fault',
      next === 'cut'
        ? `link n${a}–n${b} cut`
        : next === 'slow'
          ? `link n${a}–n${b} slowed by ${SLOW_MS} ms`
          : `link n${a}–n${b} restored`,
    );
  }

  healAll(): void {
    this.links.clear();
    for (const m of this.members()) m.group = 0;
    this.apply();
    log('fault', 'network healed: no partitions, cuts or slow links');
  }

  private describeGroups(): string | undefined {
    const byGroup = new Map<number, number[]>();
    for (const m of this.members()) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m.id]);
    if (byGroup.size < 2) return undefined;
    return [...byGroup.values()].map((ids) => `{${ids.map((i) => `n${i}`).join(',')}}`).join(' | ');
  }

  private apply(): void {
    const f = this.faults;
    f.heal();
    const byGroup = new Map<number, bigint[]>();
    for (const m of this.members()) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), BigInt(m.id)]);
    if (byGroup.size > 1) f.partition([...byGroup.values()]);
    for (const [key, state] of this.links) {
      const [a, b] = key.split('-').map((x) => BigInt(x));
      if (state === 'cut') {
        f.cut(a, b);
        f.cut(b, a);
      } else if (state === 'slow') {
        f.slowLink(a, b, SLOW_MS);
        f.slowLink(b, a, SLOW_MS);
      }
    }
    this.changed();
  }
}
