// What a member reports for etcd's Prometheus series that only the host loop can see: peer round trips, late
// heartbeats, how long applying committed entries takes. The runtime turns the reports into its metrics library's
// series (Node: prom-client, adapters/runtime/node/metrics.ts); the core stays free of any such library.
//
// - Round trip (etcd_network_peer_round_trip_time_seconds{To}): etcd measures it with a prober on the peer
//   port; here it is the time from a leader's heartbeat to a peer until that peer's answer, one measurement in
//   flight per peer (a heartbeat answered late does not start a second clock).
// - Late heartbeats (etcd_server_heartbeat_send_failures_total): as etcd's timeout detector, a leader heartbeat
//   to a peer that goes out more than two heartbeat intervals after the previous one means this member was too
//   busy (often a slow disk) to keep its followers' election timers reset; it is counted and logged.
// - Applies (etcd_disk_backend_commit_duration_seconds, etcd_server_slow_apply_total): etcd's backend commit
//   writes applied changes to bbolt; edgecd's backend is the in-memory MVCC store (made durable by the WAL and
//   snapshots), so its "commit" is applying one batch of committed entries. An entry whose apply takes over
//   100 ms (etcd's warnApplyDuration) is a slow apply.

import type { Logger } from '../env.ts';
import type { Message, NodeId } from '../raft/types.ts';

export interface MemberMetrics {
  /** A monotonic clock in milliseconds with sub-millisecond resolution where the runtime has one. */
  now(): number;
  peerRoundTrip(peer: NodeId, seconds: number): void;
  heartbeatSendFailure(): void;
  /** One batch of committed entries applied, in `seconds`; `slow` of them took over 100 ms each. */
  applied(seconds: number, slow: number): void;
}

/** etcd's warnApplyDuration. */
export const SLOW_APPLY_MS = 100;

/** Watches a leader's heartbeats going out and their answers coming in (round trips, late heartbeats). */
export class HeartbeatMonitor {
  private readonly lastSent = new Map<NodeId, number>();
  private readonly inFlight = new Map<NodeId, number>();
  /** The term of the heartbeats seen last: a new term (leading again) starts the detector afresh, as etcd's. */
  private term = -1;

  private readonly metrics: MemberMetrics;
  private readonly heartbeatMs: number;
  private readonly logger: Logger;

  constructor(metrics: MemberMetrics, heartbeatMs: number, logger: Logger) {
    this.metrics = metrics;
    this.heartbeatMs = heartbeatMs;
    this.logger = logger;
  }

  sent(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type !== 'MsgHeartbeat') continue;
      if (m.term !== this.term) this.reset(m.term);
      const now = this.metrics.now();
      const last = this.lastSent.get(m.to);
      this.lastSent.set(m.to, now);
      if (!this.inFlight.has(m.to)) this.inFlight.set(m.to, now);
      if (last !== undefined && now - last > 2 * this.heartbeatMs) {
        // etcd's raft loop: "leader failed to send out heartbeat on time; took too long, leader is overloaded
        // likely from slow disk".
        this.metrics.heartbeatSendFailure();
        this.logger.warn(
          'leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk',
          {
            to: m.to.toString(16),
            'heartbeat-interval': `${this.heartbeatMs}ms`,
            'expected-duration': `${2 * this.heartbeatMs}ms`,
            'exceeded-duration': `${Math.round(now - last - 2 * this.heartbeatMs)}ms`,
          },
        );
      }
    }
  }

  received(message: Message): void {
    if (message.type !== 'MsgHeartbeatResp') return;
    const start = this.inFlight.get(message.from);
    if (start === undefined) return;
    this.inFlight.delete(message.from);
    this.metrics.peerRoundTrip(message.from, (this.metrics.now() - start) / 1000);
  }

  private reset(term: number): void {
    this.term = term;
    this.lastSent.clear();
    this.inFlight.clear();
  }
}

/** Times the applies of one batch of committed entries; without metrics every call is a no-op. */
export class ApplyTimer {
  private start = 0;
  private slow = 0;
  private count = 0;

  private readonly metrics: MemberMetrics | undefined;

  constructor(metrics: MemberMetrics | undefined) {
    this.metrics = metrics;
  }

  begin(): void {
    if (!this.metrics) return;
    this.start = this.metrics.now();
    this.slow = 0;
    this.count = 0;
  }

  /** A timestamp to pass to `entryDone` once the entry is applied. */
  now(): number {
    return this.metrics ? this.metrics.now() : 0;
  }

  entryDone(startedAt: number): void {
    if (!this.metrics) return;
    this.count++;
    if (this.metrics.now() - startedAt > SLOW_APPLY_MS) this.slow++;
  }

  end(): void {
    if (!this.metrics || this.count === 0) return;
    this.metrics.applied((this.metrics.now() - this.start) / 1000, this.slow);
  }
}
