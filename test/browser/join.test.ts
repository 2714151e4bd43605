// A browser tab joins a live cluster as a learner, in real Chromium against real edgecd processes: the demo page
// opened with ?join=<client URL> adds itself with MemberAdd (learner, peer URL browser:<tab>), runs the core in a
// Web Worker on IndexedDB, links to the Node members over WebSocket and catches up; it serves serializable reads
// and watches from its replica, refuses linearizable ones, resumes as the same member after a reload, and the
// cluster goes on when the tab is closed. Members without --experimental-browser-learners refuse tabs.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildDemo, type DemoBrowser, openDemo, serveStatic } from '../../demo/scripts/harness.ts';
import { etcdctl, TestCluster } from '../e2e/cluster-harness.ts';
import { describeWithChromium } from './describe-chromium.ts';

const SHOTS = fileURLToPath(new URL('../../test-results/demo/', import.meta.url));
const WAIT = { timeout: 30_000, polling: 100 } as const;

interface Listed {
  ID: string;
  name: string;
  peerURLs: string[];
  isLearner: boolean;
}

describeWithChromium('a tab joins a live Node cluster as a learner', () => {
  let c: TestCluster;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let browser: DemoBrowser;
  const ctl = (args: string[]) => etcdctl(c.endpoints, args);
  const members = (): Listed[] => {
    const out = ctl(['member', 'list', '-w', 'json']).stdout.replace(/"ID":(\d+)/g, '"ID":"$1"');
    return (JSON.parse(out) as { members: Partial<Listed>[] }).members.map((m) => ({
      ID: String(m.ID),
      name: m.name ?? '',
      peerURLs: m.peerURLs ?? [],
      isLearner: !!m.isLearner,
    }));
  };

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    // Snapshots every 10 entries, keeping 5 behind: a tab that joins late catches up by snapshot (MsgSnap over
    // its WebSocket), not by the whole log.
    c = await TestCluster.start({
      snapshotCount: 10,
      extraFlags: ['--experimental-browser-learners', '--experimental-snapshot-catchup-entries', '5'],
    });
    await buildDemo();
    server = await serveStatic();
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await c?.close();
  });

  it('joins with ?join=, catches up, serves serializable reads and watches locally', async () => {
    for (let i = 0; i < 20; i++) expect(ctl(['put', `before/${i}`, `v${i}`]).status).toBe(0);
    browser = await openDemo(`${server.url.replace(/\/$/, '')}/?join=${c.endpoint('m1')}`); // no scheme, as the CLI prints it
    const page = browser.page;
    const card = '#learner .learner-card[data-role="learner"]';
    await page.waitForSelector(card, { timeout: 30_000 });
    await page.waitForFunction(
      (sel) => document.querySelector(`${sel} [data-key="before/19"]`) !== null,
      card,
      WAIT,
    );
    const id = await page.$eval(card, (e) => (e as HTMLElement).dataset.nodeId ?? '');
    const listed = members().find((m) => BigInt(m.ID).toString(16) === id);
    expect(listed?.isLearner).toBe(true);
    expect(listed?.peerURLs[0]).toMatch(/^browser:tab-/);
    expect(listed?.name).toMatch(/^tab-/);

    // A write after the join reaches the tab.
    expect(ctl(['put', 'after', 'join']).status).toBe(0);
    await page.waitForFunction(() => document.querySelector('[data-key="after"]') !== null, undefined, WAIT);

    const request = (path: string, body: unknown) =>
      page.evaluate(
        ([p, b]) =>
          (
            globalThis as unknown as {
              edgecdLearner: { request(p: string, b: unknown): Promise<{ status: number; text: string }> };
            }
          ).edgecdLearner.request(p as string, b),
        [path, body] as const,
      );
    const key = Buffer.from('after').toString('base64');
    const serializable = await request('/v3/kv/range', { key, serializable: true });
    expect(serializable.status).toBe(200);
    const got = JSON.parse(serializable.text) as {
      header: { member_id: string };
      kvs: { value: string }[];
    };
    expect(Buffer.from(got.kvs[0].value, 'base64').toString()).toBe('join');
    expect(BigInt(got.header.member_id).toString(16)).toBe(id);
    const linearizable = await request('/v3/kv/range', { key });
    expect(JSON.parse(linearizable.text)).toMatchObject({
      error: 'etcdserver: rpc not supported for learner',
    });

    // A watch on the tab's replica sees a write made through etcdctl.
    const watch = request('/v3/watch', { create_request: { key: Buffer.from('w').toString('base64') } });
    await new Promise((r) => setTimeout(r, 500));
    expect(ctl(['put', 'w', 'watched']).status).toBe(0);
    const lines = (await watch).text.trim().split('\n');
    const event = JSON.parse(lines[1]) as { result: { events: { kv: { value: string } }[] } };
    expect(Buffer.from(event.result.events[0].kv.value, 'base64').toString()).toBe('watched');
    await page.screenshot({ path: `${SHOTS}join-learner.png` });
    expect(browser.errors).toEqual([]);
  }, 120_000);

  it('a reload resumes as the same member from IndexedDB; closing the tab leaves the cluster serving', async () => {
    const page = browser.page;
    const card = '#learner .learner-card[data-role="learner"]';
    const id = await page.$eval(card, (e) => (e as HTMLElement).dataset.nodeId ?? '');
    const count = members().length;
    await page.reload();
    await page.waitForSelector(card, { timeout: 30_000 });
    expect(await page.$eval(card, (e) => (e as HTMLElement).dataset.nodeId)).toBe(id);
    // It started from what IndexedDB held, not from nothing: the snapshot the leader sent when it joined.
    await page.waitForFunction(
      () => /started from index [1-9]/.test(document.querySelector('#learner')?.textContent ?? ''),
      undefined,
      WAIT,
    );
    expect(await page.textContent('#join-status')).toMatch(/a snapshot at [1-9]/);
    expect(members()).toHaveLength(count); // no second member for the same tab
    expect(ctl(['put', 'after', 'reload']).status).toBe(0);
    await page.waitForFunction(
      () => document.querySelector('[data-key="after"]')?.textContent?.includes('reload') === true,
      undefined,
      WAIT,
    );
    await browser.close();
    for (let i = 0; i < 10; i++) expect(ctl(['put', `closed/${i}`, 'v']).status).toBe(0);
    expect(ctl(['get', 'closed/9', '--print-value-only']).stdout.trim()).toBe('v');
  }, 120_000);

  it('with auth on, a tab joins only with root credentials (as every member add)', async () => {
    const secured = await TestCluster.start({ extraFlags: ['--experimental-browser-learners'] });
    let tab: DemoBrowser | undefined;
    try {
      const sctl = (args: string[]) => etcdctl(secured.endpoints, args);
      expect(sctl(['user', 'add', 'root:rootpw']).status).toBe(0);
      expect(sctl(['auth', 'enable']).status).toBe(0);
      expect(sctl(['--user', 'root:rootpw', 'put', 'secret', 's']).status).toBe(0);
      const base = `${server.url.replace(/\/$/, '')}/?join=${secured.endpoint('m1')}`;
      tab = await openDemo(base);
      const first = tab;
      await first.page
        .waitForFunction(
          () =>
            /join failed: .*user name is empty/.test(
              document.querySelector('#join-status')?.textContent ?? '',
            ),
          undefined,
          WAIT,
        )
        .catch(async (e: Error) => {
          throw new Error(`${e.message}; status: ${await first.page.textContent('#join-status')}`);
        });
      await tab.close();
      tab = await openDemo(`${base}&user=root&password=rootpw`);
      const second = tab;
      await second.page
        .waitForFunction(() => document.querySelector('[data-key="secret"]') !== null, undefined, WAIT)
        .catch(async (e: Error) => {
          throw new Error(`${e.message}; status: ${await second.page.textContent('#join-status')}`);
        });
      const out = sctl(['--user', 'root:rootpw', 'member', 'list']).stdout;
      expect(out).toMatch(/browser:tab-.*true/);
    } finally {
      await tab?.close();
      await secured.close();
    }
  }, 120_000);

  it('members without --experimental-browser-learners refuse a browser member', async () => {
    const plain = await TestCluster.start();
    try {
      const r = etcdctl(plain.endpoints, [
        'member',
        'add',
        'tab',
        '--learner',
        '--peer-urls=http://127.0.0.1:1',
      ]);
      expect(r.status).toBe(0); // an ordinary learner is fine
      const res = await fetch(`http://${plain.endpoint('m1')}/v3/cluster/member/add`, {
        method: 'POST',
        body: JSON.stringify({ peerURLs: ['browser:tab-x'], isLearner: true }),
      });
      expect(res.status).toBe(412);
      expect(await res.json()).toMatchObject({
        error: 'edgecd: browser learners are not enabled on this cluster (--experimental-browser-learners)',
      });
    } finally {
      await plain.close();
    }
  }, 120_000);
});
