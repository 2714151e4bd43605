// What a first-time visitor sees (Step 11), in real Chromium: slow motion by default, messages drawn above the
// members as labelled shapes (requests round, responses square), an on-page legend naming every colour and marker,
// a term palette apart from the role colours; at 1920×1080 the graph grows; at 390×844 (a phone, touch) the page
// is one scrolling column with the header controls on screen, and taps and drags work. Screenshots at the three
// viewports go to test-results/demo-view/ (not committed).

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

const SHOTS = fileURLToPath(new URL('../../test-results/demo-view/', import.meta.url));
const WAIT = { timeout: 30_000, polling: 50 } as const;

describeWithChromium('browser demo: what a visitor sees', () => {
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildDemo();
    server = await serveStatic();
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('runs in slow motion by default, with messages labelled and drawn above the members', async () => {
    browser = await openDemo(server.url);
    page = browser.page;
    expect(await page.inputValue('#speed')).toBe('0.25');
    await waitForLeader(page, 60_000);
    // The message layer comes after the member circles in the SVG, so it is painted on top of them.
    expect(
      await page.evaluate(() => {
        const net = document.querySelector('#net')!;
        const kids = Array.from(net.children).map((e) => e.id);
        return kids.indexOf('msgs') > kids.indexOf('nodes');
      }),
    ).toBe(true);
    // Requests are circles, responses squares; each labelled with its type and term (and index where it has one).
    await page.waitForFunction(
      () =>
        document.querySelector('#msgs .msg-request circle') !== null &&
        document.querySelector('#msgs .msg-response rect') !== null,
      null,
      WAIT,
    );
    const labels = await page.$$eval('#msgs .msg text', (ts) => ts.map((t) => t.textContent ?? ''));
    expect(labels.length).toBeGreaterThan(0);
    // Raft RPCs carry their term; a forwarded proposal (MsgProp) is not an RPC and has none.
    for (const l of labels)
      expect(l).toMatch(
        /^((append|hb|vote|pre-vote|snapshot|snap|read-index|timeout-now)\S* ?[✓✗?]?.* t\d+|propose)/,
      );
    // Slow enough to watch: at 0.25× every message in flight takes at least 80 ms of real time (several frames)
    // from sender to receiver: its cluster-time trip (at least half the 40 ms latency setting) stretched 4×.
    const trips = await page.evaluate(() => {
      const demo = (
        globalThis as { edgecdDemo?: { hub: { inFlight(): { sentAt: number; dueAt: number }[] } } }
      ).edgecdDemo!;
      const speed = Number(document.body.dataset.speed);
      return demo.hub.inFlight().map((w) => (w.dueAt - w.sentAt) / speed);
    });
    for (const realMs of trips) expect(realMs).toBeGreaterThanOrEqual(80);
  });

  it('the legend names every colour, shape and marker the page uses', async () => {
    const legend = page.locator('#legend .legend-groups');
    expect(await legend.isVisible()).toBe(true);
    const items = await page.$$eval('#legend [data-legend]', (els) =>
      Object.fromEntries(els.map((e) => [e.getAttribute('data-legend'), e.textContent ?? ''])),
    );
    for (const name of [
      'leader',
      'follower',
      'candidate',
      'down',
      'halo',
      'cut',
      'slow',
      'request',
      'response',
      'append',
      'heartbeat',
      'vote',
      'snapshot',
      'other',
      'term',
      'uncommitted',
      'committed',
      'applied',
      'unstable',
      'replaced',
    ])
      expect(items, name).toHaveProperty(name);
    expect(items.uncommitted).toMatch(/faded.*dashed/);
    expect(items.marks).toContain('▲c');
    expect(items.marks).toContain('▲a');
    for (const label of ['pub n1', 'ckpt', '+n1', 'empty', 'lease+']) expect(items.entries).toContain(label);
    expect(items.label).toMatch(/t3 #5–7/);
  });

  it('term colours never reuse a role colour', async () => {
    await page.selectOption('#speed', '1');
    await page.fill('#key', 'view/a');
    await page.click('#put');
    await page.waitForFunction(
      () => document.querySelectorAll('.member .log .entry').length >= 6,
      null,
      WAIT,
    );
    const clash = await page.evaluate(() => {
      const css = getComputedStyle(document.documentElement);
      const probe = document.createElement('span');
      document.body.append(probe);
      const rgb = (c: string) => {
        probe.style.color = c;
        return getComputedStyle(probe).color;
      };
      const roles = ['--leader', '--follower', '--candidate', '--down', '--bad'].map((v) =>
        rgb(css.getPropertyValue(v).trim()),
      );
      const terms = Array.from(document.querySelectorAll<HTMLElement>('.log .entry')).map((e) =>
        rgb(e.style.getPropertyValue('--term')),
      );
      probe.remove();
      return terms.filter((t) => roles.includes(t));
    });
    expect(clash).toEqual([]);
    await page.screenshot({ path: `${SHOTS}1280x800.png` });
  });

  it('each circle shows term, vote, an election timer and the heartbeat flash; the logs line up in one grid with the commit line', async () => {
    const leader = await waitForLeader(page);
    // Term and vote inside the circle agree with the card.
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll<HTMLElement>('.member[data-node-id]')).every((card) => {
          const inCircle = document.querySelector(
            `[data-net-node="${card.dataset.nodeId}"] .node-term`,
          )?.textContent;
          return inCircle?.startsWith(`t${card.dataset.term}`);
        }),
      null,
      WAIT,
    );
    expect(await page.textContent(`[data-net-node="${leader}"] .node-term`)).toMatch(/^t\d+ · v n\d$/);
    // Followers have a running election timer (a partly full ring); the leader has none.
    await page.waitForFunction(
      (l) =>
        Array.from(document.querySelectorAll<SVGGElement>('[data-net-node]')).every((n) => {
          const left = Number(n.dataset.timerLeft);
          return n.dataset.netNode === l ? left === 0 : left > 0 && left <= 1;
        }),
      leader,
      WAIT,
    );
    // The leader's ring flashes as it sends heartbeats (caught at some frame); a follower's never does.
    await page.waitForFunction(
      (l) =>
        Array.from(document.querySelectorAll('[data-net-node]')).every((n) => {
          const flash = Number(n.querySelector('.pulse')?.getAttribute('opacity') ?? 0);
          return (n as SVGGElement).dataset.netNode === l ? flash > 0 : flash === 0;
        }),
      leader,
      { timeout: 30_000, polling: 'raf' },
    );
    // Kill the leader: the followers' timers run down (no heartbeats reset them) until one campaigns.
    await page.click(`.member[data-node-id="${leader}"] .kill`);
    const follower = ['1', '2', '3'].find((id) => id !== leader)!;
    const start = Number(await page.getAttribute(`[data-net-node="${follower}"]`, 'data-timer-left'));
    await page.waitForFunction(
      ([id, s]) =>
        Number(document.querySelector<SVGGElement>(`[data-net-node="${id}"]`)?.dataset.timerLeft) < s - 0.2,
      [follower, start] as const,
      WAIT,
    );
    await waitForLeader(
      page,
      30_000,
      ['1', '2', '3'].filter((id) => id !== leader),
    );
    await page.click(`.member[data-node-id="${leader}"] .kill`); // Restart
    const now = await waitForLeader(page);
    await page.fill('#key', 'view/b');
    await page.click('#put');
    await page.waitForFunction(
      () =>
        new Set(Array.from(document.querySelectorAll<HTMLElement>('.member')).map((c) => c.dataset.applied))
          .size === 1 && document.querySelectorAll('.member[data-role="follower"]').length === 2,
      null,
      WAIT,
    );

    // The grid: a header and one row per member; a column's cells share one x in every row.
    await page.waitForFunction(
      () => document.querySelectorAll('#log-grid [data-grid-node]').length === 3,
      null,
      WAIT,
    );
    const aligned = await page.evaluate(() => {
      const rows = Array.from(document.querySelectorAll('#log-grid [data-grid-node]'));
      const xs = new Map<string, Set<number>>();
      for (const row of rows)
        for (const cell of Array.from(row.querySelectorAll<HTMLElement>('.cell[data-index]')))
          xs.set(
            cell.dataset.index!,
            (xs.get(cell.dataset.index!) ?? new Set()).add(Math.round(cell.getBoundingClientRect().x)),
          );
      return [...xs.values()].every((set) => set.size === 1) && xs.size > 3;
    });
    expect(aligned).toBe(true);
    // The commit line is at the leader's commit index, in every row; followers carry the leader's match mark.
    await page.waitForFunction(
      (l) => {
        const grid = document.querySelector<HTMLElement>('#log-grid')!;
        const c = grid.dataset.commit;
        return (
          c === document.querySelector<HTMLElement>(`.member[data-node-id="${l}"]`)?.dataset.commit &&
          grid.querySelectorAll(`[data-grid-node] .commit-edge[data-index="${c}"]`).length === 3
        );
      },
      now,
      WAIT,
    );
    await page.waitForFunction(
      (l) =>
        Array.from(
          document.querySelectorAll(`#log-grid [data-grid-node]:not([data-grid-node="${l}"])`),
        ).every((row) => Array.from(row.querySelectorAll('.cell b')).some((b) => b.textContent === 'm')),
      now,
      WAIT,
    );
    expect(await page.locator(`#log-grid [data-grid-node="${now}"] .cell b`).count()).toBe(0);
    expect(await page.textContent('#legend [data-legend="timer"]')).toContain('election timer');
    expect(await page.textContent('#legend [data-legend="grid"]')).toContain('commit');
    await page.screenshot({ path: `${SHOTS}1280x800-grid.png` });
  });

  it('the timeline filters by kind, for the lines there and those yet to come', async () => {
    const shown = (kind: string) =>
      page.$$eval(`#timeline-list li[data-kind="${kind}"]`, (li) =>
        li.map((x) => getComputedStyle(x).display !== 'none'),
      );
    expect((await shown('election')).length).toBeGreaterThan(0);
    expect((await shown('election')).every(Boolean)).toBe(true);
    await page.click('#timeline-filter [data-filter="election"]');
    expect(await page.getAttribute('#timeline-filter [data-filter="election"]', 'aria-pressed')).toBe(
      'false',
    );
    expect((await shown('election')).some(Boolean)).toBe(false);
    expect((await shown('info')).every(Boolean)).toBe(true);
    // A new election line (a follower forced to time out campaigns by pre-vote) comes hidden too.
    const count = (await shown('election')).length;
    const follower = await page.$eval(
      '.member[data-role="follower"]',
      (e) => (e as HTMLElement).dataset.nodeId ?? '',
    );
    await page.click(`.member[data-node-id="${follower}"] button.timeout`);
    await page.waitForFunction(
      (n) => document.querySelectorAll('#timeline-list li[data-kind="election"]').length > n,
      count,
      WAIT,
    );
    expect((await shown('election')).some(Boolean)).toBe(false);
    await page.click('#timeline-filter [data-filter="election"]');
    expect((await shown('election')).every(Boolean)).toBe(true);
    await waitForLeader(page);
  });

  it('at 1920×1080 the graph grows with the viewport', async () => {
    const small = (await page.locator('#net').boundingBox())!.height;
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.waitForFunction(
      (h) => document.querySelector('#net')!.getBoundingClientRect().height > h,
      small,
      WAIT,
    );
    const big = (await page.locator('#net').boundingBox())!;
    expect(big.height).toBeGreaterThan(300);
    // The circles grow with it (the viewBox scales), not just the empty space around them.
    const r = (await page.locator('[data-net-node="1"] .body').boundingBox())!;
    expect(r.width).toBeGreaterThan(70);
    await page.screenshot({ path: `${SHOTS}1920x1080.png` });
    await browser?.close();
    browser = undefined;
  });

  it('on a phone (390×844, touch): one scrolling column, header controls on screen, tap and drag work', async () => {
    browser = await openDemo(`${server.url}?speed=1`, {
      viewport: { width: 390, height: 844 },
      mobile: true,
    });
    page = browser.page;
    await page.waitForSelector('[data-net-node="3"]');
    // The legend starts folded on a phone; a tap opens it.
    expect(await page.locator('#legend .legend-groups').isVisible()).toBe(false);
    await page.locator('#legend summary').tap();
    await page.waitForSelector('#legend .legend-groups', { state: 'visible' });
    const width = 390;
    // Every header control is inside the viewport horizontally.
    const controls = await page.$$eval('header.top .controls :is(button, select, input)', (els) =>
      els.map((e) => {
        const b = e.getBoundingClientRect();
        return { id: e.id, left: b.left, right: b.right, w: b.width };
      }),
    );
    expect(controls.length).toBeGreaterThanOrEqual(6);
    for (const c of controls) {
      expect(c.left, c.id).toBeGreaterThanOrEqual(0);
      expect(c.right, c.id).toBeLessThanOrEqual(width);
      expect(c.w, c.id).toBeGreaterThan(10);
    }
    // Nothing wider than the screen; the cluster column keeps the screen's width; the document scrolls.
    const layout = await page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      scrollHeight: document.documentElement.scrollHeight,
      inner: window.innerHeight,
      cluster: document.querySelector('#cluster')!.getBoundingClientRect().width,
      card: document.querySelector('.member')!.getBoundingClientRect().width,
    }));
    expect(layout.scrollWidth).toBeLessThanOrEqual(width);
    expect(layout.cluster).toBeGreaterThan(340);
    expect(layout.card).toBeGreaterThan(300);
    expect(layout.scrollHeight).toBeGreaterThan(layout.inner);
    await waitForLeader(page);
    await page.screenshot({ path: `${SHOTS}390x844.png` });
    await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
    await page.waitForFunction(() => window.scrollY > 0, null, WAIT);
    await page.screenshot({ path: `${SHOTS}390x844-scrolled.png` });
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.waitForFunction(() => window.scrollY === 0, null, WAIT);

    // A tap on a link cuts it. Messages in flight take taps (a tap drops one): the run is paused meanwhile, so that
    // each tap goes to a point of the wire no message covers; taps are apart in time, or the browser reads a double
    // tap.
    await page.evaluate(() => (document.querySelector('#pause') as HTMLButtonElement).click());
    await page.waitForSelector('body.paused', { ...WAIT, state: 'attached' });
    const tapLink = async () => {
      await page.waitForTimeout(500);
      const box = (await page.locator('[data-link="2-3"] .wire').boundingBox())!;
      for (let attempt = 0; attempt < 50; attempt++) {
        const f = 0.15 + ((attempt * 0.37) % 0.7);
        const x = box.x + box.width * f;
        // The wire is a straight line across its box, either diagonal: try both.
        for (const y of [box.y + box.height * f, box.y + box.height * (1 - f)]) {
          const onWire = await page.evaluate(
            ([px, py]) => !!document.elementFromPoint(px, py)?.closest('[data-link="2-3"]'),
            [x, y],
          );
          if (onWire) return page.touchscreen.tap(x, y);
        }
        await page.waitForTimeout(20);
      }
      throw new Error('no point of link 2-3 free of messages');
    };
    await tapLink();
    await page.waitForSelector('[data-link="2-3"].link-cut', { ...WAIT, state: 'attached' });
    await tapLink();
    await page.waitForSelector('[data-link="2-3"]:not(.link-cut)', { ...WAIT, state: 'attached' });
    await tapLink();
    await page.waitForSelector('[data-link="2-3"].link-ok', { ...WAIT, state: 'attached' });
    await page.evaluate(() => (document.querySelector('#pause') as HTMLButtonElement).click());
    await page.waitForSelector('body:not(.paused)', { ...WAIT, state: 'attached' });

    // A finger drags n2 into empty space: it is isolated (pointer events from touch).
    const center = async (id: string) => {
      const b = (await page.locator(`[data-net-node="${id}"] .body`).boundingBox())!;
      return { x: b.x + b.width / 2, y: b.y + b.height / 2 };
    };
    const from = await center('2');
    const [n1, n3] = [await center('1'), await center('3')];
    const to = { x: (n1.x + n3.x) / 2, y: (n1.y + n3.y) / 2 };
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: [from] });
    for (const f of [0.2, 0.4, 0.6, 0.8, 1]) {
      await cdp.send('Input.dispatchTouchEvent', {
        type: 'touchMove',
        touchPoints: [{ x: from.x + (to.x - from.x) * f, y: from.y + (to.y - from.y) * f }],
      });
    }
    await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
    await page.waitForFunction(
      () => document.querySelector('.member[data-node-id="2"]')?.getAttribute('data-group') !== '0',
      null,
      WAIT,
    );
    expect(await page.locator('[data-link="1-2"].blocked').count()).toBe(1);
    await page.screenshot({ path: `${SHOTS}390x844-dragged.png` });
  });
});
