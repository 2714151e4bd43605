// The workerd tests (`npm run test:workerd`, which `npm test` runs after the projects of vitest.config.ts).
// Offline: no account, no network.
//   workerd            test/workerd/**/*.spec.ts run INSIDE workerd through @cloudflare/vitest-pool-workers,
//                      with test/workerd/worker.ts as the Worker and its SQLite-backed Durable Object.
//   workerd-miniflare  test/workerd/**/*.test.ts run in Node and drive workerd through Miniflare's API (e.g. to
//                      restart the runtime on the same persisted storage).
import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineConfig } from 'vitest/config';

process.env.WRANGLER_SEND_METRICS ??= 'false';
process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= 'false';

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [
          cloudflareTest({
            main: './test/workerd/worker.ts',
            miniflare: {
              compatibilityDate: '2026-04-01',
              compatibilityFlags: ['nodejs_compat'],
              durableObjects: { STORAGE_TEST: { className: 'StorageTestObject', useSQLite: true } },
            },
          }),
        ],
        test: {
          name: 'workerd',
          include: ['test/workerd/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'workerd-miniflare',
          include: ['test/workerd/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
