// `npm run screenshot`: remakes the README's pictures of the demo. Builds the demo, serves it, and opens it in
// headless Chromium twice: at 1280×800 (docs/demo.png) and as a phone at 390×844 with touch (docs/demo-phone.png).
// Each time it waits for a leader, puts a few keys through the client panel and waits for labelled messages on the
// wires (at the default slow-motion speed, so they are seen in flight). On the wide page the legend is folded so
// that the member cards fit; the phone shows the top of its single column (header, scenarios, graph).
// `npm run screenshot -- --only wide|phone` makes one of them.

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import {
  buildDemo,
  CHROMIUM_PATH,
  chromiumPresent,
  type OpenDemoOptions,
  openDemo,
  serveStatic,
  waitForLeader,
} from './harness.ts';

/** What the page exposes for tests and scripts (main.ts: globalThis.edgecdDemo). */
interface DemoGlobal {
  hub: {
    clock: { now(): number };
    inFlight(): { sentAt: number; dueAt: number }[];
    pause(): void;
    resume(): void;
  };
}

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

interface Shot {
  readonly name: 'wide' | 'phone';
  readonly file: string;
  readonly options: OpenDemoOptions;
  /** Whether the legend stays open (it takes the place of the cards at 1280×800). */
  readonly legend: boolean;
}

const SHOTS: readonly Shot[] = [
  { name: 'wide', file: 'demo.png', options: { viewport: { width: 1280, height: 800 } }, legend: false },
  {
    name: 'phone',
    file: 'demo-phone.png',
    options: { viewport: { width: 390, height: 844 }, mobile: true },
    legend: false,
  },
];

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined;

/** Puts a few keys through the client panel and waits until every member holds each. */
async function putKeys(page: Page): Promise<void> {
  for (const [key, value] of [
    ['config/region', 'eu-west'],
    ['config/replicas', '3'],
    ['greeting', 'hello, edge'],
  ]) {
    await page.fill('#key', key);
    await page.fill('#value', value);
    await page.click('#put');
    await page.waitForFunction(
      (k) => document.querySelectorAll(`.member [data-key="${k}"]`).length === 3,
      key,
      { timeout: 15_000 },
    );
  }
  await page.fill('#key', 'config/');
  await page.click('#get-prefix');
  await page.waitForFunction(() => document.querySelector('#response')?.getAttribute('data-state') === 'ok');
}

if (!chromiumPresent()) {
  console.error(`${CHROMIUM_PATH} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  process.exit(1);
}
await buildDemo();
await mkdir(DOCS, { recursive: true });
const server = await serveStatic();
try {
  for (const shot of SHOTS.filter((s) => !only || s.name === only)) {
    const browser = await openDemo(server.url, shot.options);
    try {
      const { page } = browser;
      const leader = await waitForLeader(page, 60_000);
      console.log(`${shot.name}: leader n${leader}`);
      await putKeys(page);
      await page.evaluate((open) => {
        (document.querySelector('#legend') as HTMLDetailsElement).open = open;
        (document.activeElement as HTMLElement | null)?.blur();
        for (const e of [document.scrollingElement, document.querySelector('#cluster')]) e?.scrollTo(0, 0);
      }, shot.legend);
      // A moment with labelled messages (heartbeats at least) on the wires, each away from both ends (so no label
      // covers a member). The network's clock (only the page's hub: no control changes) holds still while the
      // picture is taken, so the messages are where the page drew them.
      const caught = await page
        .waitForFunction(
          () => {
            const { hub } = (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo;
            const now = hub.clock.now();
            const ws = hub.inFlight();
            const ok =
              ws.length >= 2 &&
              document.querySelectorAll('#msgs .msg text').length >= 2 &&
              ws.every((w) => {
                const f = (now - w.sentAt) / Math.max(1, w.dueAt - w.sentAt);
                return f > 0.25 && f < 0.7;
              });
            if (ok) hub.pause();
            return ok;
          },
          null,
          { timeout: 15_000, polling: 'raf' },
        )
        .then(
          () => true,
          () => false,
        );
      if (!caught) console.warn(`${shot.name}: no moment with messages mid-wire; taking the picture anyway`);
      // Two frames, so the page has drawn the held network.
      await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      const out = `${DOCS}${shot.file}`;
      await page.screenshot({ path: out });
      if (caught)
        await page.evaluate(() =>
          (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo.hub.resume(),
        );
      console.log(`saved ${out}`);
      if (browser.errors.length) console.warn(browser.errors.join('\n'));
    } finally {
      await browser.close();
    }
  }
} finally {
  await server.close();
}
