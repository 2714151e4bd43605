// etcd's flags, and member/cluster IDs identical to what a real etcd 3.4 computes for the same flags.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { computeClusterId, computeMemberId, parseMemberConfig } from '../../adapters/runtime/node/config.ts';
import { FLAG_SPECS } from '../../adapters/runtime/node/flags.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('etcd flags', () => {
  it('parses --flag value, --flag=value and ETCD_* variables', () => {
    const c = parseMemberConfig(
      [
        '--name',
        'n1',
        '--initial-cluster=n1=http://127.0.0.1:2380,n2=http://127.0.0.1:22380',
        '--snapshot-count',
        '50',
      ],
      { ETCD_DATA_DIR: '/tmp/x', ETCD_HEARTBEAT_INTERVAL: '50' },
    );
    expect(c.name).toBe('n1');
    expect(c.dataDir).toBe('/tmp/x');
    expect(c.heartbeatIntervalMs).toBe(50);
    expect(c.snapshotCount).toBe(50);
    expect([...c.initialCluster.keys()]).toEqual(['n1', 'n2']);
  });

  it("refuses unknown flags with etcd's wording", () => {
    expect(() => parseMemberConfig(['--no-such-flag', 'x'], {})).toThrow(
      'flag provided but not defined: -no-such-flag',
    );
  });

  it('derives the member and cluster IDs exactly as etcd does', () => {
    // Values read from a real etcd 3.4.23 started with these flags (member list / endpoint status -w json).
    const id = computeMemberId(['http://127.0.0.1:42380'], 'etcd-cluster');
    expect(id.toString(16)).toBe('667880157b8812c8');
    expect(computeClusterId([id])).toBe(15875391935852295136n);
  });

  it('names the flag of a value that does not parse, and refuses a value flag without a value', () => {
    expect(() => parseMemberConfig(['--heartbeat-interval', 'abc'], {})).toThrow(
      '--heartbeat-interval: invalid number "abc"',
    );
    expect(() => parseMemberConfig(['--client-cert-auth=maybe'], {})).toThrow(
      '--client-cert-auth: invalid boolean value "maybe"',
    );
    expect(() => parseMemberConfig(['--name'], {})).toThrow('flag needs an argument: -name');
    expect(() => parseMemberConfig(['--name', '--data-dir', 'x'], {})).toThrow(
      'flag needs an argument: -name',
    );
    expect(() => parseMemberConfig([], { ETCD_SNAPSHOT_COUNT: 'lots' })).toThrow(
      '--snapshot-count: invalid number "lots"',
    );
  });

  it("checks timings as etcd's embed.Config does", () => {
    expect(() => parseMemberConfig(['--election-timeout', '400'], {})).toThrow(
      '--election-timeout[400ms] should be at least as 5 times as --heartbeat-interval[100ms]',
    );
    expect(() => parseMemberConfig(['--election-timeout', '60000'], {})).toThrow(
      '--election-timeout[60000ms] is too long, and should be set less than 50000ms',
    );
    expect(
      parseMemberConfig(['--heartbeat-interval', '50', '--election-timeout', '250'], {}).electionTimeoutMs,
    ).toBe(250);
  });

  it('lists flags accepted but not acted on; refuses --force-new-cluster; reads durations', () => {
    const c = parseMemberConfig(['--pre-vote', '--enable-v2=false', '--logger', 'zap'], {});
    expect(c.ignoredFlags).toEqual(['enable-v2', 'logger', 'pre-vote']);
    expect(() => parseMemberConfig(['--force-new-cluster'], {})).toThrow(
      /--force-new-cluster: not supported/,
    );
    expect(parseMemberConfig(['--force-new-cluster=false'], {}).ignoredFlags).toEqual([]);
    const d = parseMemberConfig(
      ['--experimental-watch-progress-notify-interval', '1m30s', '--experimental-corrupt-check-time=5s'],
      {},
    );
    expect(d.watchProgressNotifyIntervalMs).toBe(90_000);
    expect(d.corruptCheckTimeMs).toBe(5000);
  });
});

describe('--config-file (etcd.conf.yml)', () => {
  const write = (text: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'edgecd-conf-'));
    const path = join(dir, 'etcd.conf.yml');
    writeFileSync(path, text);
    return path;
  };
  // The layout of etcd's etcd.conf.yml.sample: empty values, quoted strings, transport-security sections.
  const SAMPLE = [
    "name: 'infra1'",
    'data-dir:',
    'wal-dir:',
    'snapshot-count: 5000',
    'heartbeat-interval: 50',
    'election-timeout: 500',
    'listen-peer-urls: http://127.0.0.1:12380',
    'listen-client-urls: http://127.0.0.1:12379,http://127.0.0.1:12389',
    'initial-advertise-peer-urls: http://127.0.0.1:12380',
    'advertise-client-urls: http://127.0.0.1:12379',
    "initial-cluster: 'infra1=http://127.0.0.1:12380'",
    "initial-cluster-token: 'tok'",
    "initial-cluster-state: 'new'",
    'strict-reconfig-check: false',
    'enable-v2: true',
    'enable-pprof: true',
    "proxy: 'off'",
    'client-transport-security:',
    '  cert-file: /etc/ssl/server.pem',
    '  key-file: /etc/ssl/server-key.pem',
    '  client-cert-auth: true',
    '  trusted-ca-file:',
    '  auto-tls: false',
    'peer-transport-security:',
    '  cert-file: /etc/ssl/peer.pem',
    '  client-cert-auth: true',
    'log-outputs: [stderr]',
    'force-new-cluster: false',
    'auto-compaction-mode: revision',
    "auto-compaction-retention: '100'",
  ].join('\n');

  it("reads etcd's keys, transport-security sections included; flags and ETCD_* are then ignored", () => {
    const path = write(SAMPLE);
    const c = parseMemberConfig(['--config-file', path, '--name', 'ignored'], { ETCD_NAME: 'also-ignored' });
    expect(c.name).toBe('infra1');
    expect(c.dataDir).toBe('infra1.etcd');
    expect(c.snapshotCount).toBe(5000);
    expect([c.heartbeatIntervalMs, c.electionTimeoutMs]).toEqual([50, 500]);
    expect(c.listenClientUrls).toEqual(['http://127.0.0.1:12379', 'http://127.0.0.1:12389']);
    expect([...c.initialCluster.keys()]).toEqual(['infra1']);
    expect(c.initialClusterToken).toBe('tok');
    expect(c.strictReconfigCheck).toBe(false);
    expect([c.certFile, c.keyFile, c.clientCertAuth]).toEqual([
      '/etc/ssl/server.pem',
      '/etc/ssl/server-key.pem',
      true,
    ]);
    expect([c.peerCertFile, c.peerClientCertAuth]).toEqual(['/etc/ssl/peer.pem', true]);
    expect([c.autoCompactionMode, c.autoCompactionRetention]).toEqual(['revision', '100']);
    expect(c.ignoredFlags).toEqual(
      expect.arrayContaining(['enable-v2', 'enable-pprof', 'proxy', 'log-outputs']),
    );
    expect(c.configFileOverrides).toBe(true);
    expect(parseMemberConfig([], { ETCD_CONFIG_FILE: path }).name).toBe('infra1');
  });

  it('--max-concurrent-streams as etcd reads it (strconv.ParseUint base 0, 32 bits), from flags and the file', () => {
    expect(parseMemberConfig([], {}).maxConcurrentStreams).toBe(2 ** 32 - 1);
    const streams = (v: string) =>
      parseMemberConfig([`--max-concurrent-streams=${v}`], {}).maxConcurrentStreams;
    expect([
      streams('100'),
      streams('0x10'),
      streams('0o17'),
      streams('017'),
      streams('0b11'),
      streams('1_000'),
    ]).toEqual([100, 16, 15, 15, 3, 1000]);
    expect(streams('4294967295')).toBe(2 ** 32 - 1);
    expect(streams('0')).toBe(0);
    // Texts read from a real etcd 3.4.23: `invalid value "abc" for flag -max-concurrent-streams: strconv.ParseUint: …`.
    expect(() => streams('abc')).toThrow(
      '--max-concurrent-streams: strconv.ParseUint: parsing "abc": invalid syntax',
    );
    expect(() => streams('4294967296')).toThrow(
      '--max-concurrent-streams: strconv.ParseUint: parsing "4294967296": value out of range',
    );
    for (const bad of ['-1', '+1', '1__0', '_1', '0x', '08', '1.5', ' 1'])
      expect(() => streams(bad)).toThrow(/invalid syntax/);
    expect(parseMemberConfig([], { ETCD_MAX_CONCURRENT_STREAMS: '64' }).maxConcurrentStreams).toBe(64);
    const path = write('max-concurrent-streams: 32');
    expect(parseMemberConfig(['--config-file', path], {}).maxConcurrentStreams).toBe(32);
  });

  it("--grpc-keepalive-min-time, -interval and -timeout: Go durations, etcd's defaults", () => {
    const d = parseMemberConfig([], {});
    expect([d.grpcKeepaliveMinTimeMs, d.grpcKeepaliveIntervalMs, d.grpcKeepaliveTimeoutMs]).toEqual([
      5000, 7_200_000, 20_000,
    ]);
    const c = parseMemberConfig(
      [
        '--grpc-keepalive-min-time=1s',
        '--grpc-keepalive-interval',
        '1m30s',
        '--grpc-keepalive-timeout=500ms',
      ],
      {},
    );
    expect([c.grpcKeepaliveMinTimeMs, c.grpcKeepaliveIntervalMs, c.grpcKeepaliveTimeoutMs]).toEqual([
      1000, 90_000, 500,
    ]);
    expect(parseMemberConfig([], { ETCD_GRPC_KEEPALIVE_INTERVAL: '0' }).grpcKeepaliveIntervalMs).toBe(0);
    expect(() => parseMemberConfig(['--grpc-keepalive-timeout=5'], {})).toThrow('time: invalid duration "5"');
  });

  it('a bad value names its key; a broken file names the file', () => {
    expect(() => parseMemberConfig([`--config-file=${write('heartbeat-interval: fast')}`], {})).toThrow(
      '--heartbeat-interval: invalid number "fast"',
    );
    const broken = write('name: [unclosed');
    expect(() => parseMemberConfig(['--config-file', broken], {})).toThrow(`--config-file ${broken}:`);
  });
});

describe('the edgecd command line', () => {
  const run = (args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin/edgecd.js'), ...args], {
      encoding: 'utf8',
      timeout: 30_000,
    });

  it('--help lists every flag with its default, grouped as etcd; --version reads the package version', () => {
    const help = run(['--help']);
    expect(help.status).toBe(0);
    for (const flag of Object.keys(FLAG_SPECS)) expect(help.stdout).toContain(`--${flag}`);
    expect(help.stdout).toMatch(/Clustering:[\s\S]*--initial-cluster VALUE\n\s+.*\(default: default=http/);
    const version = run(['--version']);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout).toContain(`edgecd Version: ${pkg.version}`);
  });

  it('a bad flag value is one line naming the flag, exit 2', () => {
    const r = run(['--name', 'x', '--heartbeat-interval', 'abc']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('edgecd: --heartbeat-interval: invalid number "abc"');
  });

  it('npm run sim -- --help prints its options; a bad option is a one-line error, not a stack trace', () => {
    const sim = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bin/sim.ts'), ...args], {
        encoding: 'utf8',
        timeout: 30_000,
        cwd: ROOT,
      });
    const help = sim(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--mixed');
    const bad = sim(['--nodes', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe('sim: --nodes: not a whole number: "x"');
    const unknown = sim(['--bogus']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^sim: Unknown option '--bogus'/);
    expect(unknown.stderr).not.toContain('    at ');
  });
});
