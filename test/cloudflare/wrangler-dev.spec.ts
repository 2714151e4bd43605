// The Worker over real HTTP: `wrangler dev --local` (offline, no account, no telemetry) serves wrangler.toml's
// Worker and its three EdgecdMember Durable Objects on a free port of 127.0.0.1; the JSON gateway conformance
// suite runs against it. Runs in Node (project `cloudflare-wrangler` of vitest.workerd.config.ts).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGatewayConformance } from '../conformance/gateway.ts';
import { startWranglerDev, type WranglerDev } from './wrangler.ts';

/** Waits until the cluster has a leader and takes writes (the first request wakes the members). */
async function waitForCluster(baseUrl: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`${baseUrl}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: btoa('edgecd-warmup'), value: btoa('1') }),
        signal: AbortSignal.timeout(15_000),
      });
      if (res.ok) return;
    } catch {}
    if (Date.now() > deadline) throw new Error('the cluster did not take a write in time');
    await new Promise((r) => setTimeout(r, 250));
  }
}

let shared: Promise<WranglerDev> | undefined;
let users = 0;

/** One wrangler dev for the whole file (the suites below take turns on it). */
async function acquire(): Promise<WranglerDev> {
  users++;
  shared ??= startWranglerDev().then(async (dev) => {
    await waitForCluster(dev.baseUrl);
    return dev;
  });
  return shared;
}

async function release(): Promise<void> {
  users--;
  if (users === 0 && shared) {
    const dev = await shared;
    shared = undefined;
    await dev.stop();
  }
}

// Held for the whole file, so the suites below share one wrangler dev.
beforeAll(acquire, 90_000);
afterAll(release, 30_000);

runGatewayConformance('Cloudflare Worker + Durable Objects (wrangler dev --local, real HTTP)', async () => {
  const dev = await acquire();
  return { baseUrl: dev.baseUrl, close: release };
});

describe('wrangler dev: the Worker over real HTTP', () => {
  let dev: WranglerDev;
  beforeAll(async () => {
    dev = await acquire();
  }, 90_000);
  afterAll(release, 30_000);

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`${dev.baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  it('serves /, /health and /version', async () => {
    const root = (await (await fetch(`${dev.baseUrl}/`)).json()) as { members: unknown[] };
    expect(root.members).toHaveLength(3);
    expect(await (await fetch(`${dev.baseUrl}/health`)).json()).toEqual({ health: 'true' });
    const version = (await (await fetch(`${dev.baseUrl}/version`)).json()) as Record<string, string>;
    expect(version.etcdserver).toBe('3.4.23');
  });

  it('a write is readable through every member (100 puts, then ranges from random members)', async () => {
    const key = btoa(`wrangler-${Math.random()}`);
    for (let i = 0; i < 100; i++) {
      const put = await post('/v3/kv/put', { key, value: btoa(String(i)) });
      expect(put.status).toBe(200);
    }
    const members = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = await post('/v3/kv/range', { key });
      expect(r.status).toBe(200);
      const kvs = r.json.kvs as { value: string; version: string }[];
      expect(atob(kvs[0].value)).toBe('99');
      expect(kvs[0].version).toBe('100');
      members.add((r.json.header as { member_id: string }).member_id);
    }
    expect(members.size).toBeGreaterThan(1);
  });

  it('the member list names the three Durable Objects', async () => {
    const r = await post('/v3/cluster/member/list', {});
    const names = (r.json.members as { name: string; peerURLs: string[] }[]).map((m) => m.name).sort();
    expect(names).toEqual(['member-1', 'member-2', 'member-3']);
  });

  it('unknown paths are 404', async () => {
    const res = await fetch(`${dev.baseUrl}/nope`);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('404 page not found');
  });
});
