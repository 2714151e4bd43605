// The README's embedding example is docs/examples/embed.mjs, included in the README verbatim. Here it runs
// against the sources (vitest.config.ts maps `edgecd` and `edgecd/memory` to their source entry points);
// test/package/package.test.ts runs the same file from the installed tarball with plain node.
import { readFileSync } from 'node:fs';
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

it('the README shows docs/examples/embed.mjs exactly', () => {
  const example = readFileSync(new URL('../../docs/examples/embed.mjs', import.meta.url), 'utf8');
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  expect(readme).toContain(`\`\`\`js\n${example}\`\`\``);
});
