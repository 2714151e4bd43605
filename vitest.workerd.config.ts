// The workerd tests (`npm run test:workerd`, which `npm test` runs after the projects of vitest.config.ts).
// Offline: no account, no network.
//   workerd            test/workerd/**/*.spec.ts run INSIDE workerd through @cloudflare/vitest-pool-workers,
//                      with test/workerd/worker.ts as the Worker and its SQLite-backed Durable Object.
//   workerd-miniflare  test/workerd/**/*.test.ts run in Node and drive workerd through Miniflare's API (e.g. to
//                      restart the runtime on the same persisted storage).
//   workerd-edge       test/workerd/edge/**/*.spec.ts run INSIDE workerd with the real edgecd Worker
//                      (adapters/runtime/cloudflare/worker.ts, bindings from wrangler.toml): the fetch transport's
//                      conformance, a 3-member Durable Object cluster, the gateway through the Worker.
//   cloudflare-wrangler test/cloudflare/**/*.spec.ts run in Node against `wrangler dev --local` over real HTTP.
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
          exclude: ['test/workerd/edge/**'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        plugins: [
          cloudflareTest({
            main: './test/workerd/edge/worker.ts',
            wrangler: { configPath: './wrangler.toml' },
            miniflare: {
              durableObjects: {
                EDGECD_MEMBER: { className: 'EdgecdMember', useSQLite: true },
                TRANSPORT_TEST: { className: 'TransportTestObject', useSQLite: true },
              },
            },
          }),
        ],
        test: {
          name: 'workerd-edge',
          include: ['test/workerd/edge/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'cloudflare-wrangler',
          include: ['test/cloudflare/**/*.spec.ts'],
          testTimeout: 60_000,
          hookTimeout: 90_000,
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
