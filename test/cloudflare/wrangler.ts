// Starts `wrangler dev --local` (offline: no account, no telemetry) for the tests in this folder: detached in its
// own process group, on a free port of 127.0.0.1, with fresh state in a temporary directory; `stop()` ends that
// process group by its ID (so its workerd child releases the port) and removes the state.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface WranglerDev {
  readonly baseUrl: string;
  readonly output: () => string;
  /** Stops it and removes its state. */
  stop(): Promise<void>;
  /** Stops it (every Durable Object leaves memory, as an eviction or a reset does) and starts it again on the
   * same port and persisted state. */
  restart(): Promise<void>;
  /** SIGSTOP / SIGCONT of its process group: the Worker and its objects freeze, as if cut off. */
  pause(): void;
  resume(): void;
}

function spawnWrangler(port: number, state: string, vars: Readonly<Record<string, string>>): ChildProcess {
  return spawn(
    join(ROOT, 'node_modules/.bin/wrangler'),
    [
      'dev',
      '--local',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--persist-to',
      state,
      '--show-interactive-dev-session=false',
      ...Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CI: 'true',
      },
    },
  );
}

/** Ends a child's process group by its ID (SIGTERM, then SIGKILL after 5 s) and waits for the child. */
async function endGroup(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGCONT');
    process.kill(-child.pid, 'SIGTERM');
  } catch {}
  const ended = await Promise.race([
    exited.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
  ]);
  if (!ended) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {}
    await exited;
  }
}

/** Starts `wrangler dev --local` on a free port; resolves once it answers, or rejects after `timeoutMs`. */
export async function startWranglerDev(
  timeoutMs = 60_000,
  options: { readonly vars?: Readonly<Record<string, string>> } = {},
): Promise<WranglerDev> {
  const port = await freePort();
  const state = await mkdtemp(join(tmpdir(), 'edgecd-wrangler-'));
  const baseUrl = `http://127.0.0.1:${port}`;
  let log = '';
  let child: ChildProcess;
  let exited: Promise<void>;
  const launch = async () => {
    child = spawnWrangler(port, state, options.vars ?? {});
    child.stdout?.on('data', (d) => (log += String(d)));
    child.stderr?.on('data', (d) => (log += String(d)));
    const current = child;
    exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (current.exitCode !== null) throw new Error(`wrangler dev exited (${current.exitCode}):\n${log}`);
      try {
        const res = await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) {
          await res.text();
          return;
        }
      } catch {}
      if (Date.now() > deadline) throw new Error(`wrangler dev not ready after ${timeoutMs} ms:\n${log}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const stop = async () => {
    await endGroup(child, exited);
    await rm(state, { recursive: true, force: true });
  };
  try {
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  const signal = (sig: NodeJS.Signals) => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, sig);
  };
  return {
    baseUrl,
    output: () => log,
    stop,
    async restart() {
      await endGroup(child, exited);
      await launch();
    },
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
  };
}
