// DurableObjectStorage across a restart of the whole runtime: Miniflare (workerd) persists Durable Object
// storage to a directory, is disposed, and a new Miniflare on the same directory reads the log back. Runs in
// Node (the `fast` project); the adapter runs in workerd, bundled from test/workerd/restart-worker.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

/** What the test uses of a Durable Object namespace binding, seen from Node. */
interface Namespace {
  idFromName(name: string): unknown;
  get(id: unknown): { fetch(url: string): Promise<{ status: number; json(): Promise<unknown> }> };
}

describe('durable-object storage across a Miniflare restart', () => {
  let dir: string;
  let script: string;
  let mf: Miniflare | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'edgecd-do-restart-'));
    const bundled = await build({
      entryPoints: [new URL('./restart-worker.ts', import.meta.url).pathname],
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      target: 'es2022',
      external: ['cloudflare:workers'],
      write: false,
      logLevel: 'silent',
    });
    script = bundled.outputFiles[0].text;
  }, 30_000);

  afterAll(async () => {
    await mf?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  async function request(path: string): Promise<unknown> {
    mf = new Miniflare({
      modules: true,
      script,
      compatibilityDate: '2026-04-01',
      cf: false,
      durableObjects: { RESTART_TEST: { className: 'RestartTestObject', useSQLite: true } },
      durableObjectsPersist: dir,
    });
    try {
      // Miniflare types its bindings with @cloudflare/workers-types, which this project does not install.
      const namespace = (await mf.getDurableObjectNamespace('RESTART_TEST')) as unknown as Namespace;
      const response = await namespace.get(namespace.idFromName('log')).fetch(`http://do${path}`);
      expect(response.status).toBe(200);
      return await response.json();
    } finally {
      await mf.dispose();
      mf = undefined;
    }
  }

  it('reads back in a new runtime what the last one wrote', async () => {
    const empty = await request('/read');
    expect(empty).toEqual({ hardState: { term: 0, vote: '0', commit: 0 }, entries: [] });
    const written = await request('/write');
    const read = await request('/read');
    expect(read).toEqual(written);
    expect(read).toMatchObject({
      hardState: { vote: '18446744073709551615', commit: 42 },
      snapshot: { index: 40, size: 3_000_000 },
      entries: [{ index: 41, type: 'confChange' }, { size: 2_500_000 }, { size: 0 }],
    });
  }, 60_000);
});
