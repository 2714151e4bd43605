// The guided scenarios on the live in-page cluster, in real Chromium: each one is set up with one click, narrated
// as the real members report, and ends in the state its narration promises — a new leader in a higher term, an
// uncommitted write dropped by the old leader, a minority write refused while the majority commits, a lease's
// key deleted on expiry, a restarted member caught up by a snapshot. At 1× speed (the cluster's clocks at real
// time) so that the run is short. Screenshots go to test-results/demo-scenarios/ (not committed).

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
import { describeWithChromium } from './describe-chromium.ts';

const SHOTS = fileURLToPath(new URL('../../test-results/demo-scenarios/', import.meta.url));

/** Runs a scenario from its button; resolves with the story's data attributes once it is done. */
async function play(page: Page, id: string, timeoutMs = 90_000): Promise<Record<string, string>> {
  await page.click(`[data-scenario-start="${id}"]`);
  await page.waitForFunction(
    (want) => {
      const d = document.querySelector<HTMLElement>('#story')?.dataset;
      return d?.scenario === want && d.state !== 'running';
    },
    id,
    { timeout: timeoutMs, polling: 100 },
  );
  const data = await page.evaluate(() => ({ ...document.querySelector<HTMLElement>('#story')!.dataset }));
  const narration = await page.$$eval('#story-steps li', (li) => li.map((x) => x.textContent ?? ''));
  await page.screenshot({ path: `${SHOTS}${id}.png`, fullPage: true });
  expect(data.state, narration.join('\n')).toBe('done');
  return data as Record<string, string>;
}

const keyCount = (page: Page, key: string) => page.locator(`.member [data-key="${key}"]`).count();

describeWithChromium('browser demo: guided scenarios on the live members', () => {
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildDemo();
    server = await serveStatic();
    browser = await openDemo(`${server.url}?speed=1`);
    page = browser.page;
    await waitForLeader(page, 60_000);
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('kill the leader: another member leads in a higher term, and the old one follows it', async () => {
    const d = await play(page, 'kill-leader');
    expect(Number(d.newTerm)).toBeGreaterThan(Number(d.oldTerm));
    expect(d.newLeader).not.toBe(d.oldLeader);
    const leader = page.locator('.member[data-role="leader"]');
    expect(await leader.getAttribute('data-node-id')).toBe(d.newLeader);
    expect(Number(await leader.getAttribute('data-term'))).toBeGreaterThanOrEqual(Number(d.newTerm));
    expect(await page.getAttribute(`.member[data-node-id="${d.oldLeader}"]`, 'data-role')).toBe('follower');
    expect(await page.locator('#story-steps li').count()).toBeGreaterThanOrEqual(4);
  });

  it('a lost uncommitted write: the isolated leader drops it when it rejoins', async () => {
    const d = await play(page, 'lost-write');
    expect(await keyCount(page, 'story/lost')).toBe(0);
    expect(await keyCount(page, 'story/kept')).toBe(3);
    expect(d.lostStatus).not.toBe('200');
    const drops = await page.$$eval('#timeline-list [data-kind="log"]', (li) =>
      li.map((x) => x.textContent ?? ''),
    );
    expect(drops.some((t) => t.includes(`n${d.oldLeader} drops uncommitted entry #${d.lostIndex}`))).toBe(
      true,
    );
  });

  it('a minority write fails while the majority commits, and the term stays (pre-vote)', async () => {
    const d = await play(page, 'minority-write');
    expect(d.minorityStatus).not.toBe('200');
    expect(await keyCount(page, 'story/minority')).toBe(0);
    expect(await keyCount(page, 'story/majority')).toBe(3);
    expect(d.termAfter).toBe(d.term);
  });

  it("lease expiry: the lease's key goes from every member", async () => {
    await play(page, 'lease-expiry');
    expect(await keyCount(page, 'story/session')).toBe(0);
  });

  it('a snapshot catch-up: the restarted member installs the leader’s snapshot', async () => {
    const d = await play(page, 'snapshot', 110_000);
    expect(Number(d.leaderFirst)).toBeGreaterThan(Number(d.behindLast) + 1);
    const lines = await page.$$eval('#timeline-list [data-kind="snapshot"]', (li) =>
      li.map((x) => x.textContent ?? ''),
    );
    expect(lines.some((t) => t.includes(`n${d.behind} installed a snapshot`))).toBe(true);
    expect(browser!.errors).toEqual([]);
  }, 120_000);
});
