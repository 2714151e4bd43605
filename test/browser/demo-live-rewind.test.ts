// Rewinding the live cluster, in real Chromium: after the leader is killed and another elected, dragging the
// history scrubber back shows the page as it was before the crash — the old leader leading in its term, on its
// card and its circle — with the cluster paused; dragging it to the end (or resuming) shows the present again.
// Screenshots go to test-results/demo-live-rewind/ (not committed).

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

const SHOTS = fileURLToPath(new URL('../../test-results/demo-live-rewind/', import.meta.url));

async function scrubTo(page: Page, value: number): Promise<void> {
  await page.$eval(
    '#rewind',
    (e, v) => {
      (e as HTMLInputElement).value = String(v);
      e.dispatchEvent(new Event('input'));
    },
    value,
  );
}

const maxFrame = (page: Page) => page.$eval('#rewind', (e) => Number((e as HTMLInputElement).max));

describeWithChromium('browser demo: rewinding the live run', () => {
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;
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

  it('the scrubber shows the cluster before the leader was killed, then the present again', async () => {
    const old = await waitForLeader(page, 60_000);
    const term = await page.getAttribute(`.member[data-node-id="${old}"]`, 'data-term');
    const before = await maxFrame(page);
    expect(before).toBeGreaterThan(0);
    await page.click(`.member[data-node-id="${old}"] .kill`);
    const next = await waitForLeader(page, 30_000);
    expect(next).not.toBe(old);

    await scrubTo(page, before);
    expect(await page.evaluate(() => document.body.dataset.rewound)).toBe('true');
    expect(await page.evaluate(() => document.body.classList.contains('paused'))).toBe(true);
    expect(await page.getAttribute(`.member[data-node-id="${old}"]`, 'data-role')).toBe('leader');
    expect(await page.getAttribute(`.member[data-node-id="${old}"]`, 'data-term')).toBe(term);
    expect(await page.getAttribute(`.member[data-node-id="${next}"]`, 'data-role')).not.toBe('leader');
    expect(await page.getAttribute(`[data-net-node="${old}"]`, 'class')).toContain('role-leader');
    expect(await page.textContent('#rewind-at')).toMatch(/^-\d+\.\d\d s$/);
    await page.screenshot({ path: `${SHOTS}rewound.png`, fullPage: true });

    await scrubTo(page, await maxFrame(page));
    expect(await page.evaluate(() => document.body.dataset.rewound)).toBe('false');
    expect(await page.getAttribute(`.member[data-node-id="${old}"]`, 'data-role')).toBe('down');
    expect(await page.getAttribute(`.member[data-node-id="${next}"]`, 'data-role')).toBe('leader');

    // Back in the past, then Resume: the present again, and the cluster runs on.
    await scrubTo(page, before);
    await page.click('#pause');
    expect(await page.evaluate(() => document.body.dataset.rewound)).toBe('false');
    expect(await page.evaluate(() => document.body.classList.contains('paused'))).toBe(false);
    expect(await page.getAttribute(`.member[data-node-id="${next}"]`, 'data-role')).toBe('leader');
    expect(browser!.errors).toEqual([]);
  });
});
