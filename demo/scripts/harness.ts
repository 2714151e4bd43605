// Builds the demo, serves dist/demo on 127.0.0.1 (a free port) and opens it in Debian's Chromium through
// playwright-core — shared by `npm run screenshot` and test/browser/demo.test.ts. Launch settings are those of
// test/browser/chromium.ts (quiet, offline, fresh profile; no browser downloads).

import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { CHROMIUM_PATH } from '../../test/browser/chromium.ts';

export { CHROMIUM_PATH, chromiumPresent } from '../../test/browser/chromium.ts';

export const DIST = fileURLToPath(new URL('../../dist/demo/', import.meta.url));
const CONFIG = fileURLToPath(new URL('../vite.config.ts', import.meta.url));

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

/** Builds the demo into dist/demo with Vite (about a second). */
export async function buildDemo(): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: CONFIG, logLevel: 'warn' });
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** Serves `dir` on 127.0.0.1 at a free port. */
export async function serveStatic(dir: string = DIST): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    let file = normalize(join(dir, path));
    if (!file.startsWith(normalize(dir))) return void res.writeHead(403).end();
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!existsSync(file)) return void res.writeHead(404).end('not found');
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface DemoBrowser {
  readonly context: BrowserContext;
  readonly page: Page;
  /** Uncaught page and worker errors and console errors, for failure messages. */
  readonly errors: string[];
  close(): Promise<void>;
}

export interface OpenDemoOptions {
  /** Default 1280×800. */
  readonly viewport?: { width: number; height: number };
  /** A phone: touch events and the mobile viewport meta tag honoured. */
  readonly mobile?: boolean;
}

/** Opens `url` in headless Chromium with a fresh profile, at 1280×800 unless told otherwise. */
export async function openDemo(url: string, options: OpenDemoOptions = {}): Promise<DemoBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'edgecd-demo-chromium-'));
  const errors: string[] = [];
  let context: BrowserContext | undefined;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 30_000,
      viewport: options.viewport ?? { width: 1280, height: 800 },
      hasTouch: options.mobile === true,
      isMobile: options.mobile === true,
    });
    context.setDefaultTimeout(15_000);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => errors.push(`pageerror: ${err.stack ?? err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(`console.error: ${msg.text()}`);
    });
    page.on('worker', (worker) =>
      worker.on('console', (msg) => {
        if (msg.type() === 'error') errors.push(`worker console.error: ${msg.text()}`);
      }),
    );
    await page.goto(url, { timeout: 15_000 });
    const ctx = context;
    return {
      context: ctx,
      page,
      errors,
      async close() {
        await ctx.close().catch(() => {});
        await rm(profile, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await context?.close().catch(() => {});
    await rm(profile, { recursive: true, force: true });
    throw err;
  }
}

/** Waits (bounded) until exactly one member card shows `data-role=leader` and returns its node ID. */
export async function waitForLeader(
  page: Page,
  timeoutMs = 20_000,
  among?: readonly string[],
): Promise<string> {
  const handle = await page.waitForFunction(
    (ids) => {
      const leaders = Array.from(
        document.querySelectorAll<HTMLElement>('.member[data-role="leader"]'),
      ).filter((e) => !ids || ids.includes(e.dataset.nodeId ?? ''));
      return leaders.length === 1 && document.querySelectorAll('[data-role="leader"]').length === 1
        ? leaders[0].dataset.nodeId
        : undefined;
    },
    among ?? null,
    { timeout: timeoutMs, polling: 50 },
  );
  return String(await handle.jsonValue());
}
