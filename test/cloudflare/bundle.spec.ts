// The deployable bundle builds, offline: `wrangler deploy --dry-run` (what `npm run deploy:dry-run` runs) bundles
// wrangler.toml's Worker with its Durable Object class, without an account, and without Node built-ins.

import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** `wrangler deploy --dry-run ARGS --outdir OUT`, offline; resolves with its output. */
async function dryRun(args: readonly string[], out: string): Promise<string> {
  const { stdout, stderr } = await promisify(execFile)(
    join(ROOT, 'node_modules/.bin/wrangler'),
    ['deploy', '--dry-run', ...args, '--outdir', out],
    {
      cwd: ROOT,
      timeout: 60_000,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_HIDE_BANNER: 'true',
        CI: 'true',
      },
    },
  );
  return stdout + stderr;
}

describe('wrangler deploy --dry-run', () => {
  let out: string | undefined;
  afterAll(async () => {
    if (out) await rm(out, { recursive: true, force: true });
  });

  it('bundles the Worker and EdgecdMember offline, with no Node built-ins', async () => {
    out = await mkdtemp(join(tmpdir(), 'edgecd-bundle-'));
    const log = await dryRun([], out);
    expect(log).toContain('--dry-run: exiting now.');
    expect(log).toContain('EDGECD_MEMBER');
    const files = await readdir(out);
    const main = files.find((f) => f.endsWith('.js'));
    expect(main).toBeDefined();
    const code = await readFile(join(out, main!), 'utf8');
    // Plain booleans: a failing string matcher would print the whole bundle.
    expect(/export\s*\{[^}]*\bEdgecdMember\b/.test(code), 'EdgecdMember is exported').toBe(true);
    expect(/from\s*["']node:|require\(["']node:/.test(code), 'imports a Node built-in').toBe(false);
    expect(code.length).toBeLessThan(3 * 1024 * 1024); // well under the Workers script size limit
  }, 90_000);

  it('bundles the multi-region example (docs/wrangler.multi-region.toml) with its location hints', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgecd-bundle-mr-'));
    try {
      const log = await dryRun(['-c', 'docs/wrangler.multi-region.toml'], dir);
      expect(log).toContain('--dry-run: exiting now.');
      expect(log).toContain('EDGECD_LOCATION_HINTS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
