// Forcing a member's election timeout on the live cluster, in real Chromium: the card's "Time out" button, a
// double-click on its circle and its number key make the member's own election timer run out now (its worker runs
// its clock ahead until the timer fires), and the real core does what it does on a timeout. With pre-vote and
// check-quorum (the demo's settings, etcd's) a follower that times out while the leader is healthy only asks
// whether it could win: the others, still hearing from the leader, ignore it, so neither the term nor the leader
// changes. With the leader gone and the other follower no longer leased to it, the forced member wins: the term
// rises. Asserts on the DOM (cards, circles, timeline), with the clock paused where order matters; screenshots go
// to test-results/demo-timeout/.

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

const SHOTS = fileURLToPath(new URL('../../test-results/demo-timeout/', import.meta.url));
const WAIT = { timeout: 30_000, polling: 50 } as const;

interface DemoGlobal {
  hub: { inFlight(): { from: bigint; to: bigint; type: string }[]; paused: boolean };
}

describeWithChromium("browser demo: forcing a member's election timeout", () => {
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildDemo();
    server = await serveStatic();
    // The default speed (0.25×): election timeouts of 4–8 s real time leave room for IndexedDB writes.
    browser = await openDemo(server.url);
    page = browser.page;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const errors = () => (browser?.errors.length ? `\npage errors:\n${browser.errors.join('\n')}` : '');

  /** Waits until all three members are up, agree on a quiet log and follow one leader; returns its ID and term. */
  async function settled(): Promise<{ leader: string; term: number }> {
    await page.waitForFunction(
      () => {
        const cs = Array.from(document.querySelectorAll<HTMLElement>('.member[data-node-id]'));
        const leaders = cs.filter((c) => c.dataset.role === 'leader');
        return (
          cs.length === 3 &&
          leaders.length === 1 &&
          cs.every(
            (c) =>
              c.dataset.role !== 'down' &&
              c.dataset.term === leaders[0].dataset.term &&
              c.dataset.commit === c.dataset.lastIndex &&
              c.dataset.lastIndex === leaders[0].dataset.lastIndex,
          )
        );
      },
      null,
      { timeout: 60_000, polling: 100 },
    );
    const leader = await waitForLeader(page);
    return { leader, term: Number(await card(leader, 'term')) };
  }

  const card = (id: string, attr: string) =>
    page.getAttribute(`.member[data-node-id="${id}"]`, `data-${attr}`) as Promise<string>;

  const timeline = (kind: string) =>
    page.$$eval(`#timeline-list [data-kind="${kind}"]`, (li) => li.map((x) => x.textContent ?? ''));

  /** Waits for a timeline line of `kind` containing `text`. */
  const waitLine = (kind: string, text: string) =>
    page.waitForFunction(
      ([k, t]) =>
        Array.from(document.querySelectorAll(`#timeline-list [data-kind="${k}"]`)).some((li) =>
          (li.textContent ?? '').includes(t),
        ),
      [kind, text] as const,
      WAIT,
    );

  const inFlightFrom = (id: string) =>
    page.evaluate(
      (from) =>
        (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo.hub
          .inFlight()
          .filter((w) => String(w.from) === from).length,
      id,
    );

  /** Paused: steps until nothing is in flight (each step delivers the next message, as the Step button does). */
  async function drain(): Promise<void> {
    const inFlight = () =>
      page.evaluate(
        () => (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo.hub.inFlight().length,
      );
    for (let i = 0; i < 40 && (await inFlight()) > 0; i++) await page.click('#step');
    expect(await inFlight()).toBe(0);
  }

  it('a follower forced to time out under a healthy leader campaigns by pre-vote, and nothing changes', async () => {
    const { leader, term } = await settled();
    const follower = ['1', '2', '3'].find((id) => id !== leader)!;
    const other = ['1', '2', '3'].find((id) => id !== leader && id !== follower)!;
    // The leader's button is disabled: a leader has no election timer.
    expect(await page.isDisabled(`.member[data-node-id="${leader}"] button.timeout`)).toBe(true);
    expect(await page.isDisabled(`.member[data-node-id="${follower}"] button.timeout`)).toBe(false);

    const changes = async () =>
      (await timeline('election')).filter((l) => /becomes leader|moves to term|steps down/.test(l)).length;
    const changesBefore = await changes();
    // Paused, so the pre-candidate is seen before the leader's next heartbeat turns it back.
    await page.keyboard.press(' ');
    await page.click(`.member[data-node-id="${follower}"] button.timeout`);
    await waitLine('fault', `you forced n${follower}'s election timeout`);
    await waitLine('election', `n${follower} election timeout: pre-candidate (asks before term ${term + 1})`);
    await page.waitForFunction(
      (id) => document.querySelector(`.member[data-node-id="${id}"] .role`)?.textContent === 'pre-candidate',
      follower,
      WAIT,
    );
    expect(await card(follower, 'role')).toBe('candidate');
    // Its pre-votes are on the wires, asking for the next term; the term it shows has not moved (pre-vote).
    await page.waitForFunction(
      () =>
        Array.from(document.querySelectorAll('#msgs .msg text')).some((t) =>
          (t.textContent ?? '').startsWith('pre-vote?'),
        ),
      null,
      WAIT,
    );
    const labels = await page.$$eval('#msgs .msg text', (ts) => ts.map((t) => t.textContent ?? ''));
    expect(labels.some((l) => l.startsWith(`pre-vote? t${term + 1}`))).toBe(true);
    expect(await card(follower, 'term')).toBe(String(term));
    await page.screenshot({ path: `${SHOTS}pre-candidate.png` });

    // Running again: the others ignore it (they hear from the leader), the leader's heartbeat brings it back.
    await page.keyboard.press(' ');
    await waitLine('election', `n${follower} gives up its campaign (now follower, term ${term})`);
    await page.waitForFunction(
      ([l, t]) => {
        const cs = Array.from(document.querySelectorAll<HTMLElement>('.member[data-node-id]'));
        return cs.every(
          (c) => c.dataset.term === t && c.dataset.role === (c.dataset.nodeId === l ? 'leader' : 'follower'),
        );
      },
      [leader, String(term)] as const,
      WAIT,
    );
    expect(await card(other, 'term')).toBe(String(term));
    // The circles say the same: same term inside every one.
    const inside = await page.$$eval('[data-net-node] .node-term', (ts) =>
      ts.map((t) => t.textContent ?? ''),
    );
    expect(inside.every((t) => t.startsWith(`t${term}`))).toBe(true);
    // No new leader, no step-down and no term change on the timeline.
    expect(await changes()).toBe(changesBefore);

    // Its number key does the same, but not while a text field has focus (the key is text there).
    const forced = (await timeline('fault')).filter((l) => l.includes('you forced')).length;
    await page.fill('#key', '');
    await page.focus('#key');
    await page.keyboard.press(follower);
    expect(await page.inputValue('#key')).toBe(follower);
    expect((await timeline('fault')).filter((l) => l.includes('you forced')).length).toBe(forced);
    await page.fill('#key', '');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.press(follower);
    await page.waitForFunction(
      (n) =>
        Array.from(document.querySelectorAll('#timeline-list [data-kind="fault"]')).filter((li) =>
          (li.textContent ?? '').includes('you forced'),
        ).length === n,
      forced + 1,
      WAIT,
    );
    // And on the leader the key only explains.
    await page.keyboard.press(leader);
    await waitLine('info', `n${leader} leads: a leader has no election timer to force`);
    await settled();
    expect(browser!.errors, errors()).toEqual([]);
  });

  it('with the leader killed, a forced timeout wins an election: the term rises', async () => {
    const { leader, term } = await settled();
    const [a, b] = ['1', '2', '3'].filter((id) => id !== leader);
    await page.keyboard.press(' ');
    await page.click(`.member[data-node-id="${leader}"] button.kill`);
    await page.waitForFunction(
      (id) => document.querySelector<HTMLElement>(`.member[data-node-id="${id}"]`)?.dataset.role === 'down',
      leader,
      WAIT,
    );
    // Deliver what the old leader still had on the wires (a heartbeat reaching a pre-candidate would make it a
    // follower of the old leader again, leased to it).
    await drain();
    // a times out first (its key): a pre-candidate that b ignores — b still counts the dead leader's lease.
    await page.keyboard.press(a);
    await waitLine('election', `n${a} election timeout: pre-candidate (asks before term ${term + 1})`);
    // Deliver a's pre-vote to b (step, as the page's Step button does), so that it is answered before b moves.
    await page.waitForFunction(
      (id) =>
        (globalThis as unknown as { edgecdDemo: DemoGlobal }).edgecdDemo.hub
          .inFlight()
          .some((w) => String(w.from) === id && w.type === 'MsgPreVote'),
      a,
      WAIT,
    );
    await drain();
    expect(await inFlightFrom(a)).toBe(0);
    expect(await card(b, 'role')).toBe('follower');
    // Then b, by a double-click on its circle: a, leaderless now, grants its pre-vote and then its vote.
    await page.dblclick(`[data-net-node="${b}"]`);
    await waitLine('fault', `you forced n${b}'s election timeout`);
    await page.keyboard.press(' ');
    await waitLine('election', `n${b} campaigns: candidate for term ${term + 1}`);
    await waitLine('election', `n${b} becomes leader for term ${term + 1}`);
    await page.waitForFunction(
      ([x, y, t]) => {
        const c = (id: string) =>
          document.querySelector<HTMLElement>(`.member[data-node-id="${id}"]`)!.dataset;
        return c(y).role === 'leader' && c(y).term === t && c(x).role === 'follower' && c(x).term === t;
      },
      [a, b, String(term + 1)] as const,
      WAIT,
    );
    expect(await page.textContent(`.member[data-node-id="${b}"] .term`)).toBe(`term ${term + 1}`);
    expect(await page.textContent(`[data-net-node="${b}"] .node-term`)).toBe(`t${term + 1} · v n${b}`);
    await page.screenshot({ path: `${SHOTS}term-rises.png` });
    // The old leader comes back as a follower of the new term.
    await page.click(`.member[data-node-id="${leader}"] button.kill`);
    await settled();
    expect(await card(leader, 'term')).toBe(String(term + 1));
    expect(browser!.errors, errors()).toEqual([]);
  });
});
