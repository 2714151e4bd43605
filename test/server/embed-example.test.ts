// The README's embedding example is docs/examples/embed.mjs, included in the README verbatim. Here it runs
// against the sources (vitest.config.ts maps `edgecd` and `edgecd/memory` to their source entry points);
// test/package/package.test.ts runs the same file from the installed tarball with plain node.
import { expect, it, vi } from 'vitest';

it('README example: a 3-member in-process cluster through createNode', async () => {
  const lines: unknown[][] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args);
  });
  try {
    // @ts-expect-error: a plain JavaScript example, without declarations of its own
    await import('../../docs/examples/embed.mjs');
  } finally {
    log.mockRestore();
  }
  expect(lines).toEqual([['hello', 'at revision', 2]]);
});
