// One write transaction (etcd storeTxnWrite): every change gets main revision beginRev + 1 and the next sub
// revision; reads inside the txn see its earlier changes. end() moves the store revision by exactly one if
// anything changed, and by nothing otherwise.

import type { Event } from '../etcd/kv.ts';
import { bytesToMapKey } from './bytes.ts';
import type { KeyRange } from './key-range.ts';
import type { KvState, RangeKeysOptions, RangeKeysResult, ReadView } from './kv-state.ts';
import { type KvRecord, kvRecord, toKeyValue, tombstoneRecord } from './record.ts';

export class WriteTxn implements ReadView {
  readonly beginRev: number;
  readonly firstRev: number;
  private readonly state: KvState;
  private readonly changes: Event[] = [];
  private ended = false;

  constructor(state: KvState) {
    this.state = state;
    this.beginRev = state.currentRev;
    this.firstRev = state.compactRev;
  }

  /** The revision this txn reads at: its own once it has written something. */
  get rev(): number {
    return this.changes.length > 0 ? this.beginRev + 1 : this.beginRev;
  }

  get changed(): boolean {
    return this.changes.length > 0;
  }

  rangeKeys(range: KeyRange, options?: RangeKeysOptions): RangeKeysResult {
    return this.state.rangeKeys(range, this.rev, options);
  }

  /** Writes key = value; returns the revision the response header carries. */
  put(key: Uint8Array, value: Uint8Array, lease: bigint): number {
    const { index, history, leaseKeys } = this.state;
    const main = this.beginRev + 1;
    const mapKey = bytesToMapKey(key);
    const last = index.latest(mapKey);
    const prevKv = last === undefined || last.tombstone ? undefined : last;
    // Read before anything changes: a value that cannot be read (SpillReadError) leaves the store as it was.
    const prevEvent = prevKv === undefined ? undefined : toKeyValue(prevKv);
    // The value is copied: the caller keeps its buffer, and the store's history must never change under it.
    const kv = kvRecord(
      last?.mapKey ?? mapKey, // the key's records share one string
      prevKv === undefined ? main : prevKv.createRevision,
      main,
      (prevKv?.version ?? 0) + 1,
      lease,
      this.changes.length,
    );
    this.state.values.keep(value, kv);
    history.append(kv);
    index.put(kv);
    if (prevKv !== undefined) leaseKeys.detach(prevKv.lease, kv.mapKey);
    leaseKeys.attach(lease, kv.mapKey);
    // The event carries the request's value, as etcd's does: reading it back from the store would lend its segment
    // (./value-store.ts), whose buffer then could not be reused once the segment is spilled.
    const event = toKeyValue(kv, value);
    this.changes.push(
      prevEvent === undefined ? { type: 'PUT', kv: event } : { type: 'PUT', kv: event, prevKv: prevEvent },
    );
    return main;
  }

  /** Deletes the live keys in range; returns how many and the revision the response header carries. */
  deleteRange(range: KeyRange): { deleted: number; revision: number } {
    const { index, history, leaseKeys } = this.state;
    const victims: KvRecord[] = [];
    index.visit(range, this.rev, (record) => {
      victims.push(record);
      return true;
    });
    const main = this.beginRev + 1;
    const prevEvents = victims.map((r) => toKeyValue(r)); // read before anything changes, as in put()
    for (const [i, prevKv] of victims.entries()) {
      const kv = tombstoneRecord(prevKv.mapKey, main, this.changes.length);
      history.append(kv);
      index.put(kv);
      leaseKeys.detach(prevKv.lease, prevKv.mapKey);
      this.changes.push({ type: 'DELETE', kv: toKeyValue(kv), prevKv: prevEvents[i] });
    }
    const revision = victims.length > 0 || this.changes.length > 0 ? main : this.beginRev;
    return { deleted: victims.length, revision };
  }

  /** Commits: the store revision becomes beginRev + 1 if anything changed. Returns the events, in order. */
  end(): readonly Event[] {
    if (this.ended) throw new Error('mvcc: write txn ended twice');
    this.ended = true;
    if (this.changes.length > 0) this.state.currentRev = this.beginRev + 1;
    return this.changes;
  }
}
