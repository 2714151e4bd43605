// etcd's server flags (ETCD-NOTES §6; the table with defaults and help is ./flags.ts): `--flag value`,
// `--flag=value`, or the environment variable ETCD_<FLAG> (upper snake case; flags win). Unknown flags, values
// that do not parse (named by their flag) and timings etcd would refuse are errors with etcd's wording; flags
// accepted but not acted on are listed in `ignoredFlags` for one warning each at start.

import { createHash } from 'node:crypto';
import { DEFAULT_MAX_CONCURRENT_STREAMS } from '../../../src/etcd/limits.ts';
import { readConfigFile } from './config-file.ts';
import { bool, FLAG_SPECS, list, parseGoDuration } from './flags.ts';
import { DEFAULT_KEEPALIVE } from './grpc/http2/keepalive.ts';
import type { MemberTlsConfig } from './tls.ts';

export { parseGoDuration } from './flags.ts';

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
  /** etcd --max-concurrent-streams: per client connection (0 reads as the default, 2^32 - 1, as grpc-go does). */
  readonly maxConcurrentStreams: number;
  /** etcd --grpc-keepalive-min-time, -interval, -timeout (ms): ./grpc/http2/keepalive.ts. */
  readonly grpcKeepaliveMinTimeMs: number;
  readonly grpcKeepaliveIntervalMs: number;
  readonly grpcKeepaliveTimeoutMs: number;
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
  /** etcd --experimental-corrupt-check-time (ms; 0: never). */
  readonly corruptCheckTimeMs?: number;
  /** --experimental-value-cache-bytes (NodeOptions.valueCacheBytes). */
  readonly valueCacheBytes?: number;
  /** etcd --experimental-initial-corrupt-check: compare HashKV with the peers before serving (corrupt-check.ts). */
  readonly initialCorruptCheck?: boolean;
  /** etcd --listen-metrics-urls: more listeners for /metrics and /health. */
  readonly listenMetricsUrls?: readonly string[];
  /** etcd --experimental-watch-progress-notify-interval (ms; default 10 minutes). */
  readonly watchProgressNotifyIntervalMs?: number;
  /** Set when --config-file was given together with other flags or ETCD_* variables (ignored, as etcd does). */
  readonly configFileOverrides?: boolean;
  /** Flags given that edgecd accepts but does not act on (one warning each at start). */
  readonly ignoredFlags?: readonly string[];
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

const FLAGS: Record<string, { readonly key: string | null; readonly parse?: (v: string) => unknown }> = {
  ...FLAG_SPECS,
  'initial-cluster': { key: 'initialCluster', parse: (v) => parseInitialCluster(v) },
  'initial-cluster-state': {
    key: 'initialClusterState',
    parse: (v) => {
      if (v !== 'new' && v !== 'existing') throw new Error(`unexpected initial-cluster-state "${v}"`);
      return v;
    },
  },
  'auth-token': { key: 'authToken', parse: (v) => parseAuthToken(v) },
  'force-new-cluster': {
    key: null,
    parse: (v) => {
      if (bool(v)) {
        throw new Error(
          "not supported: edgecd cannot force a new cluster from a member's data; take a snapshot " +
            '(etcdctl snapshot save) and start a new cluster from it (edgecd snapshot restore)',
        );
      }
      return false;
    },
  },
};

const BOOLEAN_FLAGS = new Set([
  ...Object.entries(FLAG_SPECS)
    .filter(([, spec]) => spec.boolean)
    .map(([name]) => name),
  'force-new-cluster',
  'debug',
]);

/** etcd's embed.Config limit on --election-timeout. */
const MAX_ELECTION_MS = 50_000;

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
  // etcd: with a configuration file, the command line and the ETCD_* variables are ignored.
  const fileFlag = argv.findIndex((a) => /^--?config-file(=|$)/.test(a));
  const file = fileFlag >= 0 ? (argv[fileFlag].split('=')[1] ?? argv[fileFlag + 1]) : env.ETCD_CONFIG_FILE;
  if (file !== undefined) {
    if (file === '' || file.startsWith('-')) throw new Error('flag needs an argument: -config-file');
    const fromFile = readConfigFile(file);
    const config = parseMemberConfig(fromFile.args, {});
    const inline = fileFlag >= 0 && argv[fileFlag].includes('=');
    const consumed = new Set(fileFlag < 0 ? [] : inline ? [fileFlag] : [fileFlag, fileFlag + 1]);
    const others = argv.filter((_, i) => !consumed.has(i));
    return {
      ...config,
      ignoredFlags: [...(config.ignoredFlags ?? []), ...fromFile.ignored],
      ...(others.length > 0 || Object.keys(env).some((k) => k.startsWith('ETCD_') && k !== 'ETCD_CONFIG_FILE')
        ? { configFileOverrides: true }
        : {}),
    };
  }
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
    snapshotCount: 100_000, // etcd 3.4's default (3.6 lowered it to 10,000: its snapshots cost little, ours copy the keyspace)
    maxRequestBytes: 1.5 * 1024 * 1024,
    maxTxnOps: 128,
    maxConcurrentStreams: DEFAULT_MAX_CONCURRENT_STREAMS,
    grpcKeepaliveMinTimeMs: DEFAULT_KEEPALIVE.minTimeMs,
    grpcKeepaliveIntervalMs: DEFAULT_KEEPALIVE.intervalMs,
    grpcKeepaliveTimeoutMs: DEFAULT_KEEPALIVE.timeoutMs,
    quotaBackendBytes: 2 * 1024 * 1024 * 1024,
    logLevel: 'info',
    snapshotCatchUpEntries: 5000,
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '0',
    authToken: { type: 'simple' },
    authTokenTtl: 300,
    bcryptCost: 10,
  };
  const ignoredFlags = new Set<string>();
  const set = (flag: string, raw: string) => {
    const spec = FLAGS[flag];
    if (!spec) throw new Error(`flag provided but not defined: -${flag}`);
    let value: unknown;
    try {
      value = spec.parse ? spec.parse(raw) : raw;
    } catch (e) {
      throw new Error(`--${flag}: ${(e as Error).message}`);
    }
    if (spec.key) values[spec.key] = value;
    else if (flag !== 'force-new-cluster') ignoredFlags.add(flag);
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
    else {
      const next = argv[i + 1];
      // Go's flag package: a value flag at the end, or followed by another flag, has no value.
      if (next === undefined || (next.startsWith('-') && next.length > 1 && Number.isNaN(Number(next)))) {
        if (!FLAGS[flag]) throw new Error(`flag provided but not defined: -${flag}`);
        throw new Error(`flag needs an argument: -${flag}`);
      }
      raw = argv[++i];
    }
    set(flag, raw);
  }
  const tick = values.heartbeatIntervalMs as number;
  const election = values.electionTimeoutMs as number;
  if (!(tick > 0)) throw new Error(`--heartbeat-interval[${tick}ms] must be positive`);
  if (5 * tick > election) {
    throw new Error(
      `--election-timeout[${election}ms] should be at least as 5 times as --heartbeat-interval[${tick}ms]`,
    );
  }
  if (election > MAX_ELECTION_MS) {
    throw new Error(
      `--election-timeout[${election}ms] is too long, and should be set less than ${MAX_ELECTION_MS}ms`,
    );
  }
  values.ignoredFlags = [...ignoredFlags].sort();
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
