// etcd's server flags (ETCD-NOTES §6): `--flag value`, `--flag=value`, or the environment variable ETCD_<FLAG>
// (upper snake case). Unknown flags are refused with etcd's wording; flags we accept but do not act on yet are
// listed so that scripts written for etcd keep working.

import { createHash } from 'node:crypto';
import type { MemberTlsConfig } from './tls.ts';

export interface MemberConfig extends MemberTlsConfig {
  readonly name: string;
  readonly dataDir: string;
  readonly listenClientUrls: readonly string[];
  readonly advertiseClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  readonly initialAdvertisePeerUrls: readonly string[];
  /** name → peer URLs. */
  readonly initialCluster: ReadonlyMap<string, readonly string[]>;
  readonly initialClusterState: 'new' | 'existing';
  readonly initialClusterToken: string;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly snapshotCount: number;
  readonly maxRequestBytes: number;
  readonly maxTxnOps: number;
  readonly quotaBackendBytes: number;
  readonly logLevel: string;
  /** Entries kept behind a snapshot for slow followers (etcd 3.5's --experimental-snapshot-catchup-entries). */
  readonly snapshotCatchUpEntries: number;
  readonly autoCompactionMode: string;
  /** "0" = off. */
  readonly autoCompactionRetention: string;
  /** etcd --strict-reconfig-check (default true). */
  readonly strictReconfigCheck?: boolean;
  /** etcd --auth-token: `simple` (default) or `jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256[,ttl=5m]`. */
  readonly authToken: AuthTokenSpec;
  /** etcd --auth-token-ttl: seconds a simple token lives unused (default 300). */
  readonly authTokenTtl: number;
  /** etcd --bcrypt-cost (default 10; etcd uses the default instead of a cost outside 4..31). */
  readonly bcryptCost: number;
  /**
   * edgecd only (--experimental-peer-secret): a shared secret that HTTP peer batches carry both ways, between Node
   * members and members in Durable Objects behind a Worker (EDGECD_PEER_SECRET there). Runtimes that cannot
   * present a peer certificate prove membership with it. Unset: HTTP batches are checked by cluster and member ID
   * only (fine on loopback, not on a public address).
   */
  readonly peerSecret?: string;
  /**
   * edgecd only (--experimental-browser-learners): browser tabs may be added as learners (`member add --learner`
   * with a `browser:` peer URL) and link to this member over WebSocket. Off by default: a learner holds the whole
   * keyspace, whatever RBAC says. With auth on, adding one still needs root, as every member add does.
   */
  readonly browserLearners?: boolean;
  // Client and peer TLS (etcd --cert-file, --key-file, --trusted-ca-file, --client-cert-auth, --auto-tls and the
  // --peer-* ones) come from MemberTlsConfig (tls.ts).
}

/** etcd --auth-token, parsed (key files are paths here; member.ts reads them). */
export type AuthTokenSpec =
  | { readonly type: 'simple' }
  | {
      readonly type: 'jwt';
      readonly signMethod: string;
      readonly pubKeyPath?: string;
      readonly privKeyPath?: string;
      /** Token lifetime (etcd's `ttl=`, a Go duration; default 5m). */
      readonly ttlSeconds: number;
    };

/** A Go duration (`5m`, `1h30m`, `300ms`, `10s`) in seconds. */
export function parseGoDuration(v: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;
  let total = 0;
  let i = 0;
  while (i < v.length) {
    re.lastIndex = i;
    const m = re.exec(v);
    if (!m) throw new Error(`time: invalid duration "${v}"`);
    total += Number(m[1]) * units[m[2]];
    i = re.lastIndex;
  }
  if (v.length === 0) throw new Error(`time: invalid duration "${v}"`);
  return total;
}

/** etcd's --auth-token value: `simple`, or `jwt` followed by comma-separated options. */
export function parseAuthToken(v: string): AuthTokenSpec {
  const [type, ...opts] = v.split(',');
  if (type === 'simple' || type === '') return { type: 'simple' };
  if (type !== 'jwt') throw new Error(`unknown token type "${type}"`);
  const o = new Map<string, string>();
  for (const part of opts) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`invalid auth options: "${part}"`);
    o.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const signMethod = o.get('sign-method');
  if (!signMethod) throw new Error('invalid auth options: sign-method is required');
  const pubKeyPath = o.get('pub-key');
  const privKeyPath = o.get('priv-key');
  if (!pubKeyPath && !privKeyPath) throw new Error('invalid auth options: pub-key or priv-key is required');
  const ttl = o.get('ttl');
  return {
    type: 'jwt',
    signMethod,
    ...(pubKeyPath ? { pubKeyPath } : {}),
    ...(privKeyPath ? { privKeyPath } : {}),
    ttlSeconds: ttl ? parseGoDuration(ttl) : 300,
  };
}

interface FlagSpec {
  readonly key: keyof MemberConfig | null;
  readonly parse?: (v: string) => unknown;
}

const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`invalid number "${v}"`);
  return n;
};

/** Go's strconv.ParseBool, as etcd's boolean flags take it. */
const bool = (v: string) => {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new Error(`invalid boolean value "${v}"`);
};

const FLAGS: Record<string, FlagSpec> = {
  name: { key: 'name' },
  'data-dir': { key: 'dataDir' },
  'listen-client-urls': { key: 'listenClientUrls', parse: list },
  'advertise-client-urls': { key: 'advertiseClientUrls', parse: list },
  'listen-peer-urls': { key: 'listenPeerUrls', parse: list },
  'initial-advertise-peer-urls': { key: 'initialAdvertisePeerUrls', parse: list },
  'initial-cluster': { key: 'initialCluster', parse: parseInitialCluster },
  'initial-cluster-state': {
    key: 'initialClusterState',
    parse: (v) => {
      if (v !== 'new' && v !== 'existing') throw new Error(`unexpected initial-cluster-state "${v}"`);
      return v;
    },
  },
  'initial-cluster-token': { key: 'initialClusterToken' },
  'heartbeat-interval': { key: 'heartbeatIntervalMs', parse: int },
  'election-timeout': { key: 'electionTimeoutMs', parse: int },
  'snapshot-count': { key: 'snapshotCount', parse: int },
  'max-request-bytes': { key: 'maxRequestBytes', parse: int },
  'max-txn-ops': { key: 'maxTxnOps', parse: int },
  'quota-backend-bytes': { key: 'quotaBackendBytes', parse: int },
  'log-level': { key: 'logLevel' },
  'experimental-snapshot-catchup-entries': { key: 'snapshotCatchUpEntries', parse: int },
  'auth-token': { key: 'authToken', parse: parseAuthToken },
  'auth-token-ttl': { key: 'authTokenTtl', parse: int },
  'bcrypt-cost': { key: 'bcryptCost', parse: int },
  'cert-file': { key: 'certFile' },
  'key-file': { key: 'keyFile' },
  'trusted-ca-file': { key: 'trustedCaFile' },
  'client-cert-auth': { key: 'clientCertAuth', parse: bool },
  'auto-tls': { key: 'autoTls', parse: bool },
  'peer-cert-file': { key: 'peerCertFile' },
  'peer-key-file': { key: 'peerKeyFile' },
  'peer-trusted-ca-file': { key: 'peerTrustedCaFile' },
  'peer-client-cert-auth': { key: 'peerClientCertAuth', parse: bool },
  'peer-auto-tls': { key: 'peerAutoTls', parse: bool },
  'experimental-peer-secret': { key: 'peerSecret' },
  'experimental-browser-learners': { key: 'browserLearners', parse: bool },
  // Accepted for compatibility; not acted on yet (see the README).
  'wal-dir': { key: null },
  'auto-compaction-mode': { key: 'autoCompactionMode' },
  'auto-compaction-retention': { key: 'autoCompactionRetention' },
  'enable-grpc-gateway': { key: null },
  'enable-v2': { key: null },
  'strict-reconfig-check': { key: 'strictReconfigCheck', parse: (v) => v !== 'false' && v !== '0' },
  'pre-vote': { key: null },
  logger: { key: null },
  'log-outputs': { key: null },
  'max-snapshots': { key: null },
  'max-wals': { key: null },
  'experimental-enable-lease-checkpoint': { key: null },
  'listen-metrics-urls': { key: null },
  cors: { key: null },
};

const BOOLEAN_FLAGS = new Set([
  'client-cert-auth',
  'auto-tls',
  'peer-client-cert-auth',
  'peer-auto-tls',
  'experimental-browser-learners',
  'enable-grpc-gateway',
  'enable-v2',
  'strict-reconfig-check',
  'pre-vote',
  'experimental-enable-lease-checkpoint',
  'debug',
]);

export function parseInitialCluster(v: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of list(v)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`invalid initial-cluster entry "${part}"`);
    const name = part.slice(0, eq);
    out.set(name, [...(out.get(name) ?? []), part.slice(eq + 1)]);
  }
  return out;
}

export function parseMemberConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): MemberConfig {
  const values: Record<string, unknown> = {
    name: 'default',
    listenClientUrls: ['http://localhost:2379'],
    advertiseClientUrls: ['http://localhost:2379'],
    listenPeerUrls: ['http://localhost:2380'],
    initialAdvertisePeerUrls: ['http://localhost:2380'],
    initialClusterState: 'new',
    initialClusterToken: 'etcd-cluster',
    heartbeatIntervalMs: 100,
    electionTimeoutMs: 1000,
    snapshotCount: 10_000,
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    quotaBackendBytes: 2 * 1024 * 1024 * 1024,
    logLevel: 'info',
    snapshotCatchUpEntries: 5000,
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '0',
    authToken: { type: 'simple' },
    authTokenTtl: 300,
    bcryptCost: 10,
  };
  const set = (flag: string, raw: string) => {
    const spec = FLAGS[flag];
    if (!spec) throw new Error(`flag provided but not defined: -${flag}`);
    if (spec.key) values[spec.key] = spec.parse ? spec.parse(raw) : raw;
  };
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith('ETCD_') || v === undefined) continue;
    const flag = k.slice(5).toLowerCase().replaceAll('_', '-');
    if (FLAGS[flag]) set(flag, v);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-')) throw new Error(`unexpected argument "${arg}"`);
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const flag = eq >= 0 ? body.slice(0, eq) : body;
    if (flag === 'debug') continue;
    let raw: string;
    if (eq >= 0) raw = body.slice(eq + 1);
    else if (BOOLEAN_FLAGS.has(flag) && (argv[i + 1] === undefined || argv[i + 1].startsWith('-')))
      raw = 'true';
    else raw = argv[++i] ?? '';
    set(flag, raw);
  }
  if (values.dataDir === undefined) values.dataDir = `${values.name}.etcd`;
  if (values.initialCluster === undefined) {
    values.initialCluster = new Map([[values.name as string, values.initialAdvertisePeerUrls as string[]]]);
  }
  return values as unknown as MemberConfig;
}

/** etcd's member ID: the first 8 bytes of SHA-1 over the sorted peer URLs and the cluster token. */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string): bigint {
  const h = createHash('sha1')
    .update([...peerUrls].sort().join('') + clusterToken)
    .digest();
  return h.readBigUInt64BE(0);
}

/** etcd's cluster ID: the first 8 bytes of SHA-1 over the sorted member IDs (8 bytes big-endian each). */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const sorted = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const buf = Buffer.alloc(8 * sorted.length);
  sorted.forEach((id, i) => {
    buf.writeBigUInt64BE(id, 8 * i);
  });
  return createHash('sha1').update(buf).digest().readBigUInt64BE(0);
}

/** host and port of the first URL (etcd listens on every listed URL; we serve the first). */
export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  const host = u.hostname === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, '');
  return { host, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
}
