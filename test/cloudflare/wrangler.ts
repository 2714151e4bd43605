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
  stop(): Promise<void>;
}

/** Starts `wrangler dev --local` on a free port; resolves once it answers, or rejects after `timeoutMs`. */
export async function startWranglerDev(
  timeoutMs = 60_000,
  options: { readonly vars?: Readonly<Record<string, string>> } = {},
): Promise<WranglerDev> {
  const port = await freePort();
  const state = await mkdtemp(join(tmpdir(), 'edgecd-wrangler-'));
  let log = '';
  const child: ChildProcess = spawn(
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
      ...Object.entries(options.vars ?? {}).flatMap(([k, v]) => ['--var', `${k}:${v}`]),
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
  child.stdout?.on('data', (d) => (log += String(d)));
  child.stderr?.on('data', (d) => (log += String(d)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {}
      const killed = await Promise.race([
        exited.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 5000)),
      ]);
      if (!killed) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
        await exited;
      }
    }
    await rm(state, { recursive: true, force: true });
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited (${child.exitCode}):\n${log}`);
    }
    try {
      const res = await fetch(`${baseUrl}/`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        await res.text();
        break;
      }
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev not ready after ${timeoutMs} ms:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { baseUrl, output: () => log, stop };
}
