// etcd's server flags as edgecd takes them: how each is parsed, its default, what it means, and whether edgecd
// acts on it (some are accepted so that scripts written for etcd keep working, and say so once at start).
// Grouped as `etcd --help` groups them; edgecd's own flags are marked `experimental-` as etcd marks its own.

/** Flag → MemberConfig key; `null`: accepted, not acted on. */
export interface FlagSpec {
  readonly key: string | null;
  readonly parse?: (v: string) => unknown;
  readonly group: FlagGroup;
  /** The default as `--help` prints it. */
  readonly default: string;
  readonly help: string;
  readonly boolean?: boolean;
}

export type FlagGroup = 'Member' | 'Clustering' | 'Security' | 'Auth' | 'Logging' | 'Experimental' | 'edgecd';

import { bool, int, list, parseGoDuration, uint32 } from './flag-values.ts';

export { bool, int, list, parseGoDuration, uint32 } from './flag-values.ts';

/** A Go duration flag in milliseconds. */
const ms = (v: string) => parseGoDuration(v) * 1000;

const f = (
  key: string | null,
  group: FlagGroup,
  def: string,
  help: string,
  parse?: (v: string) => unknown,
  boolean?: boolean,
): FlagSpec => ({ key, group, default: def, help, parse, boolean });
const ignored = (group: FlagGroup, def: string, help: string, boolean?: boolean) =>
  f(null, group, def, `${help} (accepted, not acted on)`, undefined, boolean);

/** Every flag but those whose parsers live in config.ts (initial-cluster, initial-cluster-state, auth-token). */
export const FLAG_SPECS: Record<string, FlagSpec> = {
  name: f('name', 'Member', 'default', 'Human-readable name for this member.'),
  'data-dir': f('dataDir', 'Member', '<name>.etcd', 'Path to the data directory.'),
  'wal-dir': ignored('Member', '', 'Path to a dedicated WAL directory'),
  'snapshot-count': f('snapshotCount', 'Member', '100000', 'Applied entries between two snapshots.', int),
  'heartbeat-interval': f('heartbeatIntervalMs', 'Member', '100', 'Heartbeat interval (ms).', int),
  'election-timeout': f('electionTimeoutMs', 'Member', '1000', 'Election timeout (ms).', int),
  'listen-peer-urls': f(
    'listenPeerUrls',
    'Member',
    'http://localhost:2380',
    'URLs to listen on for peers.',
    list,
  ),
  'listen-client-urls': f(
    'listenClientUrls',
    'Member',
    'http://localhost:2379',
    'URLs to listen on for clients.',
    list,
  ),
  'max-snapshots': ignored('Member', '5', 'Maximum number of snapshot files to retain'),
  'max-wals': ignored('Member', '5', 'Maximum number of WAL files to retain'),
  'quota-backend-bytes': f(
    'quotaBackendBytes',
    'Member',
    '0 (2 GiB)',
    'Raise NOSPACE past this key space size.',
    int,
  ),
  'max-txn-ops': f('maxTxnOps', 'Member', '128', 'Most operations in one transaction.', int),
  'max-request-bytes': f('maxRequestBytes', 'Member', '1572864', 'Largest client request, in bytes.', int),
  'max-concurrent-streams': f(
    'maxConcurrentStreams',
    'Member',
    'math.MaxUint32',
    'Concurrent gRPC streams one client connection may open (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); 0: the default.',
    uint32,
  ),
  'grpc-keepalive-min-time': f(
    'grpcKeepaliveMinTimeMs',
    'Member',
    '5s',
    'Minimum duration interval that a client should wait before pinging server.',
    ms,
  ),
  'grpc-keepalive-interval': f(
    'grpcKeepaliveIntervalMs',
    'Member',
    '2h0m0s',
    'Frequency duration of server-to-client ping to check if a connection is alive (0 to disable).',
    ms,
  ),
  'grpc-keepalive-timeout': f(
    'grpcKeepaliveTimeoutMs',
    'Member',
    '20s',
    'Additional duration of wait before closing a non-responsive connection (0 to disable).',
    ms,
  ),
  'listen-metrics-urls': f(
    'listenMetricsUrls',
    'Member',
    '',
    'More URLs to serve /metrics and /health on (http://, or https:// with the client TLS files).',
    list,
  ),
  'initial-advertise-peer-urls': f(
    'initialAdvertisePeerUrls',
    'Clustering',
    'http://localhost:2380',
    "This member's peer URLs to advertise to the rest of the cluster.",
    list,
  ),
  'advertise-client-urls': f(
    'advertiseClientUrls',
    'Clustering',
    'http://localhost:2379',
    "This member's client URLs to advertise to the rest of the cluster.",
    list,
  ),
  'initial-cluster-token': f('initialClusterToken', 'Clustering', 'etcd-cluster', 'Initial cluster token.'),
  'strict-reconfig-check': f(
    'strictReconfigCheck',
    'Clustering',
    'true',
    'Refuse membership changes that would leave fewer started voters than a quorum.',
    bool,
    true,
  ),
  'auto-compaction-mode': f('autoCompactionMode', 'Clustering', 'periodic', "'periodic' or 'revision'."),
  'auto-compaction-retention': f(
    'autoCompactionRetention',
    'Clustering',
    '0',
    'History to keep: a duration (periodic) or a revision count (revision); 0 disables.',
  ),
  'enable-v2': ignored('Clustering', 'false', 'Serve the v2 API', true),
  'pre-vote': ignored('Clustering', 'false', 'Pre-vote (edgecd always runs it)', true),
  'cert-file': f('certFile', 'Security', '', 'Client server TLS certificate.'),
  'key-file': f('keyFile', 'Security', '', 'Client server TLS key.'),
  'client-cert-auth': f('clientCertAuth', 'Security', 'false', 'Require client certificates.', bool, true),
  'trusted-ca-file': f('trustedCaFile', 'Security', '', 'CA that signs client certificates.'),
  'auto-tls': f('autoTls', 'Security', 'false', 'Generated certificates (refused by edgecd).', bool, true),
  'peer-cert-file': f('peerCertFile', 'Security', '', 'Peer server TLS certificate.'),
  'peer-key-file': f('peerKeyFile', 'Security', '', 'Peer server TLS key.'),
  'peer-client-cert-auth': f(
    'peerClientCertAuth',
    'Security',
    'false',
    'Require peer certificates.',
    bool,
    true,
  ),
  'peer-trusted-ca-file': f('peerTrustedCaFile', 'Security', '', 'CA that signs peer certificates.'),
  'peer-auto-tls': f(
    'peerAutoTls',
    'Security',
    'false',
    'Generated peer certificates (refused).',
    bool,
    true,
  ),
  cors: ignored('Security', '', 'Comma-separated CORS origins'),
  'auth-token-ttl': f('authTokenTtl', 'Auth', '300', 'Seconds a simple token lives unused.', int),
  'bcrypt-cost': f('bcryptCost', 'Auth', '10', 'bcrypt cost of passwords (4..31).', int),
  logger: ignored('Logging', 'capnslog', "'zap' or 'capnslog' (edgecd logs JSON lines)"),
  'log-outputs': ignored('Logging', 'default', 'Where to write logs (edgecd: stderr)'),
  'log-level': f('logLevel', 'Logging', 'info', "'debug', 'info', 'warn' or 'error'."),
  'enable-grpc-gateway': ignored('Logging', 'true', 'Serve the JSON gateway (always on)', true),
  'experimental-enable-lease-checkpoint': ignored(
    'Experimental',
    'false',
    'Lease checkpoints (always on)',
    true,
  ),
  'experimental-snapshot-catchup-entries': f(
    'snapshotCatchUpEntries',
    'Experimental',
    '5000',
    'Entries kept behind a snapshot for slow followers.',
    int,
  ),
  'experimental-corrupt-check-time': f(
    'corruptCheckTimeMs',
    'Experimental',
    '0s',
    'How often the leader compares its HashKV with the members (raises CORRUPT); 0 disables.',
    ms,
  ),
  'experimental-initial-corrupt-check': f(
    'initialCorruptCheck',
    'Experimental',
    'false',
    "Before serving clients, compare this member's HashKV with its peers'; refuse to start on a mismatch.",
    bool,
    true,
  ),
  'experimental-watch-progress-notify-interval': f(
    'watchProgressNotifyIntervalMs',
    'Experimental',
    '10m0s',
    'Idle watches that asked for progress_notify get a progress response this often.',
    ms,
  ),
  'experimental-value-cache-bytes': f(
    'valueCacheBytes',
    'edgecd',
    '4194304',
    'Bytes of key-space values kept in memory; beyond it the least recently read wait in a scratch file in the data directory (0: all in memory).',
    int,
  ),
  'experimental-peer-secret': f(
    'peerSecret',
    'edgecd',
    '',
    'Shared secret that HTTP peer batches carry (members in Durable Objects; see the README).',
  ),
  'experimental-browser-learners': f(
    'browserLearners',
    'edgecd',
    'false',
    'Let browser tabs join as learners (member add --learner with a browser: peer URL).',
    bool,
    true,
  ),
};

/** Flags edgecd knows but defines in config.ts (their parsers need its types), for --help. */
export const MORE_FLAGS: Record<string, Omit<FlagSpec, 'key' | 'parse'>> = {
  'initial-cluster': {
    group: 'Clustering',
    default: 'default=http://localhost:2380',
    help: 'Initial cluster configuration for bootstrapping (name=peerURL,…).',
  },
  'initial-cluster-state': { group: 'Clustering', default: 'new', help: "'new' or 'existing' (join)." },
  'auth-token': {
    group: 'Auth',
    default: 'simple',
    help: "'simple' or 'jwt,pub-key=PATH,priv-key=PATH,sign-method=RS256[,ttl=5m]'.",
  },
  'config-file': {
    group: 'Member',
    default: '',
    help: "etcd's YAML configuration file (etcd.conf.yml keys); the command line and ETCD_* are then ignored.",
  },
  'force-new-cluster': {
    group: 'Clustering',
    default: 'false',
    help: 'Refused: restore from a snapshot instead (edgecd snapshot restore).',
  },
};

const GROUPS: readonly FlagGroup[] = [
  'Member',
  'Clustering',
  'Security',
  'Auth',
  'Logging',
  'Experimental',
  'edgecd',
];

/** `edgecd --help`'s flag listing, grouped as etcd's. */
export function flagsHelp(): string {
  const all = { ...FLAG_SPECS, ...MORE_FLAGS } as Record<string, Omit<FlagSpec, 'key' | 'parse'>>;
  const lines: string[] = [];
  for (const group of GROUPS) {
    lines.push('', group === 'edgecd' ? 'edgecd only:' : `${group}:`);
    for (const [name, spec] of Object.entries(all).sort(([a], [b]) => a.localeCompare(b))) {
      if (spec.group !== group) continue;
      const def = spec.default === '' ? '' : ` (default: ${spec.default})`;
      lines.push(`  --${name}${spec.boolean ? '' : ' VALUE'}`, `      ${spec.help}${def}`);
    }
  }
  lines.push('', 'Every flag can also be set as ETCD_<FLAG> (upper case, - as _); flags win over variables.');
  return lines.join('\n');
}
