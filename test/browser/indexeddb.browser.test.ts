// The IndexedDB adapter in real Chromium: the shared storage conformance suite (test/conformance/storage.ts,
// unchanged: the page bundle swaps 'vitest' for ./vitest-shim.ts) runs in a headless page, one vitest test per
// conformance test, plus durability across a page reload and across a browser restart on the same profile.
//
// Needs /usr/bin/chromium (Debian's `apt-get install -y chromium`; override with CHROMIUM_PATH). Without it the
// file is skipped, unless CI is set: then it fails.

import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SNAPSHOT_CHUNK_BYTES } from '../../adapters/storage/indexeddb/index.ts';
import type { Entry } from '../../src/raft/types.ts';
import { entries, snapshot } from '../conformance/storage.ts';
import { type BrowserPage, bundle, CHROMIUM_PATH, chromiumPresent, openPage, waitReady } from './chromium.ts';
import type { PageApi, Persisted } from './indexeddb.page.ts';

/** The page's global, as the functions passed to `page.evaluate` (which run in the browser) see it. */
type WithApi = { edgecd: PageApi };

const PAGE = fileURLToPath(new URL('./indexeddb.page.ts', import.meta.url));
/** Per conformance test, inside the page; the vitest timeout around it is larger. */
const IN_PAGE_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 45_000;

const ci = process.env.CI !== undefined && !['', '0', 'false'].includes(process.env.CI);

if (!chromiumPresent()) {
  if (ci) {
    describe('IndexedDbStorage in Chromium', () => {
      it('needs Chromium', () => {
        throw new Error(`${CHROMIUM_PATH} not found and CI is set: install it (apt-get install -y chromium)`);
      });
    });
  } else {
    const reason = `${CHROMIUM_PATH} not found (apt-get install -y chromium, or set CHROMIUM_PATH)`;
    console.warn(`skipping test/browser/indexeddb.browser.test.ts: ${reason}`);
    describe.skip(`IndexedDbStorage in Chromium — skipped: ${reason}`, () => {
      it('runs the storage conformance suite', () => {});
    });
  }
} else {
  // Top-level await: the page knows the conformance test names, and vitest needs them at collection time.
  const browser = await openPage(await bundle(PAGE), 'edgecd');
  afterAll(async () => {
    await browser.close();
  });
  const names = await browser.page.evaluate(() => (globalThis as unknown as WithApi).edgecd.names());

  describe('IndexedDbStorage in Chromium', () => {
    it('found the conformance suite in the page', () => {
      expect(names.length).toBeGreaterThan(10);
    });

    for (const name of names) {
      it(
        name,
        async () => {
          const result = await browser.page.evaluate(
            ([n, ms]) => (globalThis as unknown as WithApi).edgecd.run(n, ms),
            [name, IN_PAGE_TIMEOUT_MS] as const,
          );
          if (!result.ok) throw new Error(`${result.error}${pageErrors(browser)}`);
        },
        TEST_TIMEOUT_MS,
      );
    }

    it('opens its write transactions with strict durability', async () => {
      const seen = await browser.page.evaluate(
        (n) => (globalThis as unknown as WithApi).edgecd.writeDurabilities(n),
        'edgecd-durability',
      );
      // load (readonly, Chromium's default), then save, saveSnapshot and compact.
      expect(seen).toEqual(['readonly:default', 'readwrite:strict', 'readwrite:strict', 'readwrite:strict']);
    });

    it(
      'round-trips a snapshot larger than one chunk',
      async () => {
        const size = 2.5 * SNAPSHOT_CHUNK_BYTES + 3;
        const outcome = await browser.page.evaluate(
          ([n, s]) => (globalThis as unknown as WithApi).edgecd.largeSnapshotRoundTrip(n, s),
          ['edgecd-large-snapshot', size] as const,
        );
        expect(outcome).toBe('ok');
      },
      TEST_TIMEOUT_MS,
    );

    const expected: Persisted = {
      hardState: { term: 3, vote: 0xffff_ffff_ffff_fffdn.toString(), commit: 6 },
      snapshot: {
        index: 4,
        term: 2,
        voters: snapshot(4, 2).metadata.confState.voters.map(String),
        data: Array.from(snapshot(4, 2).data),
      },
      entries: [...entries(5, 6, 2), ...entries(7, 9, 3)].map((e: Entry) => ({
        index: e.index,
        term: e.term,
        type: e.type,
        data: Array.from(e.data),
      })),
    };

    it(
      'keeps what it wrote across a page reload',
      async () => {
        const db = 'edgecd-reload';
        await browser.page.evaluate((n) => (globalThis as unknown as WithApi).edgecd.writeFixture(n), db);
        await browser.page.reload();
        await waitReady(browser.page, 'edgecd');
        expect(
          await browser.page.evaluate((n) => (globalThis as unknown as WithApi).edgecd.readFixture(n), db),
        ).toEqual(expected);
      },
      TEST_TIMEOUT_MS,
    );

    it(
      'keeps what it wrote across a browser restart on the same profile',
      async () => {
        await browser.restartBrowser();
        expect(
          await browser.page.evaluate(
            (n) => (globalThis as unknown as WithApi).edgecd.readFixture(n),
            'edgecd-reload',
          ),
        ).toEqual(expected);
        await browser.page.evaluate(
          (n) => (globalThis as unknown as WithApi).edgecd.destroy(n),
          'edgecd-reload',
        );
      },
      TEST_TIMEOUT_MS,
    );
  });
}

function pageErrors(browser: BrowserPage): string {
  return browser.errors.length > 0 ? `\npage errors:\n${browser.errors.join('\n')}` : '';
}
