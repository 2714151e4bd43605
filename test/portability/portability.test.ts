// src/ must stay runtime-agnostic. The real check is `tsc -p src/tsconfig.json` (ES libs + src/platform.d.ts
// only), run by `npm test`; this test proves that check bites, by compiling probe files with the very same
// compiler options, and scans src/ for ambient clocks and randomness that type-check but break determinism.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const tmp = join(root, 'test', '.tmp-portability');

function compileProbe(name: string, source: string): { ok: boolean; output: string } {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'probe.ts'), source);
  // Same options as src/tsconfig.json, but only the probe (plus the ambient platform file) as input.
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      extends: relative(dir, join(root, 'src', 'tsconfig.json')),
      include: ['probe.ts', relative(dir, join(root, 'src', 'platform.d.ts'))],
    }),
  );
  try {
    const output = execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', dir], { encoding: 'utf8' });
    return { ok: true, output };
  } catch (e) {
    return { ok: false, output: String((e as { stdout?: string }).stdout ?? e) };
  }
}

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('src/ portability check', () => {
  it('accepts the common web APIs declared in src/platform.d.ts', () => {
    const r = compileProbe(
      'allowed',
      `export const x = new TextEncoder().encode('a'); export const c = new AbortController(); queueMicrotask(() => {});`,
    );
    expect(r.output).toBe('');
    expect(r.ok).toBe(true);
  });

  it('rejects importing node:fs', () => {
    const r = compileProbe(
      'node-fs',
      `import { readFileSync } from 'node:fs'; export const f = readFileSync;`,
    );
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/node:fs/);
  });

  it('rejects DOM globals', () => {
    const r = compileProbe('dom', `export const t = document.title;`);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/document/);
  });

  it('rejects Node globals', () => {
    const r = compileProbe(
      'node-global',
      `export const a = process.argv; export const b = Buffer.from('x');`,
    );
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/process|Buffer/);
  });

  it('finds no ambient clock, timer or randomness in src/ (time and randomness are injected)', () => {
    const offenders: string[] = [];
    // `new Date()` and `Date()` read the clock; `new Date(ms)` with an injected time does not.
    const banned = /\b(Date\.now|Math\.random|performance\.now|setTimeout|setInterval)\s*\(|\bDate\s*\(\s*\)/;
    for (const ambient of ['new Date()', 'Date()', 'Date.now()', 'setTimeout(f, 1)'])
      expect(banned.test(`const x = ${ambient};`), ambient).toBe(true);
    expect(banned.test('const x = new Date(nowMs);')).toBe(false);
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (p.endsWith('.ts')) {
          readFileSync(p, 'utf8')
            .split('\n')
            .forEach((line, i) => {
              const code = line.replace(/\/\/.*$/, '');
              if (banned.test(code)) offenders.push(`${relative(root, p)}:${i + 1}: ${line.trim()}`);
            });
        }
      }
    };
    walk(join(root, 'src'));
    expect(offenders).toEqual([]);
  });
});
