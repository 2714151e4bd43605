// The browser demo (demo/) in real Chromium: Vite builds it, a static server on 127.0.0.1 serves dist/demo, and
// playwright-core drives Debian's /usr/bin/chromium at 1280×800. Three edgecd members run in module Web Workers,
// persisted to IndexedDB, over the in-page transport. Every test asserts on the page's DOM (member cards carry
// data-node-id, data-role, data-last-index, …; keyspaces list data-key items) and saves a screenshot to
// test-results/demo/.
//
// Needs /usr/bin/chromium (apt-get install -y chromium; override with CHROMIUM_PATH). Without it the file is
// skipped, unless CI is set: then it fails.

import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { getRequestListener } from '@hono/node-server';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealClock } from '../../adapters/runtime/clock.ts';
import { MemoryStorage } from '../../adapters/storage/memory/index.ts';
import { MemoryNetwork } from '../../adapters/transport/memory/index.ts';
import {
  buildDemo,
  CHROMIUM_PATH,
  chromiumPresent,
  type DemoBrowser,
  openDemo,
  serveStatic,
  waitForLeader,
} from '../../demo/scripts/harness.ts';
import { createGateway, type FetchHandler } from '../../src/api/gateway/index.ts';
import { createNode, type EdgeNode } from '../../src/server/node.ts';
import { FaultModel } from '../../src/sim/fault-model.ts';
import { Rng } from '../../src/sim/rng.ts';

const SHOTS = fileURLToPath(new URL('../../test-results/demo/', import.meta.url));
const ci = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI);
const WAIT = { timeout: 20_000, polling: 50 } as const;

if (!chromiumPresent()) {
  if (ci) {
    describe('browser demo', () => {
      it('needs Chromium', () => {
        throw new Error(`${CHROMIUM_PATH} not found and CI is set: install it (apt-get install -y chromium)`);
      });
    });
  } else {
    const reason = `${CHROMIUM_PATH} not found (apt-get install -y chromium, or set CHROMIUM_PATH)`;
    console.warn(`skipping test/browser/demo.test.ts: ${reason}`);
    describe.skip(`browser demo — skipped: ${reason}`, () => {
      it('runs the demo', () => {});
    });
  }
} else {
  describe('browser demo: 3 members in Web Workers on IndexedDB', () => {
    let server: Awaited<ReturnType<typeof serveStatic>>;
    let browser: DemoBrowser;
    let page: Page;

    beforeAll(async () => {
      mkdirSync(SHOTS, { recursive: true });
      await buildDemo();
      server = await serveStatic();
      browser = await openDemo(`${server.url}?speed=1`);
      page = browser.page;
    }, 90_000);

    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    const shot = (name: string) => page.screenshot({ path: `${SHOTS}${name}.png` });
    const errors = () => (browser.errors.length ? `\npage errors:\n${browser.errors.join('\n')}` : '');

    /** data-* of every member card, by node ID. */
    async function cards(): Promise<Record<string, Record<string, string>>> {
      return page.evaluate(() => {
        const out: Record<string, Record<string, string>> = {};
        for (const e of Array.from(document.querySelectorAll<HTMLElement>('.member[data-node-id]'))) {
          out[e.dataset.nodeId!] = { ...e.dataset } as Record<string, string>;
        }
        return out;
      });
    }

    /** Keys and values in one member's keyspace view. */
    async function keyspace(id: string): Promise<Record<string, string>> {
      return page.evaluate((nodeId) => {
        const out: Record<string, string> = {};
        const items = document.querySelectorAll<HTMLElement>(`.member[data-node-id="${nodeId}"] [data-key]`);
        for (const li of Array.from(items)) {
          out[li.dataset.key!] = li.querySelector('.value')?.textContent ?? '';
        }
        return out;
      }, id);
    }

    async function waitForKey(ids: readonly string[], key: string, value: string): Promise<void> {
      await page.waitForFunction(
        ([nodeIds, k, v]) =>
          nodeIds.every(
            (id) =>
              document.querySelector(`.member[data-node-id="${id}"] [data-key="${k}"] .value`)
                ?.textContent === v,
          ),
        [ids, key, value] as const,
        WAIT,
      );
    }

    /** Types a put into the client panel, sends it via `via` and returns the response state and text. */
    async function put(key: string, value: string, via = 'auto', wait = true): Promise<string> {
      await page.selectOption('#via', via);
      await page.fill('#key', key);
      await page.fill('#value', value);
      await page.fill('#put-lease', '');
      await page.click('#put');
      if (!wait) return '';
      await page.waitForFunction(
        () => document.querySelector('#response')?.getAttribute('data-state') !== 'pending',
        null,
        WAIT,
      );
      return (await page.textContent('#response')) ?? '';
    }

    /** Waits until all three members are up and agree on a quiet log (commit = applied = last index). */
    async function waitSettled(): Promise<Record<string, Record<string, string>>> {
      await page.waitForFunction(
        () => {
          const cs = Array.from(document.querySelectorAll<HTMLElement>('.member[data-node-id]'));
          const last = cs.map((c) => c.dataset.lastIndex);
          return (
            cs.length === 3 &&
            cs.every((c) => c.dataset.role !== 'down' && c.dataset.commit === c.dataset.lastIndex) &&
            cs.every((c) => c.dataset.applied === c.dataset.commit) &&
            new Set(last).size === 1 &&
            document.querySelectorAll('.member[data-role="leader"]').length === 1
          );
        },
        null,
        { timeout: 30_000, polling: 100 },
      );
      return cards();
    }

    it('elects exactly one leader', async () => {
      const leader = await waitForLeader(page).catch((e) => {
        throw new Error(`${e}${errors()}`);
      });
      const roles = Object.values(await cards()).map((c) => c.role);
      expect(roles.filter((r) => r === 'leader')).toHaveLength(1);
      expect(roles.filter((r) => r === 'follower')).toHaveLength(2);
      expect(await page.locator('[data-role=leader]').count()).toBe(1);
      expect(['1', '2', '3']).toContain(leader);
      await shot('01-leader');
    });

    it('a put from the client panel appears in every member keyspace', async () => {
      const response = await put('demo/hello', 'world');
      expect(response).toContain('HTTP 200');
      await waitForKey(['1', '2', '3'], 'demo/hello', 'world');
      for (const id of ['1', '2', '3']) expect((await keyspace(id))['demo/hello']).toBe('world');
      // Get through the gateway reads it back.
      await page.click('#get');
      await page.waitForFunction(
        () => document.querySelector('#response')?.textContent?.includes('demo/hello = world'),
        null,
        WAIT,
      );
      await shot('02-put');
    });

    it('a watch shows events as they happen', async () => {
      await page.fill('#watch-key', 'watched/');
      await page.click('#watch');
      await page.waitForFunction(
        () => document.querySelector('#events')?.textContent?.includes('created'),
        null,
        WAIT,
      );
      await put('watched/a', '1');
      await put('watched/b', '2');
      await page.fill('#key', 'watched/a');
      await page.click('#delete');
      await page.waitForFunction(
        () => document.querySelectorAll('#events [data-event]').length >= 3,
        null,
        WAIT,
      );
      const events = await page.$$eval('#events [data-event]', (els) =>
        els.map((e) => e.textContent ?? '').reverse(),
      );
      expect(events[0]).toMatch(/^PUT watched\/a = 1 @\d+/);
      expect(events[1]).toMatch(/^PUT watched\/b = 2 @\d+/);
      expect(events[2]).toMatch(/^DELETE watched\/a @\d+/);
      await shot('03-watch');
      await page.click('#unwatch');
      await page.waitForFunction(
        () => document.querySelector('#events')?.textContent?.includes('watch ended'),
        null,
        WAIT,
      );
    });

    it('txn compare-and-set and a lease grant go through the gateway', async () => {
      await page.selectOption('#via', 'auto');
      await page.fill('#key', 'cas');
      await page.fill('#cas-expect', '');
      await page.fill('#cas-new', 'first');
      await page.click('#txn');
      await page.waitForFunction(
        () => document.querySelector('#response')?.textContent?.includes('succeeded'),
        null,
        WAIT,
      );
      await page.fill('#cas-expect', 'wrong');
      await page.fill('#cas-new', 'second');
      await page.click('#txn');
      await page.waitForFunction(
        () =>
          document
            .querySelector('#response')
            ?.textContent?.includes('failed: compare was false (current: first)'),
        null,
        WAIT,
      );
      await waitForKey(['1', '2', '3'], 'cas', 'first');

      await page.fill('#lease-ttl', '30');
      await page.click('#lease-grant');
      await page.waitForFunction(
        () => /^\d+$/.test((document.querySelector('#put-lease') as HTMLInputElement).value),
        null,
        WAIT,
      );
      const leaseId = BigInt(await page.inputValue('#put-lease')).toString(16);
      await page.fill('#key', 'leased');
      await page.fill('#value', 'yes');
      await page.click('#put');
      await waitForKey(['1', '2', '3'], 'leased', 'yes');
      await page.waitForFunction(
        (id) => document.querySelectorAll(`.member [data-lease="${id}"]`).length === 3,
        leaseId,
        WAIT,
      );
      expect(await page.textContent(`.member[data-node-id="1"] [data-key="leased"]`)).toContain(
        `lease ${leaseId}`,
      );
      await shot('04-txn-lease');
    });

    it('killing the leader elects another; the restarted member recovers from IndexedDB and catches up', async () => {
      const old = await waitForLeader(page);
      await page.click(`.member[data-node-id="${old}"] .kill`);
      await page.waitForFunction(
        (id) => document.querySelector(`.member[data-node-id="${id}"]`)?.getAttribute('data-role') === 'down',
        old,
        WAIT,
      );
      const others = ['1', '2', '3'].filter((id) => id !== old);
      const next = await waitForLeader(page, 20_000, others);
      expect(next).not.toBe(old);
      expect((await cards())[old].role).toBe('down');
      await shot('05-leader-killed');
      // The survivors still commit.
      expect(await put('after/kill', 'ok')).toContain('HTTP 200');
      await waitForKey(others, 'after/kill', 'ok');

      await page.click(`.member[data-node-id="${old}"] .kill`); // now labelled Restart
      await waitForKey([old], 'after/kill', 'ok');
      const c = await cards();
      expect(Number(c[old].recoveredLastIndex)).toBeGreaterThan(3);
      expect(c[old].role).toBe('follower');
      await shot('06-restarted');
    });

    it('a partitioned minority cannot commit while the majority can, and catches up after heal', async () => {
      await waitSettled();
      const leader = await waitForLeader(page);
      const [minority, other] = ['1', '2', '3'].filter((id) => id !== leader);
      await page.click(`.member[data-node-id="${minority}"] .isolate`);
      await page.waitForFunction(
        (id) => document.querySelector(`.member[data-node-id="${id}"]`)?.getAttribute('data-group') !== '0',
        minority,
        WAIT,
      );

      // The majority commits.
      expect(await put('split/majority', 'yes', leader)).toContain('HTTP 200');
      await waitForKey([leader, other], 'split/majority', 'yes');

      // The minority does not: its write waits, and nobody applies it.
      const minorityCommit = (await cards())[minority].commit;
      await put('split/minority', 'no', minority, false);
      await page.waitForTimeout(2_500);
      expect(await page.getAttribute('#response', 'data-state')).toBe('pending');
      for (const id of ['1', '2', '3']) expect(await keyspace(id)).not.toHaveProperty('split/minority');
      expect(await keyspace(minority)).not.toHaveProperty('split/majority');
      const c = await cards();
      expect(c[minority].commit).toBe(minorityCommit);
      expect(Number(c[leader].commit)).toBeGreaterThan(Number(minorityCommit));
      await shot('07-partitioned');

      await page.click('#heal');
      await waitForKey([minority], 'split/majority', 'yes');
      // The minority's write ends one way or the other (forwarded after heal, or timed out): never pending forever.
      await page.waitForFunction(
        () => document.querySelector('#response')?.getAttribute('data-state') !== 'pending',
        null,
        { timeout: 15_000, polling: 100 },
      );
      const settled = await waitSettled();
      expect(new Set(Object.values(settled).map((s) => s.lastIndex)).size).toBe(1);
      await shot('08-healed');
    });

    it('a page reload restores every member log from IndexedDB', async () => {
      // Freeze the cluster on a quiet, durable log (the leader checkpoints leases on a timer, so a running
      // cluster may append at any moment), then reload: the members die with the page and start again.
      let before: Record<string, Record<string, string>> = {};
      for (let attempt = 0; attempt < 5; attempt++) {
        await waitSettled();
        await page.keyboard.press('Space');
        await page.waitForTimeout(300);
        before = await cards();
        const v = Object.values(before);
        const quiet = v.every((c) => c.lastIndex === c.stable && c.lastIndex === c.commit);
        if (quiet && new Set(v.map((c) => c.lastIndex)).size === 1) break;
        await page.keyboard.press('Space');
      }
      expect(await page.evaluate(() => document.body.classList.contains('paused'))).toBe(true);
      const labels = await page.$$eval('.member[data-node-id="1"] .log .entry', (els) =>
        els.map((e) => `${e.getAttribute('data-index')}:${e.querySelector('em')?.textContent}`),
      );
      await page.reload();
      await page.waitForFunction(
        () => document.querySelectorAll('.member[data-recovered-last-index]').length === 3,
        null,
        WAIT,
      );
      const after = await cards();
      for (const id of ['1', '2', '3']) {
        expect(Number(after[id].recoveredLastIndex), `n${id}`).toBe(Number(before[id].lastIndex));
      }
      // The same entries are shown again once the members report (new ones may follow a new election).
      await page.waitForFunction(
        (n) =>
          Number(document.querySelector<HTMLElement>('.member[data-node-id="1"]')?.dataset.lastIndex ?? 0) >=
          n,
        Number(before['1'].lastIndex),
        WAIT,
      );
      await waitForLeader(page);
      const again = await page.$$eval('.member[data-node-id="1"] .log .entry', (els) =>
        els.map((e) => `${e.getAttribute('data-index')}:${e.querySelector('em')?.textContent}`),
      );
      const lastBefore = Number(before['1'].lastIndex);
      const common = (xs: string[]) => xs.filter((x) => Number(x.split(':')[0]) <= lastBefore);
      expect(common(again).slice(-10)).toEqual(common(labels).slice(-10));
      for (const id of ['1', '2', '3']) expect((await keyspace(id))['demo/hello']).toBe('world');
      await shot('09-reloaded');
    });

    it('pausing freezes the cluster and n steps one message at a time', async () => {
      await waitForLeader(page);
      await page.keyboard.press('Space');
      await page.waitForFunction(() => document.body.classList.contains('paused'), null, WAIT);
      const frozen = await cards();
      await page.waitForTimeout(1_500);
      expect((await cards())['1'].term).toBe(frozen['1'].term);
      // Steps through quiet time collapse into one line whose data-count grows.
      const countSteps = () =>
        page.$$eval('#timeline-list li[data-kind="step"]', (lis) =>
          lis.reduce((sum, li) => sum + Number((li as HTMLElement).dataset.count ?? 1), 0),
        );
      const steps = await countSteps();
      for (let i = 0; i < 5; i++) await page.keyboard.press('n');
      await page.waitForFunction(
        (n) =>
          Array.from(document.querySelectorAll<HTMLElement>('#timeline-list li[data-kind="step"]')).reduce(
            (sum, li) => sum + Number(li.dataset.count ?? 1),
            0,
          ) >=
          n + 5,
        steps,
        WAIT,
      );
      await shot('10-paused');
      await page.keyboard.press('Space');
      await page.waitForFunction(() => !document.body.classList.contains('paused'), null, WAIT);
      await waitForLeader(page);
    });

    it('dragging a member into empty space isolates it; clicking a link cuts, slows and restores it', async () => {
      const center = async (id: string) => {
        const b = (await page.locator(`[data-net-node="${id}"] .body`).boundingBox())!;
        return [b.x + b.width / 2, b.y + b.height / 2] as const;
      };
      const [from, n1, n3] = [await center('2'), await center('1'), await center('3')];
      const to = [(n1[0] + n3[0]) / 2, (n1[1] + n3[1]) / 2] as const;
      await page.mouse.move(...from);
      await page.mouse.down();
      for (const f of [0.25, 0.5, 0.75, 1]) {
        await page.mouse.move(from[0] + (to[0] - from[0]) * f, from[1] + (to[1] - from[1]) * f);
      }
      await page.mouse.up();
      expect(await page.getAttribute('.member[data-node-id="2"]', 'data-group')).not.toBe('0');
      expect(await page.locator('[data-link="1-2"].blocked').count()).toBe(1);
      expect(await page.locator('[data-link="2-3"].blocked').count()).toBe(1);
      expect(await page.locator('[data-link="1-3"].blocked').count()).toBe(0);
      await shot('11-dragged');
      await page.keyboard.press('h');
      expect(await page.locator('.link.blocked').count()).toBe(0);

      await page.click('[data-link="1-3"] .hit');
      expect(await page.locator('[data-link="1-3"].link-cut.blocked').count()).toBe(1);
      await page.click('[data-link="1-3"] .hit');
      expect(await page.locator('[data-link="1-3"].link-slow').count()).toBe(1);
      await page.click('[data-link="1-3"] .hit');
      expect(await page.locator('[data-link="1-3"].link-ok').count()).toBe(1);
      await waitForLeader(page);
    });

    it('attaches to a live Node cluster through its cluster-state stream', async () => {
      const cluster = await startNodeCluster();
      try {
        await page.click('[data-tab="attach"]');
        await page.fill('#attach-url', cluster.urls[0]);
        await page.click('#attach');
        await page.waitForFunction(
          () =>
            document.querySelectorAll('#live tbody tr').length === 3 &&
            document.querySelectorAll('#live [data-live-role="leader"]').length === 1,
          null,
          WAIT,
        );
        const rows = await page.$$eval('#live tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
        expect(rows.join('|')).toContain('node-1');
        await shot('13-attach');
        await page.click('#detach');
      } finally {
        await cluster.close();
      }
    });
  });
}

/** Three real members in this Node process (memory transport, memory storage), each serving its gateway over HTTP. */
async function startNodeCluster(): Promise<{ urls: string[]; close(): Promise<void> }> {
  const clock = new RealClock();
  const network = new MemoryNetwork(clock, new FaultModel(new Rng(1), { minDelayMs: 1, maxDelayMs: 2 }));
  const handlers: (FetchHandler | undefined)[] = [];
  const servers: Server[] = [];
  const urls: string[] = [];
  for (let i = 0; i < 3; i++) {
    const listener = getRequestListener(
      (req) => handlers[i]?.(req) ?? new Response('starting', { status: 503 }),
    );
    const s = createServer(listener);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
    servers.push(s);
    urls.push(`http://127.0.0.1:${(s.address() as AddressInfo).port}`);
  }
  const members = [1, 2, 3].map((id) => ({ id: BigInt(id), name: `node-${id}`, peerURLs: [`mem://${id}`] }));
  const nodes: EdgeNode[] = [];
  for (let i = 0; i < 3; i++) {
    const node = await createNode({
      id: BigInt(i + 1),
      name: `node-${i + 1}`,
      clusterId: 77n,
      members,
      clientURLs: [urls[i]],
      storage: new MemoryStorage(),
      transport: network.transport(BigInt(i + 1)),
      clock,
      random: new Rng(100 + i),
      tickMs: 50,
      electionTimeoutMs: 500,
    });
    nodes.push(node);
    handlers[i] = createGateway(node, { clock });
  }
  return {
    urls,
    async close() {
      for (const s of servers) s.closeAllConnections();
      await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      for (const n of nodes) await n.close();
    },
  };
}
