// The whole picture in one group, with real components: three edgecd processes, `wrangler dev` (workerd) hosting
// a Durable Object voter and a Durable Object learner, and a Chromium tab that joins from the demo as a learner.
// A write through the Worker reaches the tab; the demo's attach view lists every member with its runtime — Node
// and Durable Object members streaming their own state (the latter through the Worker), the tab from the member
// list.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDemo, type DemoBrowser, openDemo, serveStatic } from '../../demo/scripts/harness.ts';
import { MixedCluster } from '../e2e/mixed-harness.ts';
import { describeWithChromium } from './describe-chromium.ts';

const SHOTS = fileURLToPath(new URL('../../test-results/demo/', import.meta.url));
const WAIT = { timeout: 45_000, polling: 100 } as const;

describeWithChromium('Node members, Durable Objects and a tab in one group', () => {
  let m: MixedCluster;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    m = await MixedCluster.start();
    await m.addDurableObject('do-1', false);
    await m.addDurableObject('do-edge-1', true);
    await buildDemo();
    server = await serveStatic();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await m?.close();
  });

  it('a tab joins the mixed group and sees writes made through the Worker; attach lists every runtime', async () => {
    browser = await openDemo(`${server.url.replace(/\/$/, '')}/?join=${m.nodes.endpoint('m1')}`);
    const page = browser.page;
    const put = await fetch(`${m.worker.baseUrl}/v3/kv/put`, {
      method: 'POST',
      body: JSON.stringify({
        key: Buffer.from('edge-write').toString('base64'),
        value: Buffer.from('from the Worker').toString('base64'),
      }),
    });
    expect(put.status).toBe(200);
    await page.waitForFunction(
      () => document.querySelector('[data-key="edge-write"]') !== null,
      undefined,
      WAIT,
    );
    const tabId = await page.$eval('#learner .learner-card', (e) => (e as HTMLElement).dataset.nodeId ?? '');
    const tab = m.memberList().find((x) => BigInt(x.ID).toString(16) === tabId);
    expect(tab?.isLearner).toBe(true);
    expect(m.memberList()).toHaveLength(6); // 3 Node, 2 Durable Objects, 1 tab

    await page.click('#attach');
    await page.waitForFunction(
      () => {
        const rows = Array.from(document.querySelectorAll<HTMLElement>('#live tbody tr'));
        const by = (runtime: string) => rows.filter((r) => r.dataset.runtime === runtime);
        return (
          by('node').filter((r) => ['leader', 'follower'].includes(r.dataset.liveRole ?? '')).length === 3 &&
          by('durable-object').filter((r) => ['follower', 'learner'].includes(r.dataset.liveRole ?? ''))
            .length === 2 &&
          by('tab').some((r) => r.dataset.liveRole === 'no client URL')
        );
      },
      undefined,
      WAIT,
    );
    // The same members in the main graph and cards, each with its runtime: one circle and one card per member.
    await page.waitForFunction(
      () => {
        const circles = Array.from(document.querySelectorAll<SVGElement>('#nodes [data-node-id]'));
        const cards = Array.from(document.querySelectorAll<HTMLElement>('#members .member[data-node-id]'));
        const by = (runtime: string) => circles.filter((c) => c.dataset.runtime === runtime);
        return (
          document.body.dataset.mode === 'attached' &&
          circles.length === 6 &&
          cards.length === 6 &&
          by('node').filter((c) => c.dataset.role === 'leader').length === 1 &&
          by('durable-object').filter((c) => ['follower', 'learner'].includes(c.dataset.role ?? ''))
            .length === 2 &&
          by('tab').length === 1
        );
      },
      undefined,
      WAIT,
    );
    await page.screenshot({ path: `${SHOTS}mixed-group.png` });
    await page.click('#detach');
    await page.waitForFunction(
      () =>
        document.body.dataset.mode === undefined &&
        document.querySelectorAll('#members .member[data-node-id]').length === 3,
      undefined,
      WAIT,
    );
    expect(browser.errors).toEqual([]);
  }, 180_000);
});
