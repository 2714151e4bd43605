// The guided scenarios on the live in-page cluster, in real Chromium: each one is set up with one click, narrated
// as the real members report, and ends in the state its narration promises — a new leader in a higher term, an
// uncommitted write dropped by the old leader, a minority write refused while the majority commits, a lease's
// key deleted on expiry, a restarted member caught up by a snapshot — and whose timeline tells it in order from the
// members' own events and the page's faults (kill, election, partition, step-down, heal, truncation, compaction,
// MsgSnap sent and installed, caught up). At 1× speed (the cluster's clocks at real time) so that the run is
// short. Screenshots go to test-results/demo-scenarios/ (not committed).

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

/** A timeline line: its kind and its text (without the time stamp). */
interface Line {
  readonly kind: string;
  readonly text: string;
}

/**
 * Runs a scenario from its button; resolves once it is done with the story's data attributes and the timeline
 * lines the run added, oldest first (the members' own events, the page's faults, the narration).
 */
async function play(
  page: Page,
  id: string,
  timeoutMs = 90_000,
): Promise<{ d: Record<string, string>; lines: Line[] }> {
  // Mark the newest line: what comes after it is this run's.
  await page.evaluate(() => {
    for (const li of Array.from(document.querySelectorAll('#timeline-list li[data-test-mark]')))
      li.removeAttribute('data-test-mark');
    document.querySelector('#timeline-list li')?.setAttribute('data-test-mark', '');
  });
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
  const lines = await page.evaluate(() => {
    const out: { kind: string; text: string }[] = [];
    for (const li of Array.from(document.querySelectorAll<HTMLElement>('#timeline-list li'))) {
      if (li.hasAttribute('data-test-mark')) break;
      const stamp = li.querySelector('time')?.textContent ?? '';
      out.push({ kind: li.dataset.kind ?? '', text: (li.textContent ?? '').slice(stamp.length) });
    }
    return out.reverse();
  });
  await page.screenshot({ path: `${SHOTS}${id}.png`, fullPage: true });
  expect(data.state, narration.join('\n')).toBe('done');
  return { d: data as Record<string, string>, lines };
}

/**
 * The index of the first line of `kind` at or after `from` whose text starts with (or, with `contains`, includes)
 * `text`; fails, listing the lines, if there is none.
 */
function at(
  lines: readonly Line[],
  kind: string,
  text: string,
  opts: { contains?: boolean; from?: number } = {},
): number {
  const from = opts.from ?? 0;
  const i = lines.findIndex(
    (l, n) =>
      n >= from && l.kind === kind && (opts.contains ? l.text.includes(text) : l.text.startsWith(text)),
  );
  expect(
    i,
    `no ${kind} line "${text}" from line ${from} in:\n${lines.map((l) => `${l.kind}: ${l.text}`).join('\n')}`,
  ).toBeGreaterThanOrEqual(0);
  return i;
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
    const { d, lines } = await play(page, 'kill-leader');
    expect(Number(d.newTerm)).toBeGreaterThan(Number(d.oldTerm));
    // The timeline, in order: the crash, another member's campaign and win in the new term, the restart.
    const killed = at(lines, 'fault', `n${d.oldLeader} killed (worker terminated)`);
    const campaign = at(lines, 'election', `n${d.newLeader} campaigns: candidate for term ${d.newTerm}`, {
      from: killed,
    });
    const won = at(lines, 'election', `n${d.newLeader} becomes leader for term ${d.newTerm}`, {
      from: campaign,
    });
    const restarted = at(lines, 'info', `n${d.oldLeader} started: recovered`, { from: won });
    expect(killed).toBeLessThan(campaign);
    expect(campaign).toBeLessThan(won);
    expect(won).toBeLessThan(restarted);
    expect(d.newLeader).not.toBe(d.oldLeader);
    const leader = page.locator('.member[data-role="leader"]');
    expect(await leader.getAttribute('data-node-id')).toBe(d.newLeader);
    expect(Number(await leader.getAttribute('data-term'))).toBeGreaterThanOrEqual(Number(d.newTerm));
    expect(await page.getAttribute(`.member[data-node-id="${d.oldLeader}"]`, 'data-role')).toBe('follower');
    expect(await page.locator('#story-steps li').count()).toBeGreaterThanOrEqual(4);
  });

  it('a lost uncommitted write: the isolated leader drops it when it rejoins', async () => {
    const { d, lines } = await play(page, 'lost-write');
    expect(await keyCount(page, 'story/lost')).toBe(0);
    expect(await keyCount(page, 'story/kept')).toBe(3);
    expect(d.lostStatus).not.toBe('200');
    // The timeline: the leader cut off, another elected, the old one stepping down (check-quorum), the heal, and
    // only then the truncation of its uncommitted entry.
    const cut = at(lines, 'fault', `{n${d.oldLeader}}`, { contains: true });
    const won = at(lines, 'election', `n${d.newLeader} becomes leader for term`, { from: cut });
    at(lines, 'election', `n${d.oldLeader} steps down`, { from: cut });
    const healed = at(lines, 'fault', 'network healed', { from: cut });
    const dropped = at(lines, 'log', `n${d.oldLeader} drops uncommitted entry #${d.lostIndex}`, {
      from: healed,
    });
    expect(cut).toBeLessThan(won);
    expect(won).toBeLessThan(healed);
    expect(healed).toBeLessThan(dropped);
    // The log grid marks the index where the old leader dropped it, with the term it had.
    const cell = `#log-grid [data-grid-node="${d.oldLeader}"] .cell[data-index="${d.lostIndex}"]`;
    expect(await page.getAttribute(cell, 'class')).toContain('replaced');
    expect((await page.getAttribute(cell, 'data-replaced-terms'))?.split(' ')).toContain(d.oldTerm);
  });

  it('a minority write fails while the majority commits, and the term stays (pre-vote)', async () => {
    const { d, lines } = await play(page, 'minority-write');
    expect(d.minorityStatus).not.toBe('200');
    expect(await keyCount(page, 'story/minority')).toBe(0);
    expect(await keyCount(page, 'story/majority')).toBe(3);
    expect(d.termAfter).toBe(d.term);
    // The timeline: the partition, the lonely member's election timeouts (pre-vote only: it never becomes a
    // candidate, so no term moves), the heal; no election won meanwhile.
    const cut = at(lines, 'fault', `{n${d.minority}}`, { contains: true });
    const timeout = at(lines, 'election', `n${d.minority} election timeout: pre-candidate`, { from: cut });
    const healed = at(lines, 'fault', 'network healed', { from: cut });
    expect(cut).toBeLessThan(timeout);
    expect(timeout).toBeLessThan(healed);
    const during = lines.slice(cut);
    expect(during.filter((l) => /campaigns: candidate|becomes leader|moves to term/.test(l.text))).toEqual(
      [],
    );
  });

  it("lease expiry: the lease's key goes from every member", async () => {
    await play(page, 'lease-expiry');
    expect(await keyCount(page, 'story/session')).toBe(0);
  });

  it('a snapshot catch-up: the restarted member installs the leader’s snapshot', async () => {
    const { d, lines } = await play(page, 'snapshot', 110_000);
    expect(Number(d.leaderFirst)).toBeGreaterThan(Number(d.behindLast) + 1);
    // The timeline: the crash, the leader compacting its log, the restart, the snapshot sent and installed, and the
    // member caught up.
    const killed = at(lines, 'fault', `n${d.behind} killed`);
    const compacted = at(lines, 'snapshot', `n${d.leader} took a snapshot: log before #`, { from: killed });
    const restarted = at(lines, 'info', `n${d.behind} started: recovered`, { from: compacted });
    const sent = at(lines, 'snapshot', `n${d.leader} → n${d.behind} snapshot (MsgSnap) up to #`, {
      from: restarted,
    });
    const installed = at(lines, 'snapshot', `n${d.behind} installed a snapshot up to #`, { from: sent });
    at(lines, 'log', `n${d.behind} caught up: applied #`, { from: installed });
    expect(killed).toBeLessThan(compacted);
    expect(compacted).toBeLessThan(restarted);
    expect(restarted).toBeLessThan(sent);
    expect(sent).toBeLessThan(installed);
    expect(browser!.errors).toEqual([]);
  }, 120_000);
});
