// Random request sequences over a small key space, from a seeded PRNG. Bodies use the placeholders of
// harness.ts: `$k:name` (prefixed key), `$kend` (end of the sequence's prefix), `$rev:n` / `$revn:n` (revision
// relative to the start of the sequence, as string / number), `$lease:n` (sequence-chosen lease ID), `$b64:text`.

import { mulberry32, type Sequence, type Step } from './harness.ts';

const KEYS = ['a', 'b', 'c', 'p/1', 'p/2', 'p/3', 'p/', 'z'];
const VALUES = ['v1', 'v2', 'xyz', ''];
const SORT_ORDERS: unknown[] = [undefined, 'NONE', 'ASCEND', 'DESCEND', 0, 1, 2];
const SORT_TARGETS: unknown[] = [undefined, 'KEY', 'VERSION', 'CREATE', 'MOD', 'VALUE', 3, 4];
const RESULTS: unknown[] = ['EQUAL', 'GREATER', 'LESS', 'NOT_EQUAL', 0, 1, 2, 3];

type Obj = Record<string, unknown>;

export class Gen {
  private readonly rnd: () => number;
  /** Over-estimate of the relative revision (number of write requests so far). */
  private est = 0;

  constructor(seed: number) {
    this.rnd = mulberry32(seed);
  }

  private int(lo: number, hi: number): number {
    return lo + Math.floor(this.rnd() * (hi - lo + 1));
  }
  private chance(p: number): boolean {
    return this.rnd() < p;
  }
  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.rnd() * xs.length)];
  }
  private key(): string {
    return `$k:${this.pick(KEYS)}`;
  }
  private value(): string {
    return `$b64:${this.pick(VALUES)}`;
  }
  /** A relative revision near the sequence's history (some past, some current, some future). */
  private rev(): string {
    const n = this.int(-1, this.est + 2);
    return this.chance(0.2) ? `$revn:${n}` : `$rev:${n}`;
  }
  private lease(): string {
    return `$lease:${this.int(0, 4)}`;
  }

  /** Key + range_end of a range: single key, prefix, [k, \0), a span, everything in the sequence. */
  private range(o: Obj): Obj {
    const r = this.rnd();
    if (r < 0.4) o.key = this.key();
    else if (r < 0.6) {
      o.key = '$k:p/';
      o.range_end = '$k:p0';
    } else if (r < 0.7) {
      o.key = this.key();
      o.range_end = 'AA==';
    } else if (r < 0.85) {
      const a = this.pick(KEYS);
      const b = this.pick(KEYS);
      const [lo, hi] = [a, b].sort();
      o.key = `$k:${lo}`;
      o.range_end = `$k:${hi}`;
    } else if (r < 0.95) {
      o.key = '$k:';
      o.range_end = '$kend';
    } else {
      // range_end before key: an empty range
      o.key = '$k:z';
      o.range_end = '$k:a';
    }
    return o;
  }

  put(): Obj {
    const o: Obj = { key: this.key() };
    if (this.chance(0.85)) o.value = this.value();
    if (this.chance(0.4)) o.prev_kv = true;
    if (this.chance(0.2)) o.lease = this.lease();
    if (this.chance(0.08)) {
      o.ignore_value = true;
      if (this.chance(0.6)) delete o.value;
    }
    if (this.chance(0.08)) {
      o.ignore_lease = true;
      if (this.chance(0.6)) delete o.lease;
    }
    this.est++;
    return o;
  }

  rangeReq(): Obj {
    const o = this.range({});
    if (this.chance(0.3)) o.limit = this.pick([1, 2, 3, '2', -1]);
    if (this.chance(0.15)) o.count_only = true;
    if (this.chance(0.15)) o.keys_only = true;
    if (this.chance(0.3)) {
      const so = this.pick(SORT_ORDERS);
      const st = this.pick(SORT_TARGETS);
      if (so !== undefined) o.sort_order = so;
      if (st !== undefined) o.sort_target = st;
    }
    if (this.chance(0.25)) o.revision = this.chance(0.15) ? this.pick(['0', '-1', '999999999']) : this.rev();
    if (this.chance(0.08)) o.min_mod_revision = this.rev();
    if (this.chance(0.08)) o.max_mod_revision = this.rev();
    if (this.chance(0.08)) o.min_create_revision = this.rev();
    if (this.chance(0.08)) o.max_create_revision = this.rev();
    if (this.chance(0.15)) o.serializable = true;
    return o;
  }

  deleteReq(): Obj {
    const o = this.range({});
    if (this.chance(0.5)) o.prev_kv = true;
    this.est++;
    return o;
  }

  compare(): Obj {
    const o: Obj = { key: this.key(), result: this.pick(RESULTS) };
    if (this.chance(0.1)) o.range_end = this.chance(0.5) ? '$k:p0' : 'AA==';
    if (o.range_end === '$k:p0') o.key = '$k:p/';
    const target = this.int(0, 4);
    const numeric = this.chance(0.2);
    switch (target) {
      case 0:
        o.target = numeric ? 0 : 'VERSION';
        o.version = String(this.int(0, 3));
        break;
      case 1:
        o.target = numeric ? 1 : 'CREATE';
        o.create_revision = this.rev();
        break;
      case 2:
        o.target = numeric ? 2 : 'MOD';
        o.mod_revision = this.rev();
        break;
      case 3:
        o.target = numeric ? 3 : 'VALUE';
        o.value = this.value();
        break;
      default:
        o.target = numeric ? 4 : 'LEASE';
        o.lease = this.chance(0.3) ? '0' : this.lease();
        break;
    }
    // a compare whose union field does not match the target (etcd compares the zero value)
    if (this.chance(0.04)) o.target = 'MOD';
    return o;
  }

  op(depth: number): Obj {
    const r = this.rnd();
    if (r < 0.35) return { request_put: this.put() };
    if (r < 0.65) return { request_range: this.rangeReq() };
    if (r < 0.85) return { request_delete_range: this.deleteReq() };
    if (depth < 2) return { request_txn: this.txn(depth + 1) };
    return { request_range: this.rangeReq() };
  }

  txn(depth = 0): Obj {
    const o: Obj = {};
    const nc = this.int(0, 3);
    if (nc > 0) o.compare = Array.from({ length: nc }, () => this.compare());
    const ns = this.int(0, 3);
    if (ns > 0) o.success = Array.from({ length: ns }, () => this.op(depth));
    const nf = this.int(0, 2);
    if (nf > 0) o.failure = Array.from({ length: nf }, () => this.op(depth));
    if (depth === 0 && this.chance(0.08)) {
      // overlapping writes in one branch → duplicate key (or, for puts inside nested txns, maybe not)
      const k = this.key();
      const branch = this.chance(0.5) ? 'success' : 'failure';
      const a = this.chance(0.5)
        ? { request_put: { key: k, value: '$b64:d1' } }
        : { request_delete_range: { key: k } };
      const b = this.chance(0.5)
        ? { request_put: { key: k, value: '$b64:d2' } }
        : { request_delete_range: { key: '$k:', range_end: '$kend' } };
      const nested = this.chance(0.3);
      o[branch] = [...((o[branch] as Obj[]) ?? []), a, nested ? { request_txn: { success: [b] } } : b];
    }
    return o;
  }

  bigTxn(): Obj {
    const n = this.pick([128, 129]);
    const where = this.pick(['compare', 'success', 'failure']);
    const o: Obj = {};
    if (where === 'compare') o.compare = Array.from({ length: n }, () => ({ key: this.key(), version: '0' }));
    else o[where] = Array.from({ length: n }, () => ({ request_range: { key: this.key() } }));
    return o;
  }

  invalid(): Step {
    const r = this.int(0, 13);
    switch (r) {
      case 0:
        return { kind: 'post', path: '/v3/kv/put', body: { value: '$b64:v' } };
      case 1:
        return {
          kind: 'post',
          path: '/v3/kv/range',
          body: this.chance(0.5) ? {} : { key: '', range_end: 'AA==' },
        };
      case 2:
        return { kind: 'post', path: '/v3/kv/deleterange', body: {} };
      case 3:
        return { kind: 'post', path: this.pick(['/v3/kv/range', '/v3/kv/put']), body: { key: 'Zm9v!' } };
      case 4:
        return { kind: 'post', path: '/v3/kv/put', body: { key: '$k:a', value: 'not base64' } };
      case 5:
        return { kind: 'raw', path: '/v3/kv/range', text: '{"key": nul}' };
      case 6:
        return { kind: 'raw', path: this.pick(['/v3/kv/put', '/v3/kv/txn']), text: '{"key":' };
      case 7:
        return { kind: 'raw', path: '/v3/kv/range', text: '{"key":"$k:a",}' };
      case 8:
        return { kind: 'raw', path: '/v3/kv/range', text: '[1,2]' };
      case 9:
        return {
          kind: 'post',
          path: '/v3/kv/txn',
          body: { success: [{ request_put: { value: '$b64:x' } }] },
        };
      case 10:
        return {
          kind: 'post',
          path: '/v3/kv/txn',
          body: { compare: [{ result: 'EQUAL', target: 'VERSION' }] },
        };
      case 11:
        return { kind: 'raw', path: '/v3/kv/range', text: '{"key":"$k:a","sort_order":"SIDEWAYS"}' };
      case 12:
        return { kind: 'raw', path: '/v3/kv/range', text: '{"key":"$k:a"} trailing' };
      default:
        return { kind: 'post', path: '/v3/kv/txn', body: { success: [{ request_range: {} }] } };
    }
  }

  watch(): Step {
    const create: Obj = this.range({});
    if (create.range_end === '$kend') create.key = '$k:';
    const r = this.rnd();
    if (r < 0.6) create.start_revision = this.rev();
    else if (r < 0.75) create.start_revision = String(this.int(1, 3)); // ancient: usually compacted
    if (this.chance(0.4)) create.prev_kv = true;
    if (this.chance(0.2)) create.filters = this.pick([['NOPUT'], ['NODELETE'], [0], [1]]);
    if (this.chance(0.2)) create.watch_id = this.int(1, 9);
    const requests: unknown[] = [{ create_request: create }];
    if (this.chance(0.15)) requests.push({ progress_request: {} });
    return { kind: 'watch', requests };
  }

  step(): Step {
    const r = this.rnd() * 100;
    if (r < 24) return { kind: 'post', path: '/v3/kv/put', body: this.put() };
    if (r < 44) return { kind: 'post', path: '/v3/kv/range', body: this.rangeReq() };
    if (r < 52) return { kind: 'post', path: '/v3/kv/deleterange', body: this.deleteReq() };
    if (r < 66) {
      this.est++;
      return { kind: 'post', path: '/v3/kv/txn', body: this.chance(0.04) ? this.bigTxn() : this.txn() };
    }
    if (r < 71) {
      const ttl = this.pick([60, 60, 120, 9000000000, 9000000001, '30']);
      return { kind: 'post', path: '/v3/lease/grant', body: { ID: this.lease(), TTL: ttl } };
    }
    if (r < 72) return { kind: 'grantAuto', ttl: this.pick([0, 1, -5, 30]) };
    if (r < 75) {
      this.est++;
      return {
        kind: 'post',
        path: this.pick(['/v3/lease/revoke', '/v3/kv/lease/revoke']),
        body: { ID: this.lease() },
      };
    }
    if (r < 79) {
      const body: Obj = { ID: this.chance(0.1) ? '424242' : this.lease() };
      if (this.chance(0.6)) body.keys = true;
      return { kind: 'post', path: '/v3/lease/timetolive', body };
    }
    if (r < 80) return { kind: 'post', path: '/v3/lease/leases', body: {} };
    if (r < 81) return { kind: 'keepalive', requests: [{ ID: this.lease() }] };
    if (r < 85) {
      const body: Obj = { revision: this.chance(0.15) ? '$rev:+50' : this.rev() };
      if (this.chance(0.3)) body.physical = true;
      return { kind: 'post', path: '/v3/kv/compaction', body };
    }
    if (r < 90) return this.watch();
    return this.invalid();
  }

  sequence(name: string, seed: number, length: number): Sequence {
    const steps: Step[] = [];
    for (let i = 0; i < length; i++) steps.push(this.step());
    return { name, seed, steps };
  }
}

export function generate(seed: number, length: number): Sequence {
  return new Gen(seed).sequence(`seed-${seed}`, seed, length);
}
