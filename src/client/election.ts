// Leader election over an EdgeNode: concurrency.Election's recipe (src/concurrency/election.ts) on a Session's
// lease. A leadership is fenced like a lock: `election.token` (the leader key's create revision) works with
// `withFencing` from ./fencing.ts.
//
//   const election = new Election(session, 'svc/leader');
//   await election.campaign('host-a');                  // blocks until elected
//   await election.proclaim('host-a:v2');
//   for await (const kv of election.observe({ signal })) …
//   await election.resign();

import * as recipe from '../concurrency/election.ts';
import { toBytes } from '../concurrency/recipe.ts';
import { EtcdError, errors } from '../etcd/errors.ts';
import type { KeyValue } from '../etcd/types.ts';
import type { RequestOptions } from '../server/node.ts';
import type { FencingToken } from './fencing.ts';
import type { Session } from './session.ts';

export class Election {
  private readonly name: Uint8Array;
  private leadership: recipe.LeaderKey | undefined;

  readonly session: Session;

  constructor(session: Session, name: string | Uint8Array) {
    this.session = session;
    this.name = toBytes(name);
  }

  /**
   * Puts this session up as a candidate with `value` and waits until it is the leader. Aborting `opts.signal`
   * withdraws the candidacy and rejects with `context canceled`.
   */
  async campaign(value: string | Uint8Array, opts: RequestOptions = {}): Promise<recipe.LeaderKey> {
    if (!this.session.live) throw EtcdError.unknown('mutex: session is expired');
    const r = await recipe.campaign(
      this.session.node,
      { name: this.name, lease: this.session.lease, value: toBytes(value) },
      opts,
    );
    this.leadership = r.leader;
    return r.leader;
  }

  /** A new value for the leader key; `election: not leader` when this session is not (or no longer) leading. */
  async proclaim(value: string | Uint8Array, opts: RequestOptions = {}): Promise<void> {
    if (!this.leadership) throw errors.electionNotLeader();
    try {
      await recipe.proclaim(this.session.node, { leader: this.leadership, value: toBytes(value) }, opts);
    } catch (e) {
      if (EtcdError.is(e, 'ErrElectionNotLeader')) this.leadership = undefined;
      throw e;
    }
  }

  /** Gives up the leadership (no-op when not leading). */
  async resign(opts: RequestOptions = {}): Promise<void> {
    const leadership = this.leadership;
    if (!leadership) return;
    this.leadership = undefined;
    await recipe.resign(this.session.node, { leader: leadership }, opts);
  }

  /** The current leader's key-value; `election: no leader` when there is none. */
  async leader(opts: RequestOptions = {}): Promise<KeyValue> {
    return (await recipe.leader(this.session.node, { name: this.name }, opts)).kv;
  }

  /** The leader's key-value now and after every change, until `opts.signal` aborts or iteration stops. */
  async *observe(opts: RequestOptions = {}): AsyncGenerator<KeyValue> {
    for await (const r of recipe.observe(this.session.node, { name: this.name }, opts)) yield r.kv;
  }

  /** This session's leadership, undefined when not leading. */
  get leaderKey(): recipe.LeaderKey | undefined {
    return this.leadership;
  }

  /** The fencing token of this leadership (key + create revision). */
  get token(): FencingToken | undefined {
    const l = this.leadership;
    return l && { key: l.key, revision: l.rev };
  }
}
