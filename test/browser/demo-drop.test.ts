// Dropping a message by hand on the live cluster, in real Chromium: with the clock paused, a click on a message in
// flight loses it — it is no longer drawn, the timeline says so, and when its time comes it never reaches the
// receiving worker; the cluster carries on once resumed. Screenshots go to test-results/demo-drop/.

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

const SHOTS = fileURLToPath(new URL('../../test-results/demo-drop/', import.meta.url));

interface DemoGlobal {
  hub: { inFlight(): { seq: number }[]; paused: boolean };
  tap: { swallowed: number };
}

const inFlight = (page: Page, seq: number) =>
  page.evaluate(
    (s) =>
      (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo.hub
        .inFlight()
        .some((w) => w.seq === s),
    seq,
  );

describeWithChromium('browser demo: click a message in flight to drop it', () => {
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

  it('a clicked message is lost: not drawn, logged, never delivered', async () => {
    await page.keyboard.press(' ');
    expect(await page.evaluate(() => document.body.classList.contains('paused'))).toBe(true);
    // Advance tick by tick until the leader has a message in flight whose details the page knows.
    for (let i = 0; i < 50 && (await page.locator('#msgs .msg text').count()) === 0; i++) {
      await page.click('#step');
      await page.waitForTimeout(30);
    }
    // A message that is on top at its own centre: where two overlap, a click takes the one drawn last.
    const target = await page.evaluate(() => {
      for (const dot of Array.from(document.querySelectorAll<SVGElement>('#msgs .msg'))) {
        const r = dot.querySelector('circle, rect')!.getBoundingClientRect();
        const [x, y] = [r.x + r.width / 2, r.y + r.height / 2];
        if (document.elementFromPoint(x, y)?.closest('.msg') === dot)
          return { seq: Number(dot.dataset.seq), x, y };
      }
      throw new Error('every message in flight lies under another');
    });
    expect(await inFlight(page, target.seq)).toBe(true);
    await page.mouse.click(target.x, target.y);
    await page.waitForFunction(() => document.body.dataset.droppedByHand === '1', null, { timeout: 5_000 });
    // Gone from the picture at the next frame, and not back.
    await page.waitForFunction(
      (seq) => document.querySelector(`#msgs .msg[data-seq="${seq}"]`) === null,
      target.seq,
      { timeout: 5_000 },
    );
    const lines = await page.$$eval('#timeline-list [data-kind="fault"]', (li) =>
      li.map((x) => x.textContent ?? ''),
    );
    expect(lines.some((l) => l.includes('you dropped'))).toBe(true);
    await page.screenshot({ path: `${SHOTS}dropped.png`, fullPage: true });
    // Step until the hub has let it go: the tap swallowed its delivery.
    for (let i = 0; i < 50 && (await inFlight(page, target.seq)); i++) await page.click('#step');
    expect(await inFlight(page, target.seq)).toBe(false);
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo.tap.swallowed,
      ),
    ).toBe(1);
    await page.keyboard.press(' ');
    await waitForLeader(page, 30_000);
    expect(browser!.errors).toEqual([]);
  });
});
