// Stands in for 'vitest' in browser bundles (esbuild aliases the import to this file), so that a shared suite
// such as test/conformance/storage.ts runs unchanged in a real browser page. It supports what those suites
// use: describe, it, beforeEach, afterEach, and vitest's own `expect` (the @vitest/expect matchers on chai,
// as vitest's browser mode uses them). Anything else is a build error: esbuild reports the missing export.

import { chai, JestAsymmetricMatchers, JestChaiExpect, JestExtend } from '@vitest/expect';

chai.use(JestExtend);
chai.use(JestChaiExpect);
chai.use(JestAsymmetricMatchers);

type Hook = () => unknown;

interface Suite {
  readonly name: string;
  readonly beforeEach: Hook[];
  readonly afterEach: Hook[];
}

export interface RegisteredTest {
  /** Suite names and the test name, joined by ' > ' as vitest prints them. */
  readonly name: string;
  readonly fn: () => unknown;
  /** Enclosing suites, outermost first. */
  readonly suites: readonly Suite[];
}

export interface TestResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

const registered: RegisteredTest[] = [];
const stack: Suite[] = [];

export const expect = ((value: unknown, message?: string) =>
  chai.expect(value, message)) as typeof chai.expect;

export function describe(name: string, body: () => void): void {
  stack.push({ name, beforeEach: [], afterEach: [] });
  try {
    body();
  } finally {
    stack.pop();
  }
}

export function it(name: string, fn: () => unknown): void {
  registered.push({ name: [...stack.map((s) => s.name), name].join(' > '), fn, suites: [...stack] });
}

export const test = it;

export function beforeEach(fn: Hook): void {
  current('beforeEach').beforeEach.push(fn);
}

export function afterEach(fn: Hook): void {
  current('afterEach').afterEach.push(fn);
}

function current(hook: string): Suite {
  const suite = stack[stack.length - 1];
  if (!suite) throw new Error(`${hook} outside describe is not supported in the browser shim`);
  return suite;
}

export function registeredTests(): readonly RegisteredTest[] {
  return registered;
}

/**
 * Runs one registered test as vitest would: beforeEach hooks outermost first, the test, then afterEach hooks
 * innermost first (always). Bounded by `timeoutMs`; never throws, the outcome is in the result.
 */
export async function runTest(name: string, timeoutMs: number): Promise<TestResult> {
  const t = registered.find((r) => r.name === name);
  if (!t) return { name, ok: false, ms: 0, error: `no such test: ${name}` };
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  const errors: unknown[] = [];
  const body = async () => {
    try {
      for (const s of t.suites) for (const hook of s.beforeEach) await hook();
      await t.fn();
    } catch (err) {
      errors.push(err);
    }
    for (const s of [...t.suites].reverse()) {
      for (const hook of s.afterEach) {
        try {
          await hook();
        } catch (err) {
          errors.push(err);
        }
      }
    }
  };
  try {
    await Promise.race([body(), timeout]);
  } catch (err) {
    errors.push(err);
  } finally {
    clearTimeout(timer);
  }
  const ms = Math.round(performance.now() - started);
  if (errors.length === 0) return { name, ok: true, ms };
  return { name, ok: false, ms, error: errors.map(describeError).join('\n---\n') };
}

function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const text = err.stack?.includes(err.message) ? err.stack : `${err.message}\n${err.stack}`;
  // chai's AssertionError carries both sides; vitest would print a diff, we print them.
  const { actual, expected } = err as { actual?: unknown; expected?: unknown };
  if (!('actual' in err) && !('expected' in err)) return text;
  return `${text}\nexpected: ${show(expected)}\nactual:   ${show(actual)}`;
}

/** JSON with bigints and byte arrays readable, cut short: enough to see what differs. */
function show(value: unknown): string {
  const json = JSON.stringify(value, (_, v) =>
    typeof v === 'bigint'
      ? `${v}n`
      : v instanceof Uint8Array
        ? `Uint8Array[${Array.from(v.subarray(0, 32))}${v.length > 32 ? ',…' : ''}] (${v.length} bytes)`
        : v,
  );
  return json === undefined ? String(value) : json.length > 2000 ? `${json.slice(0, 2000)}…` : json;
}
