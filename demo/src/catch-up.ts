// The timeline's "caught up" line: a member seen far behind the leader (restarted, cut off, fed a snapshot) that
// has applied what the leader committed. Page-side, from the members' reports: no member knows by itself that it
// has caught up, only the leader's commit index tells.

import type { MemberState } from './protocol.ts';
import { log } from './timeline.ts';

/** Entries a member must lack (past its last index) of the leader's commit before its catching up is an event. */
const CATCH_UP_LAG = 20;
/** Within this many entries of the leader's commit index a member has caught up (writes may be in flight). */
const CAUGHT_UP = 2;

export class CatchUp {
  /** Members seen far behind, with how many entries they lacked at most. */
  private readonly behind = new Map<number, number>();

  /** Looks at the members' latest reports (after each one arrives). */
  note(members: Iterable<{ readonly id: number; readonly up: boolean; readonly state?: MemberState }>): void {
    const all = [...members];
    const leader = all.find((m) => m.up && m.state?.role === 'leader')?.state;
    if (!leader) return;
    for (const m of all) {
      if (m.id === leader.id || !m.up || !m.state) continue;
      // What it lacks (a restarted member applies its own log again first: that is not lacking).
      const missing = leader.commit - m.state.lastIndex;
      if (missing > CATCH_UP_LAG) {
        this.behind.set(m.id, Math.max(missing, this.behind.get(m.id) ?? 0));
      } else if (leader.commit - m.state.applied <= CAUGHT_UP && this.behind.has(m.id)) {
        log(
          'log',
          `n${m.id} caught up: applied #${m.state.applied} of leader n${leader.id}'s #${leader.commit} (it lacked ${this.behind.get(m.id)} entries)`,
        );
        this.behind.delete(m.id);
      }
    }
  }
}
