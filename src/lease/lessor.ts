// etcd's lessor (v3.4 lease/lessor.go), split into the two kinds of state it really has:
//
// 1. Replicated state — the set of leases, each with its granted TTL and its checkpointed remaining TTL. It is
//    changed only by the apply* methods, which the host calls while applying committed Raft entries, in log
//    order, identically on every member. Nothing clock-based or random reaches it (`now` arguments of apply*
//    only touch leader-local state), so every member holds the same leases and `snapshot()` gives the same bytes.
// 2. Leader-local state — each lease's expiry deadline (ms on the host's clock) and its checkpoint schedule. It
//    exists only between promote() and demote(), and is never snapshotted. The leader decides that a lease has
//    expired or needs a checkpoint; the host turns those decisions into Raft proposals.
//
// Host contract (what calls what, when):
// - Apply, on every member, in log order: LeaseGrant → applyGrant (the ID is chosen BEFORE proposing and carried
//   in the entry); LeaseRevoke → applyRevoke, then delete the returned keys in ONE MVCC revision; a checkpoint
//   entry → applyCheckpoint for each item; a lease-renew entry → applyRenew.
// - On becoming leader: promote(now, electionTimeoutMs), once every entry of earlier terms has applied (i.e.
//   after the leader's own first entry of its term has applied). On losing leadership: demote().
// - Leader, every tick: expired(now, limit) → propose a revoke for each ID; dueCheckpoints(now, interval, limit)
//   → propose one checkpoint entry with the list. Propose in the order handed out.
// - Leader, per keep-alive: renew(id, now) → 'renewed': answer TTL; 'checkpointReset': propose a lease-renew
//   entry and answer TTL when it has applied (no answer if it is lost; the client retries); 'expired' or
//   'notFound': answer TTL 0; 'notLeader': forward to the leader.
//
// Deadlines live in a binary heap with lazy deletion (an entry is valid while its generation matches its
// lease's), so keep-alives are O(log n) and 100,000 leases are cheap.
//
// Portable: no clock, no timers, no randomness; the host passes `now` (milliseconds) in.

import { decode, encode } from '@msgpack/msgpack';
import { EtcdError, errors } from '../etcd/errors.ts';
import { MinHeap } from './heap.ts';

/** Lease ID 0 means "no lease" (and is never a valid lease). */
export const NO_LEASE = 0n;
/** etcd's MaxLeaseTTL, seconds. */
export const MAX_LEASE_TTL = 9_000_000_000;
/** ceil(1.5 × the default 1 s election timeout), seconds. */
export const DEFAULT_MIN_LEASE_TTL = 2;
/** How often the leader checkpoints each lease's remaining TTL (etcd: 5 min, and off by default). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 5_000;
/** etcd's maxLeaseCheckpointBatchSize: checkpoints per proposal. */
export const MAX_CHECKPOINT_BATCH = 1_000;
/** etcd's leaseRevokeRate: expired leases revoked per second at most. */
export const LEASE_REVOKE_RATE = 1_000;
/** How long expired() waits before naming an unrevoked expired lease again (etcd 3.5: expiredLeaseRetryInterval). */
export const DEFAULT_EXPIRED_RETRY_MS = 3_000;

const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;
const SNAPSHOT_FORMAT_VERSION = 1;

/**
 * etcd's minimum lease TTL: ceil(((3 × electionTicks) / 2) × heartbeat) in seconds (integer division on the
 * ticks, as etcdserver computes it). Defaults (10 ticks, 100 ms) give 2 s.
 */
export function minLeaseTtl(electionTicks: number, heartbeatMs: number): number {
  return Math.ceil((Math.floor((3 * electionTicks) / 2) * heartbeatMs) / 1000);
}

/** A lease as every member knows it (replicated state). */
export interface Lease {
  readonly id: bigint;
  /** Granted TTL in seconds (after raising to the minimum). */
  readonly ttl: number;
  /** Last checkpointed remaining TTL in seconds; 0 = no checkpoint (the full TTL applies). */
  readonly remainingTtl: number;
}

export interface LessorOptions {
  /** Minimum TTL in seconds; smaller grants are raised to it. Must be the same on every member. Default 2. */
  readonly minTtl?: number;
  /** The live keys attached to a lease (MvccStore.keysForLease); applyRevoke returns them. */
  readonly keysForLease?: (id: bigint) => Uint8Array[];
  /** Milliseconds before expired() names a still-unrevoked lease again. Default 3000. */
  readonly expiredRetryMs?: number;
}

/** What a keep-alive served on this member should answer (see Lessor.renew). */
export type RenewResult =
  /** Renewed: answer with `ttl` (the granted TTL, as etcd's keep-alive response carries). */
  | { readonly status: 'renewed'; readonly ttl: number }
  /**
   * Renewed locally, but a checkpointed remaining TTL (applied, or handed out and maybe still to apply) would
   * shorten it on a leader change: propose a lease-renew entry (applyRenew) and answer with `ttl` once it has
   * applied, as etcd 3.5 waits for its checkpoint reset. Until it applies, a new leader uses the checkpoint.
   */
  | { readonly status: 'checkpointReset'; readonly ttl: number }
  /** The deadline passed and a revoke is pending: the lease cannot be renewed; answer "not found" (TTL 0). */
  | { readonly status: 'expired' }
  /** No such lease: answer TTL 0. */
  | { readonly status: 'notFound' }
  /** This member does not lead: forward the keep-alive to the leader. */
  | { readonly status: 'notLeader' };

export interface LeaseCheckpoint {
  readonly id: bigint;
  /** Whole seconds, rounded up, ≥ 1. */
  readonly remainingTtl: number;
}

export interface LeaseTimeToLive {
  readonly id: bigint;
  /** Remaining seconds (truncated, as etcd's int64(Remaining().Seconds())); -1 once the deadline has passed. */
  readonly ttl: number;
  readonly grantedTtl: number;
  /** True when this member does not lead and `ttl` is the replicated estimate, not a deadline. */
  readonly estimated: boolean;
}

interface LeaseRecord {
  readonly id: bigint;
  readonly ttl: number;
  remainingTtl: number;
  /** Raft index of the last keep-alive that went through Raft (applyRenew); 0 for none. Replicated. */
  renewedAt: number;
  revoked: boolean;
  // Leader-local (meaningful only while leading).
  /** Expiry deadline, ms on the host clock. */
  expiry: number;
  expiryGen: number;
  checkpointGen: number;
  /**
   * Checkpoints this leader handed out for the lease that may still apply, oldest first (see renew()), and the
   * sequence numbers of the checkpoint resets it asked for. undefined = none.
   */
  inFlight: InFlight | undefined;
}

interface InFlight {
  checkpoints: { readonly seq: number; readonly remainingTtl: number }[];
  resets: number[];
}

export class Lessor {
  readonly minTtl: number;
  private readonly keysForLease: ((id: bigint) => Uint8Array[]) | undefined;
  private readonly expiredRetryMs: number;
  private readonly byId = new Map<bigint, LeaseRecord>();
  private leader = false;
  /** Orders this leader's checkpoints and reset requests (leader-local). */
  private seq = 0;
  /** Keyed by deadline; after expired() names a lease, by the time it may be named again. */
  private readonly expiryHeap = new MinHeap<LeaseRecord>();
  /** Keyed by the time the lease was last checkpointed (or its estimate last known exact) on this leader. */
  private readonly checkpointHeap = new MinHeap<LeaseRecord>();

  constructor(options: LessorOptions = {}) {
    const minTtl = options.minTtl ?? DEFAULT_MIN_LEASE_TTL;
    if (!Number.isInteger(minTtl) || minTtl < 1 || minTtl > MAX_LEASE_TTL) {
      throw new RangeError(`lease: bad minimum TTL ${minTtl}`);
    }
    const retry = options.expiredRetryMs ?? DEFAULT_EXPIRED_RETRY_MS;
    if (!(retry > 0) || !Number.isFinite(retry)) throw new RangeError(`lease: bad expiredRetryMs ${retry}`);
    this.minTtl = minTtl;
    this.keysForLease = options.keysForLease;
    this.expiredRetryMs = retry;
  }

  /** A lessor holding the replicated state of `bytes` (from snapshot()), not leading. */
  static fromSnapshot(bytes: Uint8Array, options: LessorOptions = {}): Lessor {
    const lessor = new Lessor(options);
    lessor.restore(bytes);
    return lessor;
  }

  // ---- Queries -------------------------------------------------------------------------------------------

  get count(): number {
    return this.byId.size;
  }

  get isLeader(): boolean {
    return this.leader;
  }

  get(id: bigint): Lease | undefined {
    const rec = this.byId.get(id);
    return rec === undefined ? undefined : view(rec);
  }

  has(id: bigint): boolean {
    return this.byId.has(id);
  }

  /** Every lease, ascending by ID. */
  leases(): Lease[] {
    return this.sortedRecords().map(view);
  }

  /** The leader-local expiry deadline (ms), or undefined when not leading or no such lease. */
  deadline(id: bigint): number | undefined {
    if (!this.leader) return undefined;
    return this.byId.get(id)?.expiry;
  }

  /**
   * LeaseTimeToLive. On the leader: whole seconds left until the deadline (truncated like etcd), -1 once it has
   * passed (revoke pending). On any other member: an estimate from replicated state — the checkpointed remaining
   * TTL if there is one, else the granted TTL — which can be too high by up to one checkpoint interval plus
   * the time since; hosts should forward linearizable TimeToLive requests to the leader. undefined = no lease.
   */
  timeToLive(id: bigint, now: number): LeaseTimeToLive | undefined {
    const rec = this.byId.get(id);
    if (rec === undefined) return undefined;
    if (!this.leader) {
      return { id, ttl: effectiveTtl(rec), grantedTtl: rec.ttl, estimated: true };
    }
    const left = rec.expiry - now;
    return { id, ttl: left <= 0 ? -1 : Math.floor(left / 1000), grantedTtl: rec.ttl, estimated: false };
  }

  // ---- Replicated state: apply committed entries ---------------------------------------------------------

  /**
   * A committed LeaseGrant. `ttl` below the minimum is raised to it. `now` is used only on the leader (the
   * lease's deadline). Errors as etcd's lessor.Grant, in its order: ID 0 → lease not found; TTL above
   * MAX_LEASE_TTL → too large lease TTL; ID in use → lease already exists.
   */
  applyGrant(id: bigint, ttl: number, now: number): Lease {
    checkId(id);
    if (!Number.isInteger(ttl)) throw new RangeError(`lease: TTL must be an integer, got ${ttl}`);
    if (id === NO_LEASE) throw errors.leaseNotFound();
    if (ttl > MAX_LEASE_TTL) throw errors.leaseTTLTooLarge();
    if (this.byId.has(id)) throw errors.leaseExist();
    const rec: LeaseRecord = {
      id,
      ttl: Math.max(ttl, this.minTtl),
      remainingTtl: 0,
      renewedAt: 0,
      revoked: false,
      expiry: Number.NaN,
      expiryGen: 0,
      checkpointGen: 0,
      inFlight: undefined,
    };
    this.byId.set(id, rec);
    if (this.leader) {
      this.setExpiry(rec, now + rec.ttl * 1000);
      this.scheduleCheckpoint(rec, now);
    }
    return view(rec);
  }

  /**
   * A committed LeaseRevoke (from a client, or proposed by the leader for an expired lease). Forgets the lease
   * and returns its attached keys (from `keysForLease`, empty without it); the host deletes them all in ONE
   * MVCC revision. Unknown lease → requested lease not found.
   */
  applyRevoke(id: bigint): Uint8Array[] {
    const rec = this.byId.get(id);
    if (rec === undefined) throw errors.leaseNotFound();
    const keys = this.keysForLease?.(id) ?? [];
    rec.revoked = true; // invalidates its heap entries
    this.byId.delete(id);
    return keys;
  }

  /**
   * A committed lease checkpoint. Records the remaining TTL; a leader's deadline is not changed (promote() is
   * what applies checkpoints, as in etcd). An unknown lease is ignored and gives false: a checkpoint racing a
   * revoke is normal and nobody waits on its result (etcd's lessor.Checkpoint ignores it too).
   */
  applyCheckpoint(id: bigint, remainingTtl: number): boolean {
    if (!Number.isInteger(remainingTtl) || remainingTtl < 0 || remainingTtl > MAX_LEASE_TTL) {
      throw new RangeError(`lease: bad checkpointed TTL ${remainingTtl}`);
    }
    const rec = this.byId.get(id);
    if (rec === undefined) return false;
    rec.remainingTtl = remainingTtl;
    const inFlight = this.leader ? rec.inFlight : undefined;
    if (inFlight !== undefined) {
      // Ours, applied in the order we handed them out: any older one not applied by now was lost.
      const i = inFlight.checkpoints.findIndex((c) => c.remainingTtl === remainingTtl);
      if (i >= 0) inFlight.checkpoints.splice(0, i + 1);
      if (inFlight.checkpoints.length === 0 && inFlight.resets.length === 0) rec.inFlight = undefined;
    }
    return true;
  }

  /**
   * A committed keep-alive (proposed after renew() answered 'checkpointReset'). Clears the checkpoint on every
   * member; on the leader also sets the deadline to now + TTL. Returns the granted TTL. Unknown lease →
   * requested lease not found (answer the keep-alive with TTL 0).
   */
  applyRenew(id: bigint, now: number, index = 0): number {
    const rec = this.byId.get(id);
    if (rec === undefined) throw errors.leaseNotFound();
    rec.remainingTtl = 0;
    rec.renewedAt = Math.max(rec.renewedAt, index);
    const inFlight = this.leader ? rec.inFlight : undefined;
    if (inFlight !== undefined && inFlight.resets.length > 0) {
      // Our oldest outstanding reset (or a later one, if it was lost) has applied: every checkpoint handed out
      // before it was requested has applied or never will.
      const resetSeq = inFlight.resets.shift()!;
      inFlight.checkpoints = inFlight.checkpoints.filter((c) => c.seq > resetSeq);
      if (inFlight.checkpoints.length === 0 && inFlight.resets.length === 0) rec.inFlight = undefined;
    }
    if (this.leader) {
      this.setExpiry(rec, now + rec.ttl * 1000);
      this.scheduleCheckpoint(rec, now);
    }
    return rec.ttl;
  }

  /** Whether a keep-alive through Raft applied at an index above `index` (replicated: every member agrees). */
  renewedAfter(id: bigint, index: number): boolean {
    const rec = this.byId.get(id);
    return rec !== undefined && rec.renewedAt > index;
  }

  // ---- Leader-local state --------------------------------------------------------------------------------

  /**
   * This member became leader. Call it once every entry of earlier terms has applied (the leader's own first
   * entry of its term has applied), before serving keep-alives: the in-flight bookkeeping of renew() assumes
   * that checkpoint and renew entries applied while leading are this leader's own, in proposal order.
   * Every lease gets deadline now + (checkpointed remaining TTL, or the full TTL when there is none) + extendMs. Pass extendMs = one election timeout, so that clients have time to find the new
   * leader before anything expires (etcd's Promote(extend)). Checkpoint schedules restart at `now`.
   */
  promote(now: number, extendMs: number): void {
    if (!(extendMs >= 0)) throw new RangeError(`lease: bad extension ${extendMs}`);
    this.expiryHeap.clear();
    this.checkpointHeap.clear();
    this.leader = true;
    for (const rec of this.byId.values()) {
      rec.inFlight = undefined;
      this.setExpiry(rec, now + effectiveTtl(rec) * 1000 + extendMs);
      this.scheduleCheckpoint(rec, now);
    }
  }

  /** This member stopped leading: forget every deadline and checkpoint schedule. */
  demote(): void {
    this.leader = false;
    this.expiryHeap.clear();
    this.checkpointHeap.clear();
    for (const rec of this.byId.values()) {
      rec.expiry = Number.NaN;
      rec.inFlight = undefined;
    }
  }

  /**
   * A keep-alive served by the leader: deadline = now + TTL. See RenewResult for what the host does with the
   * answer. A lease whose deadline has passed is not renewed (etcd waits for its revoke and answers not found).
   * When the lease has a checkpoint, or a checkpoint this leader handed out may still apply after now, the
   * answer is 'checkpointReset': the renewal only counts on other members once a lease-renew entry proposed
   * after this call applies (applyRenew), because Raft applies it after every checkpoint handed out before.
   */
  renew(id: bigint, now: number): RenewResult {
    if (!this.leader) return { status: 'notLeader' };
    const rec = this.byId.get(id);
    if (rec === undefined) return { status: 'notFound' };
    if (rec.expiry <= now) return { status: 'expired' };
    this.setExpiry(rec, now + rec.ttl * 1000);
    if (rec.remainingTtl > 0 || rec.inFlight?.checkpoints.length) {
      // A checkpoint is in replicated state, or one we handed out may still apply after this renewal: either
      // would shorten the lease on a leader change, so the renewal must go through Raft after it.
      rec.inFlight ??= { checkpoints: [], resets: [] };
      rec.inFlight.resets.push(++this.seq);
      return { status: 'checkpointReset', ttl: rec.ttl };
    }
    // The replicated estimate (full TTL) is exact again: the next checkpoint can wait a full interval.
    this.scheduleCheckpoint(rec, now);
    return { status: 'renewed', ttl: rec.ttl };
  }

  /**
   * Leases whose deadline has passed, oldest deadline first, at most `limit`: propose a revoke for each. A
   * lease stays expired until its revoke applies, but once named it is not named again for expiredRetryMs
   * (then it is, in case the proposal was lost). Empty when not leading. Call every tick with
   * limit = LEASE_REVOKE_RATE × seconds since the last call to keep etcd's revoke rate.
   */
  expired(now: number, limit: number = LEASE_REVOKE_RATE): bigint[] {
    const out: bigint[] = [];
    if (!this.leader) return out;
    const heap = this.expiryHeap;
    while (out.length < limit) {
      const top = heap.peek();
      if (top === undefined || top.at > now) break;
      heap.pop();
      const rec = top.item;
      if (rec.revoked || rec.expiryGen !== top.gen) continue;
      // Valid entries sit at the deadline or at a retry time after it, so this lease has expired.
      out.push(rec.id);
      this.pushExpiry(now + this.expiredRetryMs, rec);
    }
    return out;
  }

  /**
   * Checkpoints to propose (one entry, applied with applyCheckpoint for each): every lease is looked at once per
   * `intervalMs` on this leader and checkpointed with its remaining TTL, rounded up to whole seconds (≥ 1),
   * unless the replicated value already says exactly that. Expired leases are skipped (their revoke is
   * pending). At most `limit` results; the rest stay due. Empty when not leading.
   */
  dueCheckpoints(
    now: number,
    intervalMs: number = DEFAULT_CHECKPOINT_INTERVAL_MS,
    limit: number = MAX_CHECKPOINT_BATCH,
  ): LeaseCheckpoint[] {
    const out: LeaseCheckpoint[] = [];
    if (!this.leader) return out;
    const heap = this.checkpointHeap;
    const cutoff = now - intervalMs;
    while (out.length < limit) {
      const top = heap.peek();
      if (top === undefined || top.at > cutoff) break;
      heap.pop();
      const rec = top.item;
      if (rec.revoked || rec.checkpointGen !== top.gen) continue;
      if (rec.expiry <= now) continue; // a revoke is pending; applyRenew reschedules if it is renewed after all
      const remaining = Math.ceil((rec.expiry - now) / 1000);
      this.pushCheckpoint(now, rec);
      if (remaining === effectiveTtl(rec) && !rec.inFlight?.checkpoints.length) continue;
      rec.inFlight ??= { checkpoints: [], resets: [] };
      rec.inFlight.checkpoints.push({ seq: ++this.seq, remainingTtl: remaining });
      out.push({ id: rec.id, remainingTtl: remaining });
    }
    return out;
  }

  // ---- Snapshot ------------------------------------------------------------------------------------------

  /**
   * The replicated state as bytes: msgpack [version, [[id, ttl, remainingTtl, renewedAt], …]] ascending by ID
   * (snapshots from before renewedAt have three-element tuples: 0).
   */
  snapshot(): Uint8Array {
    const leases = this.sortedRecords().map((rec) => [rec.id, rec.ttl, rec.remainingTtl, rec.renewedAt]);
    return encode([SNAPSHOT_FORMAT_VERSION, leases], { useBigInt64: true });
  }

  /** Replaces the replicated state with `bytes` (from snapshot()) and drops leader-local state (demotes). */
  restore(bytes: Uint8Array): void {
    const records = decodeSnapshot(bytes);
    for (const rec of this.byId.values()) rec.revoked = true;
    this.byId.clear();
    this.demote();
    for (const rec of records) this.byId.set(rec.id, rec);
  }

  // ---- Internals -----------------------------------------------------------------------------------------

  private sortedRecords(): LeaseRecord[] {
    return [...this.byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  private setExpiry(rec: LeaseRecord, expiry: number): void {
    rec.expiry = expiry;
    rec.expiryGen++;
    this.pushExpiry(expiry, rec);
  }

  private pushExpiry(at: number, rec: LeaseRecord): void {
    this.expiryHeap.push(at, rec, rec.expiryGen);
    if (this.expiryHeap.size > 2 * this.byId.size + 1024) {
      this.expiryHeap.retain((e) => !e.item.revoked && e.gen === e.item.expiryGen);
    }
  }

  private scheduleCheckpoint(rec: LeaseRecord, base: number): void {
    rec.checkpointGen++;
    this.pushCheckpoint(base, rec);
  }

  private pushCheckpoint(base: number, rec: LeaseRecord): void {
    this.checkpointHeap.push(base, rec, rec.checkpointGen);
    if (this.checkpointHeap.size > 2 * this.byId.size + 1024) {
      this.checkpointHeap.retain((e) => !e.item.revoked && e.gen === e.item.checkpointGen);
    }
  }
}

function effectiveTtl(rec: LeaseRecord): number {
  return rec.remainingTtl > 0 ? rec.remainingTtl : rec.ttl;
}

function view(rec: LeaseRecord): Lease {
  return { id: rec.id, ttl: rec.ttl, remainingTtl: rec.remainingTtl };
}

function checkId(id: bigint): void {
  if (typeof id !== 'bigint' || id < MIN_INT64 || id > MAX_INT64) {
    throw new RangeError(`lease: ID must be an int64 bigint, got ${String(id)}`);
  }
}

function decodeSnapshot(bytes: Uint8Array): LeaseRecord[] {
  let root: unknown;
  try {
    root = decode(bytes, { useBigInt64: true });
  } catch (err) {
    throw corrupt(err instanceof Error ? err.message : 'undecodable');
  }
  if (!Array.isArray(root) || root.length !== 2 || toNumber(root[0]) !== SNAPSHOT_FORMAT_VERSION) {
    throw corrupt('unknown snapshot format');
  }
  if (!Array.isArray(root[1])) throw corrupt('leases missing');
  const out: LeaseRecord[] = [];
  let last: bigint | undefined;
  for (const tuple of root[1] as unknown[]) {
    if (!Array.isArray(tuple) || (tuple.length !== 3 && tuple.length !== 4)) throw corrupt('bad lease');
    const [rawId, rawTtl, rawRemaining, rawRenewedAt = 0] = tuple as unknown[];
    const renewedAt = toNumber(rawRenewedAt);
    const id = typeof rawId === 'bigint' ? rawId : BigInt(toNumber(rawId));
    const ttl = toNumber(rawTtl);
    const remainingTtl = toNumber(rawRemaining);
    if (id === NO_LEASE || id < MIN_INT64 || id > MAX_INT64) throw corrupt(`bad lease ID ${id}`);
    if (last !== undefined && id <= last) throw corrupt(`lease ${id} out of order`);
    if (ttl < 1 || ttl > MAX_LEASE_TTL || remainingTtl < 0) throw corrupt(`bad TTL for lease ${id}`);
    if (renewedAt < 0) throw corrupt(`bad renewal index for lease ${id}`);
    last = id;
    out.push({
      id,
      ttl,
      remainingTtl,
      renewedAt,
      revoked: false,
      expiry: Number.NaN,
      expiryGen: 0,
      checkpointGen: 0,
      inFlight: undefined,
    });
  }
  return out;
}

// msgpack hands back small integers as numbers and 64-bit-coded ones as bigints.
function toNumber(x: unknown): number {
  if (typeof x === 'number' && Number.isInteger(x)) return x;
  if (typeof x === 'bigint' && x <= BigInt(Number.MAX_SAFE_INTEGER) && x >= BigInt(Number.MIN_SAFE_INTEGER)) {
    return Number(x);
  }
  throw corrupt(`expected an integer, got ${typeof x}`);
}

function corrupt(detail: string): EtcdError {
  return new EtcdError('DataLoss', `lease: corrupt snapshot: ${detail}`);
}
