/// <reference lib="dom" />
// What a guided scenario can do to the live cluster and learn from it: crash, restart and isolate members, heal,
// write and grant leases through a member's gateway, and wait — with a bound, and stoppable — until the members'
// reported state says something happened. Built on the page's narrow Cluster interface.

import type { Cluster, Member } from '../main.ts';
import type { MemberEvent, MemberState } from '../protocol.ts';
import { b64 } from '../ui.ts';

/** A member that is up and has reported its state. */
export type LiveMember = Member & { readonly state: MemberState };

export class Stopped extends Error {
  constructor() {
    super('the scenario was stopped');
  }
}

export interface GatewayReply {
  readonly status: number;
  readonly json: Record<string, unknown>;
}

export class Stage {
  private readonly cluster: Cluster;
  private stopped = false;
  /** Members' own events since the scenario began, in order. */
  readonly events: { readonly id: number; readonly event: MemberEvent }[] = [];
  private readonly unsubscribe: () => void;

  constructor(cluster: Cluster) {
    this.cluster = cluster;
    this.unsubscribe = cluster.onEvent((m, event) => this.events.push({ id: m.id, event }));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe();
  }

  get members(): Member[] {
    return [...this.cluster.members.values()];
  }

  live(): LiveMember[] {
    return this.members.filter((m): m is LiveMember => m.up && m.state !== undefined);
  }

  kill(m: Member): void {
    this.check();
    this.cluster.kill(m);
  }

  restart(m: Member): void {
    this.check();
    this.cluster.restart(m);
  }

  isolate(m: Member): void {
    this.check();
    this.cluster.isolate(m);
  }

  heal(): void {
    this.check();
    this.cluster.heal();
  }

  /** Every member up, the network whole, and one leader that the others follow. */
  async prepare(): Promise<LiveMember> {
    this.cluster.heal();
    for (const m of this.members) this.cluster.restart(m);
    return this.leader((l) => this.live().length === this.members.length && this.followed(l));
  }

  /** Waits for a member that leads (and passes `test`). */
  async leader(test: (l: LiveMember) => boolean = () => true): Promise<LiveMember> {
    let found: LiveMember | undefined;
    await this.until(() => {
      found = this.live().find((m) => m.state.role === 'leader' && test(m));
      return found !== undefined;
    }, 'a leader');
    return found!;
  }

  /** Every other live member follows `l` in its term. */
  followed(l: LiveMember): boolean {
    return this.live().every(
      (m) =>
        m === l || (m.state.leader === l.id && m.state.term === l.state.term && m.state.role === 'follower'),
    );
  }

  hasKey(m: Member, key: string): boolean {
    return m.state?.keys.some((k) => k.key === key) === true;
  }

  /**
   * Resolves once `test` holds (checked as the members report, and at least every 50 ms); rejects when the
   * scenario is stopped or after `clusterMs` of cluster time.
   */
  until(test: () => boolean, what: string, clusterMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const deadline = performance.now() + clusterMs / this.cluster.speed();
      const timer = setInterval(() => {
        try {
          this.check();
          if (test()) {
            clearInterval(timer);
            resolve();
          } else if (performance.now() > deadline) {
            clearInterval(timer);
            reject(new Error(`timed out waiting for ${what}`));
          }
        } catch (err) {
          clearInterval(timer);
          reject(err);
        }
      }, 50);
    });
  }

  /** A pause in cluster time, so that a viewer can read (and the cluster moves on meanwhile). */
  sleep(clusterMs: number): Promise<void> {
    return new Promise((resolve, reject) =>
      setTimeout(() => (this.stopped ? reject(new Stopped()) : resolve()), clusterMs / this.cluster.speed()),
    );
  }

  put(m: Member, key: string, value: string, lease?: string): Promise<GatewayReply> {
    return this.call(m, '/v3/kv/put', { key: b64(key), value: b64(value), ...(lease ? { lease } : {}) });
  }

  async leaseGrant(m: Member, ttl: number): Promise<string> {
    const r = await this.call(m, '/v3/lease/grant', { TTL: String(ttl), ID: '0' });
    if (r.status !== 200 || typeof r.json.ID !== 'string')
      throw new Error(`lease grant failed: HTTP ${r.status}`);
    return r.json.ID;
  }

  /** One request to a member's JSON gateway; a member that dies on the way answers with status 0. */
  call(m: Member, path: string, body: Record<string, unknown>): Promise<GatewayReply> {
    this.check();
    return new Promise((resolve) => {
      let status = 0;
      let text = '';
      this.cluster.http(m, path, JSON.stringify(body), {
        onHead: (s) => {
          status = s;
        },
        onChunk: (t) => {
          text += t;
        },
        onEnd: (error) => {
          let json: Record<string, unknown> = {};
          try {
            json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
          } catch {
            json = { text };
          }
          resolve({ status: error ? 0 : status, json: error ? { error } : json });
        },
      });
    });
  }

  private check(): void {
    if (this.stopped) throw new Stopped();
  }
}
