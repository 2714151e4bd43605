// A lease kept alive for as long as its owner lives: clientv3/concurrency.Session over an EdgeNode. Locks and
// elections attach their keys to it, so a crashed owner's keys vanish when the lease expires.

import type { Clock, TimerHandle } from '../env.ts';
import type { EdgeNode, RequestOptions } from '../server/node.ts';

export interface SessionOptions {
  /** Drives the keep-alives (no global timers in portable code). */
  readonly clock: Clock;
  /** Lease TTL in seconds when granting one. Default 60, as etcd's sessions. */
  readonly ttl?: number;
  /** Use this existing lease instead of granting one (its TTL is then read from the server). */
  readonly lease?: bigint;
  /** Who the session's lease calls run as when auth is on (`token` or `commonName`; lease calls need a user). */
  readonly credentials?: Pick<RequestOptions, 'token' | 'commonName'>;
}

/**
 * A kept-alive lease. Keep-alives go out every TTL/3; the session is `expired` once the server reports the lease
 * gone (revoked, or expired while unreachable) or once a full TTL passed without a successful keep-alive.
 */
export class Session {
  private timer: TimerHandle | undefined;
  private state: 'live' | 'expired' | 'closed' = 'live';
  private lastRenewed: number;
  private readonly listeners = new Set<() => void>();
  private resolveDone!: () => void;
  /** Settles when the session ends: the lease expired or was revoked, or close()/orphan() was called. */
  readonly done: Promise<void>;

  readonly node: EdgeNode;
  readonly lease: bigint;
  /** The lease's granted TTL in seconds. */
  readonly ttl: number;
  private readonly clock: Clock;
  private readonly credentials: RequestOptions;

  private constructor(
    node: EdgeNode,
    lease: bigint,
    ttl: number,
    clock: Clock,
    credentials: RequestOptions = {},
  ) {
    this.node = node;
    this.lease = lease;
    this.ttl = ttl;
    this.clock = clock;
    this.credentials = credentials;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.lastRenewed = clock.now();
    this.schedule();
  }

  static async create(node: EdgeNode, options: SessionOptions): Promise<Session> {
    if (options.lease !== undefined && options.lease !== 0n) {
      const ttl = await node.leaseTimeToLive({ ID: options.lease }, options.credentials);
      if (ttl.TTL <= 0) throw new Error(`edgecd: lease ${options.lease.toString(16)} not found`);
      return new Session(node, options.lease, ttl.grantedTTL, options.clock, options.credentials);
    }
    const granted = await node.leaseGrant({ TTL: options.ttl ?? 60 }, options.credentials);
    return new Session(node, granted.ID, granted.TTL, options.clock, options.credentials);
  }

  /** True while the lease is believed alive. */
  get live(): boolean {
    return this.state === 'live';
  }

  get expired(): boolean {
    return this.state === 'expired';
  }

  /** Calls `listener` once when the lease is lost (not on close/orphan). Returns an unsubscribe function. */
  onExpired(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private schedule(): void {
    const every = Math.max(1, Math.floor((this.ttl * 1000) / 3));
    this.timer = this.clock.setTimer(every, () => void this.renew());
  }

  private async renew(): Promise<void> {
    if (this.state !== 'live') return;
    try {
      const r = await this.node.leaseKeepAliveOnce({ ID: this.lease }, this.credentials);
      if (this.state !== 'live') return;
      if (r.TTL <= 0) return this.expire();
      this.lastRenewed = this.clock.now();
    } catch {
      if (this.state !== 'live') return;
      if (this.clock.now() - this.lastRenewed >= this.ttl * 1000) return this.expire();
    }
    this.schedule();
  }

  private expire(): void {
    if (this.state !== 'live') return;
    this.state = 'expired';
    this.timer?.cancel();
    for (const l of [...this.listeners]) l();
    this.listeners.clear();
    this.resolveDone();
  }

  /** Stops the keep-alives and leaves the lease to expire on its own (concurrency.Session.Orphan). */
  orphan(): void {
    if (this.state !== 'live') return;
    this.state = 'closed';
    this.timer?.cancel();
    this.listeners.clear();
    this.resolveDone();
  }

  /** Stops the keep-alives and revokes the lease, deleting every key attached to it (locks, candidacies). */
  async close(): Promise<void> {
    const wasLive = this.state === 'live';
    this.orphan();
    if (wasLive) await this.node.leaseRevoke({ ID: this.lease }, this.credentials).catch(() => undefined);
  }
}
