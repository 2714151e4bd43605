// The simulator's replicated state machine: it folds every applied entry into a running hash, so that two
// members that applied different entries at one index are caught (state-machine safety), also across
// snapshots. Its snapshot carries padding so that InstallSnapshot needs several chunks.

import { decode, encode } from '@msgpack/msgpack';
import type { Entry } from '../raft/types.ts';

export class SimStateMachine {
  applied = 0;
  hash = 0x811c9dc5;
  count = 0;

  apply(entry: Entry): void {
    if (entry.index !== this.applied + 1) {
      throw new Error(`sim: applying entry ${entry.index} after ${this.applied}`);
    }
    let h = this.hash ^ entry.index;
    h = Math.imul(h, 0x01000193);
    h ^= entry.term;
    h = Math.imul(h, 0x01000193);
    for (let i = 0; i < entry.data.length; i++) h = Math.imul(h ^ entry.data[i], 0x01000193);
    this.hash = h >>> 0;
    this.applied = entry.index;
    if (entry.type === 'normal' && entry.data.length > 0) this.count++;
  }

  serialize(padding: number): Uint8Array {
    return encode({
      applied: this.applied,
      hash: this.hash,
      count: this.count,
      pad: new Uint8Array(padding),
    });
  }

  static restore(data: Uint8Array): SimStateMachine {
    const d = decode(data) as { applied: number; hash: number; count: number };
    const sm = new SimStateMachine();
    sm.applied = d.applied;
    sm.hash = d.hash;
    sm.count = d.count;
    return sm;
  }
}
