// Data-driven test files in the manner of cockroachdb/datadriven (what etcd-io/raft's testdata/*.txt use): a
// script of directives, each a command line, optional input lines, a `----` line and the expected output, which
// ends at the first blank line. Lines starting with `#` and blank lines between directives are kept as they are.
//
//   # a comment
//   command arg key=value key=(a,b)
//   an input line
//   ----
//   the expected output
//
// With REWRITE=1 in the environment the expected outputs are replaced by what the handler printed, so a new
// script is written by typing its commands and running the test once.

import { readFileSync, writeFileSync } from 'node:fs';

export interface Arg {
  /** `key` of `key=value`, or the whole word for a bare argument (`3` in `campaign 3`). */
  readonly key: string;
  /** The values: none for a bare argument, one for `key=v`, several for `key=(a,b,c)`. */
  readonly vals: readonly string[];
}

export interface Directive {
  /** 1-based line of the command, for messages. */
  readonly line: number;
  /** The command line as written. */
  readonly text: string;
  readonly cmd: string;
  readonly args: readonly Arg[];
  readonly input: readonly string[];
  readonly expected: string;
}

type Segment = { readonly text: string } | { readonly directive: Directive };

export const rewriting = (): boolean => process.env.REWRITE === '1';

/** Splits `command a key=v key=(x,y)` into the command and its arguments. */
export function parseCommand(line: string): { cmd: string; args: Arg[] } {
  const [cmd, ...words] = line.trim().split(/\s+/);
  const args = words.map((word): Arg => {
    const eq = word.indexOf('=');
    if (eq < 0) return { key: word, vals: [] };
    const key = word.slice(0, eq);
    const value = word.slice(eq + 1);
    const list = /^\((.*)\)$/.exec(value);
    return { key, vals: list ? list[1].split(',').filter((v) => v !== '') : [value] };
  });
  return { cmd, args };
}

function parse(text: string, file: string): Segment[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const segments: Segment[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '' || line.startsWith('#')) {
      segments.push({ text: line });
      i++;
      continue;
    }
    const start = i;
    const input: string[] = [];
    i++;
    while (i < lines.length && lines[i] !== '----') input.push(lines[i++]);
    if (i >= lines.length) throw new Error(`${file}:${start + 1}: no '----' after the command`);
    i++;
    const output: string[] = [];
    while (i < lines.length && lines[i].trim() !== '') output.push(lines[i++]);
    const { cmd, args } = parseCommand(line);
    segments.push({
      directive: { line: start + 1, text: line, cmd, args, input, expected: output.join('\n') },
    });
  }
  return segments;
}

/**
 * Runs every directive of `file` in order through `handle` (which returns the output; empty output reads `ok`).
 * Without REWRITE, `check` gets each expected and actual output (it should fail the test on a difference); with
 * it, the file is written back with the actual outputs.
 */
export function runFile(
  file: string,
  handle: (d: Directive) => string,
  check: (d: Directive, actual: string) => void,
): void {
  const segments = parse(readFileSync(file, 'utf8'), file);
  const out: string[] = [];
  for (const segment of segments) {
    if ('text' in segment) {
      out.push(segment.text);
      continue;
    }
    const d = segment.directive;
    let actual = handle(d).replace(/\n+$/, '');
    if (actual === '') actual = 'ok';
    if (actual.split('\n').some((l) => l.trim() === ''))
      throw new Error(`${file}:${d.line}: output of '${d.cmd}' has a blank line, which would end it`);
    if (!rewriting()) check(d, actual);
    out.push(d.text, ...d.input, '----', actual);
  }
  if (rewriting()) writeFileSync(file, `${out.join('\n')}\n`);
}
