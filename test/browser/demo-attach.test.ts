// Attaching the demo to a live cluster, in real Chromium against real edgecd processes on 127.0.0.1: the main
// graph and the cards switch to the attached members (one circle and one card per member, by its real ID, with
// its role and term as its own feed reports them), a member killed by its PID turns "unreachable" on its circle
// and card (with the backoff the page retries it with), and detaching brings the in-page cluster back.
// Every wait is a bounded poll on the page's DOM. Screenshots go to test-results/demo-attach/ (not committed).

import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  buildDemo,
  type DemoBrowser,
  openDemo,
  serveStatic,
  waitForLeader,
} from '../../demo/scripts/harness.ts';
import { TestCluster } from '../e2e/cluster-harness.ts';
import { describeWithChromium } from './describe-chromium.ts';

const SHOTS = fileURLToPath(new URL('../../test-results/demo-attach/', import.meta.url));
const WAIT = { timeout: 30_000, polling: 100 } as const;

interface Shown {
  mode: string | undefined;
  circles: { id: string; role: string; runtime: string }[];
  cards: { id: string; name: string; role: string; term: string; reach: string; retry: string }[];
}

/** What the main graph and the cards show now. */
function shown(page: Page): Promise<Shown> {
  return page.evaluate(() => ({
    mode: document.body.dataset.mode,
    circles: Array.from(document.querySelectorAll<SVGElement>('#nodes [data-net-node]')).map((c) => ({
      id: c.dataset.nodeId ?? c.dataset.netNode ?? '',
      role: c.dataset.role ?? '',
      runtime: c.dataset.runtime ?? '',
    })),
    cards: Array.from(document.querySelectorAll<HTMLElement>('#members .member[data-node-id]')).map((c) => ({
      id: c.dataset.nodeId ?? '',
      name: c.dataset.name ?? '',
      role: c.dataset.role ?? '',
      term: c.dataset.term ?? '',
      reach: c.dataset.reach ?? '',
      retry: c.querySelector('.retry')?.textContent ?? '',
    })),
  }));
}

/** Polls (bounded) until `ok` holds for what the page shows; the failure names the last thing seen. */
async function until(page: Page, what: string, ok: (s: Shown) => boolean): Promise<Shown> {
  const deadline = Date.now() + WAIT.timeout;
  let last = await shown(page);
  while (!ok(last)) {
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not reached; page shows ${JSON.stringify(last)}\n${await page.textContent('#attach-status')}`,
      );
    await page.waitForTimeout(WAIT.polling);
    last = await shown(page);
  }
  return last;
}

describeWithChromium('browser demo: an attached live cluster in the main graph and cards', () => {
  let c: TestCluster;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    c = await TestCluster.start();
    await buildDemo();
    server = await serveStatic();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await c?.close();
  });

  it('draws every member, marks one killed by its PID unreachable, and gives the graph back on detach', async () => {
    browser = await openDemo(`${server.url}?speed=1`);
    const page = browser.page;
    await waitForLeader(page);
    const inPage = await shown(page);
    expect(inPage.cards.map((x) => x.id)).toEqual(['1', '2', '3']);

    await page.click('[data-tab="attach"]');
    await page.fill('#attach-url', c.endpoint('m1')); // no scheme, as the CLI prints it
    await page.click('#attach');
    const attached = await until(
      page,
      'three live members with one leader',
      (s) =>
        s.mode === 'attached' &&
        s.circles.length === 3 &&
        s.cards.length === 3 &&
        s.circles.filter((x) => x.role === 'leader').length === 1 &&
        s.circles.filter((x) => x.role === 'follower').length === 2 &&
        s.cards.every((x) => x.reach === 'streaming' && Number(x.term) > 0),
    );
    // Real member IDs, not the in-page cluster's 1, 2, 3; circles and cards name the same members.
    const ids = attached.cards.map((x) => x.id).sort();
    expect(attached.circles.map((x) => x.id).sort()).toEqual(ids);
    expect(ids.some((id) => ['1', '2', '3'].includes(id))).toBe(false);
    expect(attached.circles.every((x) => x.runtime === 'node')).toBe(true);
    expect(attached.cards.map((x) => x.name).sort()).toEqual(['m1', 'm2', 'm3']);
    // The cards show each member's term as it reports it: the term the cluster's leader is in.
    const leaderCard = attached.cards.find((x) => x.role === 'leader')!;
    const status = await c.status(leaderCard.name);
    expect(attached.cards.map((x) => x.term)).toEqual(attached.cards.map(() => String(status.raftTerm)));
    expect(await page.locator('#attach-note').isVisible()).toBe(true);
    expect(await page.locator('#log-grid').isVisible()).toBe(false);
    // The page's subtitle no longer describes the in-page cluster.
    expect(await page.locator('#subtitle').innerText()).toBe("a live cluster · each member's own feed");
    // The Client tab talks to the in-page cluster: hidden while another cluster is on show.
    expect(await page.locator('[data-tab="client"]').isVisible()).toBe(false);
    // The in-page cluster's hotkeys do not act on it unseen meanwhile.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press('Space');
    expect(await page.evaluate(() => document.body.classList.contains('paused'))).toBe(false);
    await page.screenshot({ path: `${SHOTS}01-attached.png` });

    // Kill a follower's process by its PID (one this test started): its circle and card turn unreachable.
    const victim = attached.cards.find((x) => x.role === 'follower')!;
    const pid = c.pid(victim.name);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid!, 'SIGKILL');
    const after = await until(page, `${victim.name} unreachable`, (s) => {
      const card = s.cards.find((x) => x.id === victim.id);
      const circle = s.circles.find((x) => x.id === victim.id);
      return (
        card?.role === 'unreachable' &&
        circle?.role === 'unreachable' &&
        /backoff/.test(card.retry) &&
        s.circles.filter((x) => x.role === 'leader').length === 1
      );
    });
    expect(after.circles).toHaveLength(3);
    expect(after.cards.find((x) => x.id === victim.id)?.term).toBe(victim.term); // what it last reported
    expect(after.cards.filter((x) => x.reach === 'streaming')).toHaveLength(2);
    await page.screenshot({ path: `${SHOTS}02-unreachable.png` });

    // Detach: the in-page cluster's members are back in the graph and the cards.
    await page.click('#detach');
    await until(
      page,
      'the in-page cluster back',
      (s) =>
        s.mode === undefined &&
        s.cards.map((x) => x.id).join() === '1,2,3' &&
        s.circles.map((x) => x.id).join() === '1,2,3',
    );
    await waitForLeader(page);
    expect(await page.locator('#attach-note').isVisible()).toBe(false);
    expect(await page.locator('#log-grid').isVisible()).toBe(true);
    expect(await page.locator('#subtitle').innerText()).toMatch(/^3 members · each in a Web Worker/);
    expect(await page.locator('[data-tab="client"]').isVisible()).toBe(true);
  }, 120_000);
});
