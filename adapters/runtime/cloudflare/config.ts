// How the members of an edgecd cluster on Cloudflare find each other, and the per-runtime defaults.
//
// Membership: a cluster is a fixed list of member names (EDGECD_MEMBERS, default `member-1,member-2,member-3`).
// Member i lives in the Durable Object `EDGECD_MEMBER.idFromName(name)` — the name is the address: the fetch
// transport reaches it as `do:<name>`, and an object finds out which member it is by comparing its own ID with the
// IDs of the names. Member IDs and the cluster ID are derived from the names and the cluster token
// (EDGECD_CLUSTER_TOKEN, like etcd's --initial-cluster-token): 64-bit FNV-1a hashes, so every object, every
// Worker isolate and every restart computes the same ones without coordination.
//
// Defaults for Durable Objects (each overridable by a [vars] entry of wrangler.toml):
//   tick (heartbeat) 200 ms, election timeout 2,000 ms — a heartbeat is a DO→DO RPC plus the output gate's wait
//     for durable storage, both far slower than a LAN's TCP frame, and the alarm that wakes an evicted object is
//     only guaranteed at-least-once and not to the millisecond; an election timeout of ten ticks leaves room.
//   snapshot every 1,000 applied entries — a restarted (evicted, reset) object rebuilds its keyspace from the last
//     snapshot plus the log after it, so a short log keeps construction (inside blockConcurrencyWhile) quick.
//   quota 64 MiB of keyspace — the keyspace lives in memory in a 128 MB isolate, and taking a snapshot briefly
//     holds a serialized copy too; past the quota, writes fail with etcd's "database space exceeded" (NOSPACE).
//   request timeout 10 s.
//   bcrypt cost 8 (etcd's --bcrypt-cost default is 10) — hashing runs in JavaScript on the isolate's CPU budget:
//     cost 10 takes ~70 ms per UserAdd / Authenticate, cost 8 a quarter of that. Raise it with EDGECD_BCRYPT_COST
//     on a plan with enough CPU time per request.
//
// Auth tokens: simple tokens by default (assigned on every member when Authenticate applies, so any member the
// Worker picks accepts them); JWT when EDGECD_JWT_SIGN_METHOD and the keys are set (keep the private key in a
// secret: `wrangler secret put EDGECD_JWT_PRIVATE_KEY`).

import type { NodeOptions } from '../../../src/server/node.ts';
import type { BootstrapMember } from '../../../src/server/replica.ts';

export const DEFAULT_MEMBER_NAMES = ['member-1', 'member-2', 'member-3'] as const;
export const DEFAULT_CLUSTER_TOKEN = 'edgecd-cluster';
export const DEFAULT_TICK_MS = 200;
export const DEFAULT_ELECTION_TIMEOUT_MS = 2000;
export const DEFAULT_SNAPSHOT_COUNT = 1000;
export const DEFAULT_QUOTA_BYTES = 64 * 1024 * 1024;
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_BCRYPT_COST = 8;
/** Peer address scheme of a member in a Durable Object: `do:<name>`. */
export const DO_ADDRESS_PREFIX = 'do:';

/** The [vars] of wrangler.toml that configure the cluster (all optional; strings, as Workers vars are). */
export interface EdgecdVars {
  readonly EDGECD_MEMBERS?: string;
  readonly EDGECD_CLUSTER_TOKEN?: string;
  readonly EDGECD_TICK_MS?: string;
  readonly EDGECD_ELECTION_TIMEOUT_MS?: string;
  readonly EDGECD_SNAPSHOT_COUNT?: string;
  readonly EDGECD_QUOTA_BYTES?: string;
  readonly EDGECD_REQUEST_TIMEOUT_MS?: string;
  /** etcd --experimental-corrupt-check-time in ms: how often the leader compares HashKV; 0 or unset: never. */
  readonly EDGECD_CORRUPT_CHECK_MS?: string;
  /** debug | info | warn | error (default warn). */
  readonly EDGECD_LOG_LEVEL?: string;
  /** etcd --bcrypt-cost (4..31); default 8 on Workers. */
  readonly EDGECD_BCRYPT_COST?: string;
  /** etcd --auth-token-ttl in seconds (simple tokens); default 300. */
  readonly EDGECD_AUTH_TOKEN_TTL?: string;
  /** JWT tokens (etcd --auth-token jwt,…): sign method (RS256, ES256, …) and PEM keys; all three or none. */
  readonly EDGECD_JWT_SIGN_METHOD?: string;
  readonly EDGECD_JWT_PRIVATE_KEY?: string;
  readonly EDGECD_JWT_PUBLIC_KEY?: string;
  /** JWT lifetime in seconds; default 300. */
  readonly EDGECD_JWT_TTL?: string;
}

export interface ClusterMember {
  readonly name: string;
  readonly id: bigint;
  /** The fetch transport's address: `do:<name>`. */
  readonly address: string;
}

export interface ClusterConfig {
  readonly token: string;
  readonly clusterId: bigint;
  readonly members: readonly ClusterMember[];
  readonly tickMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  readonly quotaBytes: number;
  readonly requestTimeoutMs: number;
  /** 0: no corruption check. */
  readonly corruptCheckMs: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly auth: NonNullable<NodeOptions['auth']>;
}

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/** 64-bit FNV-1a of a string's UTF-8 bytes; never 0 (0 means "none" for member IDs). */
export function fnv1a64(text: string): bigint {
  let h = FNV_OFFSET;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * FNV_PRIME) & MASK;
  }
  return h === 0n ? 1n : h;
}

export function memberId(token: string, name: string): bigint {
  return fnv1a64(`${token}/member/${name}`);
}

export function clusterIdOf(token: string, ids: readonly bigint[]): bigint {
  const sorted = [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return fnv1a64(`${token}/cluster/${sorted.join(',')}`);
}

function positive(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${value}"`);
  return n;
}

const configs = new Map<string, ClusterConfig>();

export function clusterConfig(vars: EdgecdVars): ClusterConfig {
  const key = JSON.stringify(
    vars,
    Object.keys(vars).filter((k) => k.startsWith('EDGECD_')),
  );
  const cached = configs.get(key);
  if (cached) return cached;
  const names = (vars.EDGECD_MEMBERS ?? DEFAULT_MEMBER_NAMES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new Error('EDGECD_MEMBERS lists no member');
  if (new Set(names).size !== names.length) throw new Error('EDGECD_MEMBERS lists a name twice');
  const token = vars.EDGECD_CLUSTER_TOKEN || DEFAULT_CLUSTER_TOKEN;
  const members = names.map((name) => ({
    name,
    id: memberId(token, name),
    address: `${DO_ADDRESS_PREFIX}${name}`,
  }));
  const level = vars.EDGECD_LOG_LEVEL ?? 'warn';
  const config: ClusterConfig = {
    token,
    clusterId: clusterIdOf(
      token,
      members.map((m) => m.id),
    ),
    members,
    tickMs: positive(vars.EDGECD_TICK_MS, DEFAULT_TICK_MS, 'EDGECD_TICK_MS'),
    electionTimeoutMs: positive(
      vars.EDGECD_ELECTION_TIMEOUT_MS,
      DEFAULT_ELECTION_TIMEOUT_MS,
      'EDGECD_ELECTION_TIMEOUT_MS',
    ),
    snapshotCount: positive(vars.EDGECD_SNAPSHOT_COUNT, DEFAULT_SNAPSHOT_COUNT, 'EDGECD_SNAPSHOT_COUNT'),
    quotaBytes: positive(vars.EDGECD_QUOTA_BYTES, DEFAULT_QUOTA_BYTES, 'EDGECD_QUOTA_BYTES'),
    corruptCheckMs:
      vars.EDGECD_CORRUPT_CHECK_MS && vars.EDGECD_CORRUPT_CHECK_MS !== '0'
        ? positive(vars.EDGECD_CORRUPT_CHECK_MS, 0, 'EDGECD_CORRUPT_CHECK_MS')
        : 0,
    requestTimeoutMs: positive(
      vars.EDGECD_REQUEST_TIMEOUT_MS,
      DEFAULT_REQUEST_TIMEOUT_MS,
      'EDGECD_REQUEST_TIMEOUT_MS',
    ),
    logLevel: level === 'debug' || level === 'info' || level === 'error' ? level : 'warn',
    auth: authConfig(vars),
  };
  configs.set(key, config);
  return config;
}

function authConfig(vars: EdgecdVars): NonNullable<NodeOptions['auth']> {
  const bcryptCost = positive(vars.EDGECD_BCRYPT_COST, DEFAULT_BCRYPT_COST, 'EDGECD_BCRYPT_COST');
  if (bcryptCost < 4 || bcryptCost > 31)
    throw new Error(`EDGECD_BCRYPT_COST must be 4..31, not ${bcryptCost}`);
  const tokenTtlSeconds = positive(vars.EDGECD_AUTH_TOKEN_TTL, 300, 'EDGECD_AUTH_TOKEN_TTL');
  const signMethod = vars.EDGECD_JWT_SIGN_METHOD;
  if (!signMethod) return { bcryptCost, tokenTtlSeconds };
  if (!vars.EDGECD_JWT_PUBLIC_KEY) throw new Error('EDGECD_JWT_SIGN_METHOD needs EDGECD_JWT_PUBLIC_KEY');
  const jwt = {
    signMethod,
    publicKeyPem: vars.EDGECD_JWT_PUBLIC_KEY,
    privateKeyPem: vars.EDGECD_JWT_PRIVATE_KEY,
    ttlSeconds: positive(vars.EDGECD_JWT_TTL, 300, 'EDGECD_JWT_TTL'),
  };
  return { bcryptCost, tokenTtlSeconds, jwt };
}

/** The initial membership written into a new member's log (ignored once its log exists). */
export function bootstrapMembers(config: ClusterConfig): BootstrapMember[] {
  return config.members.map((m) => ({ id: m.id, name: m.name, peerURLs: [m.address] }));
}
