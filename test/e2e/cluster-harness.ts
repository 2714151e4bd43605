// Real edgecd clusters for end-to-end tests: member processes on 127.0.0.1 (free ports probed first), etcd's
// own flags, data in a temp dir. Every process started is recorded and killed by PID on teardown; every wait
// is bounded.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const ENTRY = join(ROOT, 'bin', 'edgecd.js');

/** Ports this process has handed out: the kernel may give a just-closed probe's port again (a member's client and
 * peer port were once the same), so no port is handed out twice. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

export interface MemberSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

export interface ClusterOptions {
  readonly size?: number;
  readonly snapshotCount?: number;
  readonly extraFlags?: readonly string[];
  /** `https`: client URLs are https:// (give --cert-file etc. in extraFlags or memberFlags). Default http. */
  readonly clientScheme?: 'http' | 'https';
  /** `https`: peer URLs (listen, advertise, --initial-cluster) are https://. Default http. */
  readonly peerScheme?: 'http' | 'https';
  /** Flags for one member only (e.g. its own certificates), after extraFlags. */
  readonly memberFlags?: (m: MemberSpec) => readonly string[];
  /** How the harness's own health/status requests reach an https client port (CA, client certificate). */
  readonly https?: { readonly ca: string; readonly cert?: string; readonly key?: string };
  /**
   * The port a member advertises to its peers (--initial-advertise-peer-urls, --initial-cluster), when it is not
   * the port it listens on: e.g. a fault-injecting proxy's (test/e2e/jepsen/). Default: its peer port.
   */
  readonly advertisePeerPort?: (m: MemberSpec) => number | undefined;
}

export class TestCluster {
  readonly members: MemberSpec[] = [];
  private readonly procs = new Map<string, ChildProcess>();
  readonly logs = new Map<string, string[]>();
  readonly root: string;

  private constructor(private readonly options: ClusterOptions) {
    this.root = mkdtempSync(join(tmpdir(), 'edgecd-e2e-'));
  }

  /**
   * Starts a fresh cluster. A probed port can be taken by another process (a parallel test file's outgoing
   * connection) before the member binds it: when a member exits with EADDRINUSE, the cluster starts over on new
   * ports (at most 3 times).
   */
  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    for (let attempt = 1; ; attempt++) {
      const c = await TestCluster.prepare(options);
      try {
        await c.startAll();
        return c;
      } catch (e) {
        const taken = c.members.some((m) => c.tail(m.name, 1000).includes('EADDRINUSE'));
        await c.close();
        if (!taken || attempt === 3) throw e;
      }
    }
  }

  /**
   * Like `start`, but spawns nothing yet: ports and data dirs are chosen so that they can be prepared first (e.g.
   * by `edgecd snapshot restore`); then `startAll()`.
   */
  static async prepare(options: ClusterOptions = {}): Promise<TestCluster> {
    const c = new TestCluster(options);
    for (let i = 1; i <= (options.size ?? 3); i++) {
      c.members.push({
        name: `m${i}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        dataDir: join(c.root, `m${i}`),
      });
    }
    return c;
  }

  /** Spawns every member (on whatever its data dir holds) and waits until all are healthy. */
  async startAll(): Promise<void> {
    for (const m of this.members) this.spawn(m);
    await this.waitHealthy();
  }

  /** The --initial-cluster value the members are started with (their --initial-cluster-token is `e2e`). */
  get initialCluster(): string {
    return this.members.map((x) => `${x.name}=${this.peerUrl(x)}`).join(',');
  }

  /** A member's peer URL (http:// or https:// per `peerScheme`). */
  peerUrl(m: MemberSpec): string {
    const port = this.options.advertisePeerPort?.(m) ?? m.peerPort;
    return `${this.options.peerScheme ?? 'http'}://127.0.0.1:${port}`;
  }

  /** A member's client URL (http:// or https:// per `clientScheme`). */
  clientUrl(name: string): string {
    return `${this.options.clientScheme ?? 'http'}://${this.endpoint(name)}`;
  }

  /** Every member's client URL, comma-separated (etcdctl --endpoints for https clusters). */
  get clientUrls(): string {
    return this.members.map((m) => this.clientUrl(m.name)).join(',');
  }

  get endpoints(): string {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`).join(',');
  }

  endpoint(name: string): string {
    return `127.0.0.1:${this.member(name).clientPort}`;
  }

  member(name: string): MemberSpec {
    const m = this.members.find((x) => x.name === name);
    if (!m) throw new Error(`no member ${name}`);
    return m;
  }

  /** A new member's ports and data dir (for `member add`), listed in the cluster; not started. */
  async newMemberSpec(name: string): Promise<MemberSpec> {
    const m = {
      name,
      clientPort: await freePort(),
      peerPort: await freePort(),
      dataDir: join(this.root, name),
    };
    this.members.push(m);
    return m;
  }

  /** Exit code of a member's process once it exits on its own (bounded). */
  async waitExit(name: string, timeoutMs = 15_000): Promise<number | null> {
    const p = this.procs.get(name);
    if (!p) throw new Error(`no process for ${name}`);
    if (!this.isRunning(name)) return p.exitCode;
    return withTimeout(
      new Promise<number | null>((r) => p.once('exit', (code) => r(code))),
      timeoutMs,
      `member ${name} did not exit:\n${this.tail(name)}`,
    );
  }

  spawn(m: MemberSpec, extraArgs: readonly string[] = []): void {
    const initialCluster = this.initialCluster;
    const clientUrl = `${this.options.clientScheme ?? 'http'}://127.0.0.1:${m.clientPort}`;
    const peerUrl = this.peerUrl(m);
    const listenPeerUrl = `${this.options.peerScheme ?? 'http'}://127.0.0.1:${m.peerPort}`;
    const args = [
      ENTRY,
      '--name',
      m.name,
      '--data-dir',
      m.dataDir,
      '--listen-client-urls',
      clientUrl,
      '--advertise-client-urls',
      clientUrl,
      '--listen-peer-urls',
      listenPeerUrl,
      '--initial-advertise-peer-urls',
      peerUrl,
      '--initial-cluster',
      initialCluster,
      '--initial-cluster-token',
      'e2e',
      '--heartbeat-interval',
      '50',
      '--election-timeout',
      '500',
      ...(this.options.snapshotCount ? ['--snapshot-count', String(this.options.snapshotCount)] : []),
      ...(this.options.extraFlags ?? []),
      ...(this.options.memberFlags?.(m) ?? []),
      ...extraArgs,
    ];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    const log: string[] = this.logs.get(m.name) ?? [];
    this.logs.set(m.name, log);
    p.stdout?.on('data', (d) => log.push(String(d)));
    p.stderr?.on('data', (d) => log.push(String(d)));
    this.procs.set(m.name, p);
  }

  isRunning(name: string): boolean {
    const p = this.procs.get(name);
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  /** Sends a signal to a member's process (e.g. SIGSTOP / SIGCONT to freeze it). */
  signal(name: string, signal: NodeJS.Signals): void {
    this.procs.get(name)?.kill(signal);
  }

  /** The PID of a member's current process (undefined when it was never started). */
  pid(name: string): number | undefined {
    return this.procs.get(name)?.pid;
  }

  /** kill -9: no chance to sync or hand over. */
  kill9(name: string): void {
    this.procs.get(name)?.kill('SIGKILL');
  }

  /** SIGTERM and wait for the exit code. */
  async stop(name: string, timeoutMs = 15_000): Promise<number | null> {
    const p = this.procs.get(name);
    if (!p || !this.isRunning(name)) return p?.exitCode ?? null;
    const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
    p.kill('SIGTERM');
    return withTimeout(exited, timeoutMs, `member ${name} did not stop`);
  }

  /** Starts a stopped (or just killed) member again on the same data dir (`extraArgs` after its usual flags). */
  async restart(name: string, extraArgs: readonly string[] = []): Promise<void> {
    const p = this.procs.get(name);
    if (p && this.isRunning(name)) {
      if (!p.killed) throw new Error(`${name} is running`);
      await withTimeout(new Promise((r) => p.once('exit', r)), 10_000, `${name} did not exit`);
    }
    this.spawn(this.member(name), extraArgs);
  }

  /** fetch on a member's client port; over node:https with the `https` option's CA and certificate. */
  async clientFetch(
    name: string,
    path: string,
    init: { method?: string; body?: string } = {},
  ): Promise<Response> {
    const tls = this.options.https;
    if (!tls) {
      return fetch(`http://${this.endpoint(name)}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
    }
    return new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(
        `https://${this.endpoint(name)}${path}`,
        { ...tls, method: init.method ?? 'GET', agent: false, timeout: 5000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const status = res.statusCode ?? 500;
            const body = status === 204 || status === 304 ? null : Buffer.concat(chunks);
            resolve(new Response(body, { status }));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(init.body);
    });
  }

  async health(name: string): Promise<boolean> {
    try {
      const r = this.options.https
        ? await this.clientFetch(name, '/health')
        : await fetch(`http://${this.endpoint(name)}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await r.json()) as { health: string };
      return body.health === 'true';
    } catch {
      return false;
    }
  }

  async waitHealthy(
    names = this.members.filter((m) => this.isRunning(m.name)).map((m) => m.name),
    timeoutMs = 20_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const n of names) {
      while (!(await this.health(n))) {
        if (Date.now() > deadline) throw new Error(`member ${n} not healthy in time:\n${this.tail(n)}`);
        if (!this.isRunning(n)) throw new Error(`member ${n} exited:\n${this.tail(n)}`);
        await sleep(100);
      }
    }
  }

  tail(name: string, lines = 30): string {
    return (this.logs.get(name) ?? []).join('').split('\n').slice(-lines).join('\n');
  }

  /** Status of one member over the gateway. */
  async status(name: string): Promise<{ leader: string; raftTerm: string; header: { member_id: string } }> {
    const r = this.options.https
      ? await this.clientFetch(name, '/v3/maintenance/status', { method: 'POST', body: '{}' })
      : await fetch(`http://${this.endpoint(name)}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
        });
    return (await r.json()) as { leader: string; raftTerm: string; header: { member_id: string } };
  }

  async leaderName(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const m of this.members) {
        if (!this.isRunning(m.name)) continue;
        try {
          const s = await this.status(m.name);
          if (s.leader && s.leader === s.header.member_id) return m.name;
        } catch {
          // not up yet
        }
      }
      await sleep(100);
    }
    throw new Error('no leader in time');
  }

  async close(): Promise<void> {
    for (const [, p] of this.procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.all(
      [...this.procs.values()].map((p) =>
        p.exitCode === null && p.signalCode === null ? new Promise((r) => p.once('exit', r)) : undefined,
      ),
    );
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** Runs the real etcdctl (Debian's etcd-client, API v3) with a timeout. */
export function etcdctl(endpoints: string, args: readonly string[], input?: string, timeoutMs = 15_000) {
  const r = spawnSync(
    'etcdctl',
    [`--endpoints=${endpoints}`, '--dial-timeout=3s', '--command-timeout=10s', ...args],
    {
      env: { ...process.env, ETCDCTL_API: '3' },
      input,
      encoding: 'utf8',
      timeout: timeoutMs,
    },
  );
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(what)), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
