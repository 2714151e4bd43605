import { describe, expect, it } from 'vitest';
import {
  checkOperations,
  etcdKvModel,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type Operation,
  type RegisterInput,
  type RegisterOutput,
  registerModel,
} from '../../src/sim/linearizability/index.ts';

const UNKNOWN = { unknown: true } as const;

function op(clientId: number, call: number, ret: number, input: KvInput, output: KvOutput): KvOperation {
  return { clientId, call, return: ret, input, output };
}
const get = (key: string) => ({ op: 'get', key }) as const;
const put = (key: string, value: string) => ({ op: 'put', key, value }) as const;
const del = (key: string) => ({ op: 'delete', key }) as const;
const cas = (key: string, expectedValue: string | null, newValue: string) =>
  ({ op: 'cas', key, expectedValue, newValue }) as const;
const read = (value: string | null) => ({ value });
const ok = {};

const check = (history: KvOperation[], budget?: number) => checkOperations(etcdKvModel, history, { budget });

describe('linearizability checker: legal histories', () => {
  it('accepts the empty history', () => {
    expect(check([]).result).toBe('ok');
  });

  it('accepts a sequential history of every operation', () => {
    const h = [
      op(1, 0, 1, get('a'), read(null)),
      op(1, 2, 3, put('a', 'x'), ok),
      op(2, 4, 5, get('a'), read('x')),
      op(2, 6, 7, cas('a', 'x', 'y'), { succeeded: true }),
      op(1, 8, 9, cas('a', 'x', 'z'), { succeeded: false }),
      op(1, 10, 11, del('a'), { deleted: 1 }),
      op(3, 12, 13, del('a'), { deleted: 0 }),
      op(3, 14, 15, cas('a', null, 'w'), { succeeded: true }),
      op(3, 16, 17, get('a'), read('w')),
    ];
    const report = check(h);
    expect(report.result).toBe('ok');
    expect(report.partitions).toHaveLength(1);
    expect(report.partitions[0].longestPrefix).toEqual(h);
  });

  it('accepts a read seeing either of two overlapping writes', () => {
    for (const seen of ['x', 'y']) {
      const h = [
        op(1, 0, 10, put('a', 'x'), ok),
        op(2, 1, 9, put('a', 'y'), ok),
        op(3, 2, 8, get('a'), read(seen)),
        op(3, 11, 12, get('a'), read(seen === 'x' ? 'x' : 'y')),
      ];
      expect(check(h).result).toBe('ok');
    }
  });

  it('accepts a final value from either of two overlapping writes', () => {
    const h = [
      op(1, 0, 10, put('a', 'x'), ok),
      op(2, 1, 9, put('a', 'y'), ok),
      op(3, 20, 21, get('a'), read('x')),
    ];
    expect(check(h).result).toBe('ok');
  });

  it('accepts an indeterminate write that took effect', () => {
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(2, 2, Infinity, put('a', 'y'), UNKNOWN),
      op(3, 50, 51, get('a'), read('y')),
    ];
    expect(check(h).result).toBe('ok');
  });

  it('accepts an indeterminate write that never took effect', () => {
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(2, 2, Infinity, put('a', 'y'), UNKNOWN),
      op(3, 50, 51, get('a'), read('x')),
      op(3, 52, 53, get('a'), read('x')),
    ];
    expect(check(h).result).toBe('ok');
  });

  it('accepts an indeterminate write that took effect late, after reads of the old value', () => {
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(2, 2, Infinity, put('a', 'y'), UNKNOWN),
      op(3, 50, 51, get('a'), read('x')),
      op(3, 60, 61, get('a'), read('y')),
    ];
    expect(check(h).result).toBe('ok');
  });

  it('accepts indeterminate CAS and delete either way', () => {
    const base = [op(1, 0, 1, put('a', 'x'), ok), op(2, 2, Infinity, cas('a', 'x', 'y'), UNKNOWN)];
    expect(check([...base, op(3, 10, 11, get('a'), read('y'))]).result).toBe('ok');
    expect(check([...base, op(3, 10, 11, get('a'), read('x'))]).result).toBe('ok');
    const withDelete = [op(1, 0, 1, put('a', 'x'), ok), op(2, 2, Infinity, del('a'), UNKNOWN)];
    expect(check([...withDelete, op(3, 10, 11, get('a'), read(null))]).result).toBe('ok');
    expect(check([...withDelete, op(3, 10, 11, get('a'), read('x'))]).result).toBe('ok');
  });

  it('drops indeterminate reads: they constrain nothing', () => {
    const h = [op(1, 0, 1, put('a', 'x'), ok), op(2, 2, Infinity, get('a'), UNKNOWN)];
    const report = check(h);
    expect(report.result).toBe('ok');
    expect(report.partitions[0].operations).toHaveLength(1);
  });

  it('treats operations that touch at one instant as concurrent', () => {
    // The write returns at 5 and the read is called at 5: the read may still see the old value.
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(1, 2, 5, put('a', 'y'), ok),
      op(2, 5, 6, get('a'), read('x')),
    ];
    expect(check(h).result).toBe('ok');
    const later = [...h.slice(0, 2), op(2, 6, 7, get('a'), read('x'))];
    expect(check(later).result).toBe('illegal');
  });

  it('accepts many clients hammering a few keys concurrently', () => {
    const h: KvOperation[] = [];
    for (let c = 0; c < 10; c++) h.push(op(c, c, 100 + c, put(`k${c % 3}`, `v${c}`), ok));
    // After all writes returned, each key holds the value of one of its writers.
    h.push(op(11, 200, 201, get('k0'), read('v9')));
    h.push(op(11, 202, 203, get('k1'), read('v1')));
    h.push(op(11, 204, 205, get('k2'), read('v5')));
    const report = check(h);
    expect(report.result).toBe('ok');
    expect(report.partitions.map((p) => p.label)).toEqual(['key "k0"', 'key "k1"', 'key "k2"']);
  });

  it('checks a single register model', () => {
    const r = (c: number, call: number, ret: number, input: RegisterInput, output: RegisterOutput) =>
      ({ clientId: c, call, return: ret, input, output }) satisfies Operation<RegisterInput, RegisterOutput>;
    const good = [
      r(1, 0, 10, { op: 'write', value: 'x' }, { written: true }),
      r(2, 1, 2, { op: 'read' }, { value: null }),
      r(2, 3, 4, { op: 'read' }, { value: 'x' }),
    ];
    expect(checkOperations(registerModel, good).result).toBe('ok');
    const bad = [...good, r(2, 11, 12, { op: 'read' }, { value: null })];
    const report = checkOperations(registerModel, bad);
    expect(report.result).toBe('illegal');
    expect(report.explanation).toContain('read -> null');
  });
});

describe('linearizability checker: violations', () => {
  it('rejects a stale read', () => {
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(1, 2, 3, put('a', 'y'), ok),
      op(2, 4, 5, get('a'), read('x')),
    ];
    const report = check(h);
    expect(report.result).toBe('illegal');
    expect(report.partitions[0].longestPrefix).toEqual(h.slice(0, 2));
    expect(report.explanation).toContain('key "a" is not linearizable');
    expect(report.explanation).toContain('#2 client 2 [4, 5] get("a") -> "x"');
    expect(report.explanation).toContain('refused in state "y"');
  });

  it('rejects a lost write: an acknowledged put never seen by later reads', () => {
    const h = [
      op(1, 0, 1, put('a', 'old'), ok),
      op(2, 5, 10, put('a', 'new'), ok),
      op(3, 20, 21, get('a'), read('old')),
      op(3, 30, 31, get('a'), read('old')),
    ];
    expect(check(h).result).toBe('illegal');
  });

  it('rejects a read of a value never written', () => {
    const h = [op(1, 0, 10, put('a', 'x'), ok), op(2, 1, 9, get('a'), read('ghost'))];
    const report = check(h);
    expect(report.result).toBe('illegal');
    expect(report.explanation).toContain('"ghost"');
  });

  it('rejects a CAS that succeeded against a value that was not current', () => {
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(1, 2, 3, put('a', 'y'), ok),
      op(2, 4, 5, cas('a', 'x', 'z'), { succeeded: true }),
    ];
    expect(check(h).result).toBe('illegal');
    const failedWhenItShouldNot = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(2, 4, 5, cas('a', 'x', 'z'), { succeeded: false }),
    ];
    expect(check(failedWhenItShouldNot).result).toBe('illegal');
  });

  it('rejects a read that goes back in time', () => {
    // Both writes overlap both reads, but once B has been read, A cannot come back.
    const h = [
      op(1, 0, 100, put('a', 'A'), ok),
      op(2, 0, 100, put('a', 'B'), ok),
      op(3, 10, 20, get('a'), read('B')),
      op(3, 30, 40, get('a'), read('A')),
      op(3, 50, 60, get('a'), read('B')),
    ];
    expect(check(h).result).toBe('illegal');
    // Without the final read it is fine: B then A.
    expect(check(h.slice(0, 4)).result).toBe('ok');
  });

  it('rejects a wrong delete count', () => {
    expect(check([op(1, 0, 1, del('a'), { deleted: 1 })]).result).toBe('illegal');
  });

  it('reports the failing key among several and still checks the others', () => {
    const h = [
      op(1, 0, 1, put('good', 'x'), ok),
      op(1, 2, 3, put('bad', 'x'), ok),
      op(2, 4, 5, get('good'), read('x')),
      op(2, 6, 7, get('bad'), read(null)),
    ];
    const report = check(h);
    expect(report.result).toBe('illegal');
    expect(report.partitions.map((p) => [p.label, p.result])).toEqual([
      ['key "good"', 'ok'],
      ['key "bad"', 'illegal'],
    ]);
    expect(report.explanation).toContain('key "bad"');
  });

  it('rejects malformed times', () => {
    expect(() => check([op(1, 5, 4, get('a'), read(null))])).toThrow(RangeError);
  });
});

describe('linearizability checker: budget and determinism', () => {
  // n concurrent puts and n concurrent reads: the search space grows like n * 2^n (the worst case).
  const concurrent = (n = 30): KvOperation[] => {
    const h: KvOperation[] = [];
    for (let c = 0; c < n; c++) h.push(op(c, 0, 1000, put('a', `v${c}`), ok));
    for (let c = 0; c < n; c++) h.push(op(100 + c, 1, 999, get('a'), read(`v${c}`)));
    return h;
  };

  it("returns 'unknown' with an explanation when the budget runs out", () => {
    const report = check(concurrent(), 10);
    expect(report.result).toBe('unknown');
    expect(report.steps).toBe(10);
    expect(report.explanation).toContain('budget of 10 steps exhausted');
  });

  it('spends the budget across partitions and leaves the rest undecided', () => {
    const h = [
      op(1, 0, 1, put('a', 'x'), ok),
      op(1, 2, 3, put('b', 'x'), ok),
      op(1, 4, 5, put('c', 'x'), ok),
    ];
    // A one-operation partition takes one step: the first is decided, the budget is gone for the others.
    const report = check(h, 1);
    expect(report.result).toBe('unknown');
    expect(report.partitions.map((p) => p.result)).toEqual(['ok', 'unknown', 'unknown']);
  });

  it('is deterministic: same history, same result and step count', () => {
    const a = check(concurrent(7));
    const b = check(concurrent(7));
    expect(a.result).toBe(b.result);
    expect(a.steps).toBe(b.steps);
    expect(a.explanation).toBe(b.explanation);
    expect(a.result).toBe('ok');
    expect(a.steps).toBeGreaterThan(100);
    const bad = [...concurrent(7), op(200, 2000, 2001, get('a'), read('never'))];
    expect(check(bad).result).toBe('illegal');
    expect(check(bad).steps).toBe(check(bad).steps);
  });
});

/** Seeded PRNG: reproducible randomized histories. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A linearizable history: run operations sequentially at linearization points 3 ms apart, then give each an
 * interval around its point, one outstanding operation per client. A few writes end indeterminately; those
 * take effect or not at random.
 */
function randomHistory(seed: number, count: number, clients: number, keys: number): KvOperation[] {
  const rand = mulberry32(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const store = new Map<string, string | null>();
  const busyUntil = new Array<number>(clients).fill(-1);
  const history: KvOperation[] = [];
  let t = 0;
  for (let i = 0; i < count; i++) {
    t += 1 + pick(5);
    let free = busyUntil.flatMap((until, c) => (until < t ? [c] : []));
    while (free.length === 0) {
      t++;
      free = busyUntil.flatMap((until, c) => (until < t ? [c] : []));
    }
    const client = free[pick(free.length)];
    const call = Math.max(busyUntil[client] + 1, t - pick(20));
    let ret = t + pick(20);
    const key = `k${pick(keys)}`;
    const current = store.get(key) ?? null;
    const value = `v${i}`;
    const dice = rand();
    let input: KvInput;
    let output: KvOutput;
    if (dice < 0.4) {
      input = get(key);
      output = read(current);
    } else if (dice < 0.7) {
      input = put(key, value);
      output = ok;
      store.set(key, value);
    } else if (dice < 0.8) {
      input = del(key);
      output = { deleted: current === null ? 0 : 1 };
      store.set(key, null);
    } else {
      const expected = rand() < 0.6 ? current : `v${pick(i + 1)}`;
      input = cas(key, expected, value);
      output = { succeeded: expected === current };
      if (expected === current) store.set(key, value);
    }
    if (input.op !== 'get' && rand() < 0.02) {
      // Indeterminate: the client gives up at `ret`; the write happened at `t` or never.
      output = UNKNOWN;
      if (rand() < 0.5) store.set(key, current);
      busyUntil[client] = ret;
      ret = Infinity;
    } else {
      busyUntil[client] = ret;
    }
    history.push(op(client, call, ret, input, output));
  }
  return history;
}

/**
 * Make one read provably stale: it returns the value of a put W_old although a later put W_new (called after
 * W_old returned, and returned before the read was called) overwrote it. Values are unique, so no other write
 * could have restored it.
 */
function corruptOneRead(history: KvOperation[]): { history: KvOperation[]; index: number } {
  const isKnownPut = (o: KvOperation) => o.input.op === 'put' && o.return !== Infinity;
  for (let r = Math.floor(history.length / 2); r < history.length; r++) {
    const reader = history[r];
    if (reader.input.op !== 'get') continue;
    const key = reader.input.key;
    const puts = history.filter((o) => o.input.key === key && isKnownPut(o));
    const newer = puts.find((w) => w.return < reader.call && puts.some((old) => old.return < w.call));
    if (!newer) continue;
    const older = puts.find((old) => old.return < newer.call)!;
    const staleValue = older.input.op === 'put' ? older.input.value : '';
    const copy = history.slice();
    copy[r] = { ...reader, output: read(staleValue) };
    return { history: copy, index: r };
  }
  throw new Error('no read to corrupt');
}

describe('linearizability checker: randomized histories', () => {
  it('accepts a 2,000-operation linearizable history and rejects it once one read is corrupted', () => {
    const history = randomHistory(42, 2000, 8, 5);
    expect(history.filter((o) => o.return === Infinity).length).toBeGreaterThan(0);
    // Observed: 2,747 steps to accept, 12,986 to reject (seed 42); the budget leaves room for model changes.
    const budget = 100_000;
    const report = check(history, budget);
    expect(report.result, report.explanation).toBe('ok');
    expect(report.partitions).toHaveLength(5);
    expect(report.partitions.every((p) => p.longestPrefix.length === p.operations.length)).toBe(true);

    const { history: corrupted, index } = corruptOneRead(history);
    const bad = check(corrupted, budget);
    expect(bad.result).toBe('illegal');
    expect(bad.explanation).toContain(`#${index} `);
  });

  it('accepts histories from several seeds, and rejects each with a stale read', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const history = randomHistory(seed, 500, 8, 3);
      const report = check(history, 1_000_000);
      expect(report.result, `seed ${seed}: ${report.explanation}`).toBe('ok');
      expect(check(corruptOneRead(history).history, 1_000_000).result, `seed ${seed}`).toBe('illegal');
    }
  });
});

/** Reference answer by exhaustive search over orders consistent with real time (precedence: a.return < b.call). */
function bruteForce(history: readonly KvOperation[]): boolean {
  const ops = history.filter((o) => !(o.input.op === 'get' && o.output === UNKNOWN));
  const done = new Array<boolean>(ops.length).fill(false);
  const go = (state: string | null, placed: number): boolean => {
    // Indeterminate operations left over may simply never have happened.
    if (ops.every((o, i) => done[i] || o.return === Infinity)) return true;
    for (let i = 0; i < ops.length; i++) {
      if (done[i]) continue;
      // Minimal: no other pending operation returned before this one was called.
      if (ops.some((o, j) => !done[j] && j !== i && o.return < ops[i].call)) continue;
      const step = etcdKvModel.step(state, ops[i].input, ops[i].output);
      if (!step.ok) continue;
      done[i] = true;
      const found = go(step.state, placed + 1);
      done[i] = false;
      if (found) return true;
    }
    return false;
  };
  return go(null, 0);
}

function smallRandomHistory(rand: () => number, size: number): KvOperation[] {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const values = ['x', 'y', null] as const;
  const history: KvOperation[] = [];
  for (let i = 0; i < size; i++) {
    const call = Math.floor(rand() * 10);
    const ret = rand() < 0.15 ? Infinity : call + Math.floor(rand() * 6);
    const unknown = ret === Infinity;
    const kind = pick(['get', 'put', 'delete', 'cas'] as const);
    const v = pick(['x', 'y'] as const);
    if (kind === 'get') history.push(op(i, call, ret, get('a'), unknown ? UNKNOWN : read(pick(values))));
    if (kind === 'put') history.push(op(i, call, ret, put('a', v), unknown ? UNKNOWN : ok));
    if (kind === 'delete') {
      history.push(op(i, call, ret, del('a'), unknown ? UNKNOWN : { deleted: pick([0, 1]) }));
    }
    if (kind === 'cas') {
      const output = unknown ? UNKNOWN : { succeeded: rand() < 0.5 };
      history.push(op(i, call, ret, cas('a', pick(values), v), output));
    }
  }
  return history;
}

describe('linearizability checker: agrees with brute force', () => {
  it('on 2,000 small random histories, legal and illegal', () => {
    const rand = mulberry32(7);
    const tally = { ok: 0, illegal: 0 };
    for (let i = 0; i < 2000; i++) {
      const history = smallRandomHistory(rand, 2 + Math.floor(rand() * 6));
      const expected = bruteForce(history) ? 'ok' : 'illegal';
      const report = check(history);
      expect(report.result, JSON.stringify(history)).toBe(expected);
      tally[expected]++;
    }
    // Both verdicts must be well represented for the comparison to mean anything.
    expect(tally.ok).toBeGreaterThan(300);
    expect(tally.illegal).toBeGreaterThan(300);
  });
});
