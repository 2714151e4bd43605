import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Projects: `fast` (unit, conformance, in-process; `npm run test:fast`), `slow` (the 1,000-seed simulator range),
// `e2e` (real edgecd processes and etcdctl; one file at a time on 2 cores), `browser` (real Chromium), `package`
// (the packed tarball installed into a scratch project, run with plain node). workerd tests have their own config
// (vitest.workerd.config.ts). `npm test` runs them all.

// Tests run the sources as they are: `bin/edgecd.js` (spawned by the e2e tests, and by the local cluster for its
// members) takes the TypeScript sources through tsx instead of the build in dist/, and every package entry point
// (`import … from 'edgecd/memory'`, as docs/examples/embed.mjs does) resolves to its source file.
process.env.EDGECD_FROM_SOURCE = '1';
const root = new URL('./', import.meta.url);
const { exports } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as {
  exports: Record<string, string | { import: string }>;
};
const sourceEntries = Object.entries(exports).flatMap(([subpath, target]) =>
  typeof target === 'string'
    ? []
    : [
        {
          find: new RegExp(`^edgecd${subpath.slice(1)}$`),
          replacement: fileURLToPath(
            new URL(target.import.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'), root),
          ),
        },
      ],
);

export default defineConfig({
  test: {
    projects: [
      {
        resolve: { alias: sourceEntries },
        test: {
          name: 'fast',
          include: ['test/**/*.test.ts'],
          exclude: [
            'test/**/*.slow.test.ts',
            'test/e2e/**',
            'test/browser/**',
            'test/workerd/**',
            'test/package/**',
          ],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'slow',
          include: ['test/**/*.slow.test.ts'],
          testTimeout: 20 * 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
