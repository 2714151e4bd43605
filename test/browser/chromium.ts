// Runs a TypeScript test page in headless Chromium: esbuild bundles the page (with 'vitest' aliased to
// ./vitest-shim.ts), a tiny HTTP server on 127.0.0.1 serves it (IndexedDB needs an http origin, not file://),
// and playwright-core drives Debian's /usr/bin/chromium (no browser downloads) with a fresh profile.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Quiet and offline (see PLATFORM-NOTES.md). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

const SHIM = fileURLToPath(new URL('./vitest-shim.ts', import.meta.url));

export function chromiumPresent(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Bundles `entry` (a .ts file) into one ES module for the browser. */
export async function bundle(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
    plugins: [
      {
        name: 'vitest-shim',
        setup(b) {
          b.onResolve({ filter: /^vitest$/ }, () => ({ path: SHIM }));
        },
      },
    ],
  });
  return result.outputFiles[0].text;
}

export interface BrowserPage {
  readonly url: string;
  page: Page;
  /** Uncaught errors and console errors the page reported, for failure messages. */
  readonly errors: string[];
  /** Closes the browser (its profile survives) and launches it again on the same profile and page URL. */
  restartBrowser(): Promise<void>;
  close(): Promise<void>;
}

const LAUNCH_TIMEOUT_MS = 30_000;
const NAVIGATION_TIMEOUT_MS = 15_000;

/**
 * Serves `script` (bundled JS) on a fresh 127.0.0.1 port and opens it in headless Chromium with a fresh
 * profile. Resolves once the page has defined `globalThis[readyGlobal]`.
 */
export async function openPage(script: string, readyGlobal: string): Promise<BrowserPage> {
  const server = await serve(script);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const profile = await mkdtemp(join(tmpdir(), 'edgecd-chromium-'));
  const errors: string[] = [];
  let context: BrowserContext | undefined;

  async function launch(): Promise<Page> {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: LAUNCH_TIMEOUT_MS,
    });
    context.setDefaultTimeout(NAVIGATION_TIMEOUT_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.stack ?? err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
    });
    await page.goto(url, { timeout: NAVIGATION_TIMEOUT_MS });
    await waitReady(page, readyGlobal);
    return page;
  }

  async function shutdown(): Promise<void> {
    await context?.close().catch(() => {});
    context = undefined;
  }

  try {
    const handle: BrowserPage = {
      url,
      page: await launch(),
      errors,
      async restartBrowser() {
        await shutdown();
        handle.page = await launch();
      },
      async close() {
        await shutdown();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await rm(profile, { recursive: true, force: true });
      },
    };
    return handle;
  } catch (err) {
    await shutdown();
    server.close();
    server.closeAllConnections();
    await rm(profile, { recursive: true, force: true });
    throw new Error(`could not open the test page in ${CHROMIUM_PATH}: ${String(err)}\n${errors.join('\n')}`);
  }
}

/** Waits (bounded) until the page's module script has run and defined `globalThis[name]`. */
export async function waitReady(page: Page, name: string): Promise<void> {
  await page.waitForFunction((n) => n in globalThis, name, { timeout: NAVIGATION_TIMEOUT_MS });
}

async function serve(script: string): Promise<Server> {
  const html =
    '<!doctype html><meta charset="utf-8"><title>edgecd browser test</title>' +
    '<script type="module" src="/page.js"></script>';
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
    } else if (path === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'no-store' });
      res.end(script);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return server;
}
