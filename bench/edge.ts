// npm run bench:edge (and the end of npm run bench) — edgecd's write throughput on the two other runtimes, with no
// etcd to compare against (the figures are measured, not judged):
// - Chromium: three members in one tab, each on its own IndexedDB database, over the in-page hub with no added
//   delay (./edge/browser-page.ts), driven by `clients` concurrent put loops against the leader;
// - Durable Objects: `wrangler dev --local` (workerd) with the Worker and its three SQLite-backed members
//   (wrangler.toml), driven over its JSON gateway (`POST /v3/kv/put`) by `clients` concurrent fetch loops.
// A benchmark, never a test. BENCH_SCALE scales the number of puts.
//
//   npm run bench:edge                       both, 1 and 16 clients
//   npm run bench:edge -- --only browser     one of them (browser | durable-objects)

import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundle, chromiumPresent, openPage } from '../test/browser/chromium.ts';
import { startWranglerDev } from '../test/cloudflare/wrangler.ts';

const { values: opts } = parseArgs({ options: { only: { type: 'string' } } });
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const n = (x: number) => Math.max(1, Math.round(x * SCALE));
const CLIENTS = [1, 16];

interface Figures {
  readonly puts: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function line(where: string, clients: number, f: Figures): void {
  console.log(
    `${where.padEnd(42)} ${String(clients).padStart(3)} clients: ${f.perSecond.toFixed(0).padStart(6)} puts/s` +
      `  p50 ${f.p50Ms.toFixed(1)} ms  p99 ${f.p99Ms.toFixed(1)} ms  (${f.puts} puts)`,
  );
}

async function browser(): Promise<void> {
  if (!chromiumPresent()) {
    console.log(
      'browser: skipped — /usr/bin/chromium not found (apt-get install -y chromium, or set CHROMIUM_PATH)',
    );
    return;
  }
  const script = await bundle(fileURLToPath(new URL('./edge/browser-page.ts', import.meta.url)));
  const page = await openPage(script, 'edgecdBench');
  try {
    for (const clients of CLIENTS) {
      const total = n(clients === 1 ? 500 : 4000);
      const f = (await page.page.evaluate(
        ([t, c]) =>
          (globalThis as unknown as { edgecdBench(t: number, c: number): Promise<Figures> }).edgecdBench(
            t,
            c,
          ),
        [total, clients] as const,
      )) as Figures;
      line('Chromium, 3 members in a tab on IndexedDB', clients, f);
    }
  } finally {
    await page.close();
  }
}

async function durableObjects(): Promise<void> {
  const dev = await startWranglerDev(120_000);
  try {
    const put = (key: string) =>
      fetch(`${dev.baseUrl}/v3/kv/put`, {
        method: 'POST',
        body: JSON.stringify({ key: btoa(key), value: btoa('v'.repeat(256)) }),
      }).then(async (res) => {
        const text = await res.text();
        if (!res.ok) throw new Error(`put ${key}: ${res.status} ${text}`);
      });
    // The group elects its leader on the first requests: wait until a put succeeds.
    for (let i = 0; ; i++) {
      try {
        await put('warm-up');
        break;
      } catch (err) {
        if (i >= 100) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    for (const clients of CLIENTS) {
      const total = n(clients === 1 ? 300 : 2000);
      const latencies: number[] = [];
      let next = 0;
      const start = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          for (let i = next++; i < total; i = next++) {
            const t = performance.now();
            await put(`key-${clients}-${i}`);
            latencies.push(performance.now() - t);
          }
        }),
      );
      const seconds = (performance.now() - start) / 1000;
      latencies.sort((a, b) => a - b);
      line('Durable Objects, 3 members under wrangler dev', clients, {
        puts: total,
        perSecond: total / seconds,
        p50Ms: latencies[Math.floor(latencies.length * 0.5)],
        p99Ms: latencies[Math.floor(latencies.length * 0.99)],
      });
    }
  } finally {
    await dev.stop();
  }
}

if (!opts.only || opts.only === 'browser') await browser();
if (!opts.only || opts.only === 'durable-objects') await durableObjects();
