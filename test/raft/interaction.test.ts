// Raft scenarios as data: every test/raft/testdata/*.txt is a script of commands and the output each must print
// (test/raft/interaction/env.ts lists the commands), in the manner of etcd-io/raft's testdata. A new scenario is
// a new file: write its commands with empty outputs, run `REWRITE=1 npx vitest run test/raft/interaction.test.ts`,
// and read what it printed before committing it.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runFile } from '../support/datadriven.ts';
import { InteractionEnv } from './interaction/env.ts';

const DIR = join(import.meta.dirname, 'testdata');

describe('raft interaction scripts (test/raft/testdata)', () => {
  for (const name of readdirSync(DIR)
    .filter((f) => f.endsWith('.txt'))
    .sort()) {
    it(name, () => {
      const env = new InteractionEnv();
      runFile(
        join(DIR, name),
        (d) => env.handle(d),
        (d, actual) => expect(actual, `${name}:${d.line}: ${d.text}`).toBe(d.expected),
      );
    });
  }
});
