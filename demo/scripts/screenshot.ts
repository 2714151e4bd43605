// `npm run screenshot`: builds the demo, serves it, opens it in headless Chromium at 1280×800, waits for a
// leader, puts a few keys through the client panel and saves docs/demo.png (at the default slow-motion speed, so
// messages are seen in flight).

import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  buildDemo,
  CHROMIUM_PATH,
  chromiumPresent,
  openDemo,
  serveStatic,
  waitForLeader,
} from './harness.ts';

const OUT = fileURLToPath(new URL('../../docs/demo.png', import.meta.url));

if (!chromiumPresent()) {
  console.error(`${CHROMIUM_PATH} not found: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  process.exit(1);
}
await buildDemo();
const server = await serveStatic();
const browser = await openDemo(server.url);
try {
  const { page } = browser;
  const leader = await waitForLeader(page);
  console.log(`leader: n${leader}`);
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
  // A moment with messages on the wires (heartbeats at least), so the picture shows them.
  await page
    .waitForFunction(() => document.querySelectorAll('#msgs .msg text').length >= 2, null, {
      timeout: 10_000,
    })
    .catch(() => {});
  await mkdir(fileURLToPath(new URL('../../docs/', import.meta.url)), { recursive: true });
  await page.screenshot({ path: OUT });
  console.log(`saved ${OUT}`);
} finally {
  await browser.close();
  await server.close();
}
if (browser.errors.length) console.warn(browser.errors.join('\n'));
