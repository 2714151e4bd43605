// Seed replay in the demo's main graph, in real Chromium: for runs printed by `npm run sim` (a whole-member run with
// clients, a Raft with a known bug, whole members with a known bug, five members) the page opened at the printed
// link replays the same run — its `data-digest`, computed in the page from the events it animates, equals the CLI's
// — and shows the run's members in the graph, cards and log grid, messages on their links, and the violation where
// the checker found it. Stepping, stepping back, next election and next commit, the scrubber, play and `&at=` move
// through the run. Screenshots go to test-results/demo-replay/ (not committed).

import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDemo, type DemoBrowser, openDemo, serveStatic } from '../../demo/scripts/harness.ts';
import { describeWithChromium } from './describe-chromium.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = fileURLToPath(new URL('../../test-results/demo-replay/', import.meta.url));
const WAIT = { timeout: 60_000, polling: 50 } as const;

/** Runs `npm run sim` with `args` and returns the digest and the replay link's query it prints. */
async function cli(args: readonly string[]): Promise<{ digest: string; query: string; stdout: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'bin/sim.ts', ...args], {
    cwd: ROOT,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }));
  const digest = stdout.match(/^digest ([0-9a-f]{16})$/m)?.[1];
  const query = stdout.match(/^replay \S+\?(\S+)$/m)?.[1];
  if (!digest || !query)
    throw new Error(`npm run sim ${args.join(' ')} printed no digest or link:\n${stdout}`);
  return { digest, query, stdout };
}

async function openReplay(page: Page, url: string): Promise<Record<string, string>> {
  await page.goto(url);
  await page.waitForSelector('#replay-bar[data-ready="true"]', { timeout: WAIT.timeout });
  return page.evaluate(
    () => ({ ...document.querySelector<HTMLElement>('#replay-bar')!.dataset }) as Record<string, string>,
  );
}

const at = (page: Page) => page.getAttribute('#replay-bar', 'data-at').then(Number);

/**
 * Steps to the violation (its button) and checks that the page shows the very trace line the CLI printed for it
 * (`t=<virtual ms> VIOLATION <invariant>: <message>`), at the same virtual time.
 */
async function expectViolationAsCli(page: Page, stdout: string): Promise<void> {
  const line = stdout.match(/^t=(\d+) (VIOLATION .+)$/m);
  expect(line, stdout).not.toBeNull();
  const frame = Number(await page.getAttribute('#replay-violation', 'data-frame'));
  expect(await page.locator('#replay-violation.reached').count()).toBe(0);
  await page.click('#rp-violation');
  expect(await at(page)).toBe(frame);
  expect(await page.locator('#replay-violation.reached').count()).toBe(1);
  expect(await page.textContent('#replay-now')).toContain(line![2]);
  expect(await page.getAttribute('#replay-bar', 'data-t')).toBe(line![1]);
  expect(await page.locator('#timeline-list [data-kind="violation"]').count()).toBe(1);
}

describeWithChromium('browser demo: a simulator seed replayed in the main graph', () => {
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildDemo();
    server = await serveStatic();
    browser = await openDemo(`${server.url}?seed=1&at=0`);
    page = browser.page;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('replays the whole-member run of `npm run sim -- --seed 4 --kv` with the same digest', async () => {
    const run = await cli(['--seed', '4', '--kv']);
    expect(run.query).toBe('seed=4&kv=1');
    const root = await openReplay(page, `${server.url}?${run.query}&at=end`);
    expect(root.digest).toBe(run.digest);
    expect(root.simDigest).toBe(run.digest);
    expect(root.ok).toBe('true');
    expect(Number(root.at)).toBe(Number(root.frames) - 1);
    // Three members in the graph and as cards, each with a log.
    expect(await page.locator('#nodes [data-net-node]').count()).toBe(3);
    expect(await page.locator('#members .member').count()).toBe(3);
    expect(await page.locator('#log-grid [data-grid-node]').count()).toBe(3);
    // Client operations are on the timeline, invoked and completed.
    const clientLines = await page.$$eval('#timeline-list [data-kind="client"]', (li) =>
      li.map((x) => x.textContent ?? ''),
    );
    expect(clientLines.some((l) => /client \d+ → n\d+: /.test(l))).toBe(true);
    expect(clientLines.some((l) => /client \d+ ← n\d+: .* ok /.test(l))).toBe(true);
    await page.screenshot({ path: `${SHOTS}kv-end.png`, fullPage: true });
    expect(browser!.errors).toEqual([]);
  });

  it('replays a Raft with a known bug and shows the violation at the event that broke it', async () => {
    const run = await cli(['--seed', '2', '--bug', 'voteIgnoresLog']);
    expect(run.stdout).toContain('FAILED');
    const root = await openReplay(page, `${server.url}?${run.query}`);
    expect(root.digest).toBe(run.digest);
    expect(root.ok).toBe('false');
    expect(root.violation).toBeTruthy();
    await expectViolationAsCli(page, run.stdout);
    await page.screenshot({ path: `${SHOTS}bug-violation.png`, fullPage: true });
  });

  it('replays a whole-member run with a known bug (`--seed 5 --kv --bug ackBeforePersist`) as the CLI', async () => {
    const run = await cli(['--seed', '5', '--kv', '--bug', 'ackBeforePersist']);
    expect(run.stdout).toContain('FAILED (kv)');
    expect(run.query).toBe('seed=5&bug=ackBeforePersist&kv=1');
    const root = await openReplay(page, `${server.url}?${run.query}`);
    expect(root.digest).toBe(run.digest);
    expect(root.simDigest).toBe(run.digest);
    expect(root.ok).toBe('false');
    await expectViolationAsCli(page, run.stdout);
    expect(browser!.errors).toEqual([]);
  });

  it('replays five members message by message: step, step back, scrub, play, and &at= in the URL', async () => {
    const run = await cli(['--seed', '3', '--nodes', '5']);
    expect(run.query).toBe('seed=3&nodes=5');
    const root = await openReplay(page, `${server.url}?${run.query}&at=0`);
    expect(root.digest).toBe(run.digest);
    expect(await page.locator('#nodes [data-net-node]').count()).toBeGreaterThanOrEqual(5);
    expect(await page.locator('#members .member').count()).toBeGreaterThanOrEqual(5);
    // Step until a message is on the wire: it is drawn on its link, labelled with its type and term.
    let seen = false;
    for (let i = 0; i < 200 && !seen; i++) {
      await page.keyboard.press('n');
      seen = (await page.locator('#msgs .msg text').count()) > 0;
    }
    expect(seen).toBe(true);
    const stepped = await at(page);
    expect(stepped).toBeGreaterThan(0);
    expect(await page.textContent('#msgs .msg text')).toMatch(/t\d+/);
    await page.screenshot({ path: `${SHOTS}five-messages.png`, fullPage: true });
    await page.keyboard.press('ArrowLeft');
    expect(await at(page)).toBe(stepped - 1);
    expect(new URL(page.url()).searchParams.get('at')).toBe(String(stepped - 1));
    // The next election: a leader in the graph and on the cards.
    await page.click('#rp-election');
    expect(await page.locator('#nodes [data-role="leader"]').count()).toBe(1);
    expect(await page.locator('#members .member[data-role="leader"]').count()).toBe(1);
    // The next commit: a member's commit index moves past the highest one shown.
    const topCommit = () =>
      page.$$eval('#members .member', (m) =>
        Math.max(0, ...m.map((x) => Number(x.getAttribute('data-commit') ?? 0))),
      );
    const [frameBefore, commitBefore] = [await at(page), await topCommit()];
    await page.click('#rp-commit');
    expect(await at(page)).toBeGreaterThan(frameBefore);
    expect(await topCommit()).toBeGreaterThan(commitBefore);
    // Scrub back to the start, then forward.
    await page.$eval('#rp-scrub', (e) => {
      (e as HTMLInputElement).value = '0';
      e.dispatchEvent(new Event('input'));
    });
    expect(await at(page)).toBe(0);
    await page.$eval('#rp-scrub', (e) => {
      (e as HTMLInputElement).value = '500';
      e.dispatchEvent(new Event('input'));
    });
    expect(await at(page)).toBe(500);
    // Play moves forward by itself; pause stops it.
    await page.selectOption('#rp-speed', '250');
    await page.click('#rp-play');
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLElement>('#replay-bar')?.dataset.at) > 520,
      null,
      WAIT,
    );
    await page.click('#rp-play');
    expect(await page.getAttribute('#replay-bar', 'data-playing')).toBe('false');
    // Opening the same link at a frame lands there, with the same state.
    const here = await at(page);
    const cards = await page.$$eval('#members .member', (m) => m.map((x) => x.getAttribute('data-role')));
    await openReplay(page, `${server.url}?${run.query}&at=${here}`);
    expect(await at(page)).toBe(here);
    expect(await page.$$eval('#members .member', (m) => m.map((x) => x.getAttribute('data-role')))).toEqual(
      cards,
    );
  });
});
