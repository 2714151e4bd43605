import { describe, expect, it } from 'vitest';
import type { Compare, CompareResult, CompareTarget, RequestOp } from '../../src/etcd/kv.ts';
import type { MvccStore } from '../../src/mvcc/store.ts';
import { b, get, newStore, put, str, thrownMessage } from './helpers.ts';

const putOp = (key: string, value = 'x'): RequestOp => ({ requestPut: { key: b(key), value: b(value) } });
const delOp = (key: string, rangeEnd?: string | Uint8Array): RequestOp => ({
  requestDeleteRange: { key: b(key), rangeEnd: typeof rangeEnd === 'string' ? b(rangeEnd) : rangeEnd },
});
const rangeOp = (key: string): RequestOp => ({ requestRange: { key: b(key) } });
const ALL = new Uint8Array([0]);

/** k: version 2, create 2, mod 3, value "v2", lease 5. */
function fixture(): MvccStore {
  const s = newStore();
  put(s, 'k', 'v1', { lease: 5n }); // 2
  put(s, 'k', 'v2', { lease: 5n }); // 3
  return s;
}

function holds(s: MvccStore, c: Compare): boolean {
  return s.txn({ compare: [c] }).response.succeeded;
}

describe('txn compares', () => {
  const s = fixture();
  const cmp = (target: CompareTarget, result: CompareResult, operand: Partial<Compare>, key = 'k') =>
    holds(s, { key: b(key), target, result, ...operand });

  it('compares every target with every result on a present key', () => {
    const table: [CompareTarget, Partial<Compare>, Partial<Compare>, Partial<Compare>][] = [
      // target, equal operand, smaller operand, larger operand
      ['VERSION', { version: 2 }, { version: 1 }, { version: 3 }],
      ['CREATE', { createRevision: 2 }, { createRevision: 1 }, { createRevision: 3 }],
      ['MOD', { modRevision: 3 }, { modRevision: 2 }, { modRevision: 4 }],
      ['VALUE', { value: b('v2') }, { value: b('v1') }, { value: b('v3') }],
      ['LEASE', { lease: 5n }, { lease: 4n }, { lease: 6n }],
    ];
    for (const [target, equal, smaller, larger] of table) {
      expect(cmp(target, 'EQUAL', equal), `${target} EQUAL`).toBe(true);
      expect(cmp(target, 'EQUAL', smaller), `${target} EQUAL smaller`).toBe(false);
      expect(cmp(target, 'NOT_EQUAL', equal), `${target} NOT_EQUAL`).toBe(false);
      expect(cmp(target, 'NOT_EQUAL', larger), `${target} NOT_EQUAL larger`).toBe(true);
      expect(cmp(target, 'GREATER', smaller), `${target} GREATER`).toBe(true);
      expect(cmp(target, 'GREATER', equal), `${target} GREATER equal`).toBe(false);
      expect(cmp(target, 'LESS', larger), `${target} LESS`).toBe(true);
      expect(cmp(target, 'LESS', equal), `${target} LESS equal`).toBe(false);
    }
  });

  it('compares a missing key as zeros, except VALUE which is always false', () => {
    expect(cmp('VERSION', 'EQUAL', { version: 0 }, 'nope')).toBe(true);
    expect(cmp('VERSION', 'EQUAL', {}, 'nope')).toBe(true);
    expect(cmp('CREATE', 'EQUAL', { createRevision: 0 }, 'nope')).toBe(true);
    expect(cmp('MOD', 'LESS', { modRevision: 1 }, 'nope')).toBe(true);
    expect(cmp('LEASE', 'EQUAL', { lease: 0n }, 'nope')).toBe(true);
    expect(cmp('VERSION', 'GREATER', { version: 0 }, 'nope')).toBe(false);
    expect(cmp('VALUE', 'EQUAL', { value: new Uint8Array(0) }, 'nope')).toBe(false);
    expect(cmp('VALUE', 'NOT_EQUAL', { value: b('x') }, 'nope')).toBe(false);
    expect(cmp('VALUE', 'LESS', { value: b('x') }, 'nope')).toBe(false);
  });

  it('treats a missing operand as its zero value', () => {
    expect(cmp('VERSION', 'GREATER', {})).toBe(true);
    expect(cmp('VALUE', 'GREATER', {})).toBe(true);
    expect(cmp('LEASE', 'NOT_EQUAL', {})).toBe(true);
    // The operand for another target is ignored: VERSION compares against 0 here.
    expect(cmp('VERSION', 'EQUAL', { modRevision: 2 })).toBe(false);
  });

  it('compares over a range: true only if every key satisfies it', () => {
    const r = newStore();
    put(r, 'p/a', '1');
    put(r, 'p/b', '1');
    put(r, 'p/c', '2');
    const over = (c: Partial<Compare>) =>
      holds(r, { key: b('p/'), rangeEnd: b('p0'), target: 'VALUE', result: 'EQUAL', ...c });
    expect(over({ value: b('1') })).toBe(false);
    expect(over({ rangeEnd: b('p/c'), value: b('1') })).toBe(true);
    expect(over({ result: 'LESS', value: b('3') })).toBe(true);
    expect(holds(r, { key: b('p/'), rangeEnd: ALL, target: 'VERSION', result: 'EQUAL', version: 1 })).toBe(
      true,
    );
    // An empty range compares as one missing key.
    expect(holds(r, { key: b('q'), rangeEnd: b('r'), target: 'CREATE', result: 'EQUAL' })).toBe(true);
    expect(holds(r, { key: b('q'), rangeEnd: b('r'), target: 'VALUE', result: 'NOT_EQUAL' })).toBe(false);
  });

  it('ANDs compares; no compares takes the success branch', () => {
    const t = (compare: Compare[]) => s.txn({ compare }).response.succeeded;
    const yes: Compare = { key: b('k'), target: 'VERSION', result: 'EQUAL', version: 2 };
    const no: Compare = { key: b('k'), target: 'VERSION', result: 'EQUAL', version: 9 };
    expect(t([])).toBe(true);
    expect(t([yes, yes])).toBe(true);
    expect(t([yes, no])).toBe(false);
  });
});

describe('txn execution', () => {
  it('runs the success branch, then the failure branch, with per-op responses', () => {
    const s = fixture();
    const guard: Compare = { key: b('k'), target: 'VALUE', result: 'EQUAL', value: b('v2') };
    const ok = s.txn({
      compare: [guard],
      success: [putOp('k', 'v3'), rangeOp('k')],
      failure: [rangeOp('k')],
    });
    expect(ok.response.succeeded).toBe(true);
    expect(ok.response.header.revision).toBe(4);
    expect(ok.response.responses[0].responsePut?.header.revision).toBe(4);
    const seen = ok.response.responses[1].responseRange!;
    expect(seen.header.revision).toBe(4);
    expect(str(seen.kvs[0].value)).toBe('v3');
    expect(seen.kvs[0]).toMatchObject({ modRevision: 4, version: 3, createRevision: 2 });

    const again = s.txn({ compare: [guard], success: [putOp('k', 'nope')], failure: [rangeOp('k')] });
    expect(again.response.succeeded).toBe(false);
    expect(again.response.header.revision).toBe(4);
    expect(str(again.response.responses[0].responseRange!.kvs[0].value)).toBe('v3');
    expect(s.revision).toBe(4);
  });

  it('moves the revision by exactly one for a write txn, by none for a read-only one', () => {
    const s = newStore();
    const w = s.txn({ success: [putOp('a'), putOp('b'), putOp('c'), delOp('zz')] });
    expect(s.revision).toBe(2);
    expect(w.events.map((e) => [str(e.kv.key), e.kv.modRevision])).toEqual([
      ['a', 2],
      ['b', 2],
      ['c', 2],
    ]);
    const r = s.txn({ success: [rangeOp('a')] });
    expect(r.response.header.revision).toBe(2);
    expect(s.revision).toBe(2);
    const empty = s.txn({});
    expect(empty.response).toMatchObject({ succeeded: true, responses: [], header: { revision: 2 } });
    // A txn with writes only in the branch not taken changes nothing.
    const skipped = s.txn({
      compare: [{ key: b('a'), target: 'VERSION', result: 'EQUAL', version: 7 }],
      success: [putOp('x')],
    });
    expect(skipped.response.header.revision).toBe(2);
    expect(s.revision).toBe(2);
  });

  it('lets later ops see earlier ones; deletes then puts of different keys share one revision', () => {
    const s = newStore();
    put(s, 'old', '1');
    const res = s.txn({ success: [delOp('old'), rangeOp('old'), putOp('new', 'n'), rangeOp('new')] });
    const r = res.response.responses;
    expect(r[0].responseDeleteRange).toMatchObject({ deleted: 1, header: { revision: 3 } });
    expect(r[1].responseRange?.kvs).toEqual([]);
    expect(r[1].responseRange?.header.revision).toBe(3);
    expect(r[3].responseRange?.kvs[0]).toMatchObject({ modRevision: 3, createRevision: 3 });
    expect(res.events.map((e) => e.type)).toEqual(['DELETE', 'PUT']);
  });

  it('a delete that deletes nothing first in a txn reports the old revision', () => {
    const s = newStore();
    put(s, 'a', '1');
    const r = s.txn({ success: [delOp('none'), putOp('b')] }).response.responses;
    expect(r[0].responseDeleteRange?.header.revision).toBe(2);
    expect(r[1].responsePut?.header.revision).toBe(3);
  });

  it('runs nested txns; all compares see the store as it was before the txn', () => {
    const s = newStore();
    put(s, 'a', '1');
    const res = s.txn({
      success: [
        putOp('a', '2'),
        {
          requestTxn: {
            // Evaluated before the outer put: a is still "1".
            compare: [{ key: b('a'), target: 'VALUE', result: 'EQUAL', value: b('1') }],
            success: [putOp('inner', 'then'), rangeOp('a')],
            failure: [putOp('inner', 'else')],
          },
        },
      ],
    });
    const nested = res.response.responses[1].responseTxn!;
    expect(nested.succeeded).toBe(true);
    expect(nested.header.revision).toBe(0);
    expect(str(nested.responses[1].responseRange!.kvs[0].value)).toBe('2');
    expect(str(get(s, 'inner')!.value)).toBe('then');
    expect(s.revision).toBe(3);
  });

  it('fails as a whole, changing nothing, when a chosen op cannot run', () => {
    const s = newStore({ leaseExists: (id) => id === 1n });
    put(s, 'a', '1');
    expect(
      thrownMessage(() =>
        s.txn({ success: [putOp('b'), { requestPut: { key: b('nope'), ignoreValue: true } }] }),
      ),
    ).toBe('etcdserver: key not found');
    expect(
      thrownMessage(() =>
        s.txn({ success: [putOp('b'), { requestPut: { key: b('c'), value: b('x'), lease: 2n } }] }),
      ),
    ).toBe('etcdserver: requested lease not found');
    expect(
      thrownMessage(() => s.txn({ success: [putOp('b'), { requestRange: { key: b('a'), revision: 9 } }] })),
    ).toBe('etcdserver: mvcc: required revision is a future revision');
    expect(get(s, 'b')).toBeUndefined();
    expect(s.revision).toBe(2);
    // The branch not taken is not checked.
    const fine = s.txn({
      compare: [{ key: b('a'), target: 'VERSION', result: 'EQUAL', version: 5 }],
      success: [{ requestPut: { key: b('nope'), ignoreValue: true } }],
      failure: [putOp('b')],
    });
    expect(fine.response.succeeded).toBe(false);
  });

  it('a range op at a compacted revision fails the txn', () => {
    const s = newStore();
    put(s, 'a', '1');
    put(s, 'a', '2');
    put(s, 'a', '3');
    s.compact(3);
    expect(thrownMessage(() => s.txn({ success: [{ requestRange: { key: b('a'), revision: 2 } }] }))).toBe(
      'etcdserver: mvcc: required revision has been compacted',
    );
    expect(s.txn({ success: [{ requestRange: { key: b('a'), revision: 3 } }] }).response.succeeded).toBe(
      true,
    );
  });
});

describe('txn request checks', () => {
  const dup = 'etcdserver: duplicate key given in txn request';
  const s = newStore();
  const txnErr = (success: RequestOp[], failure: RequestOp[] = []) => {
    try {
      s.txn({ success, failure });
      return 'ok';
    } catch (err) {
      return (err as Error).message;
    }
  };

  it('rejects a key put twice or put and deleted in one branch', () => {
    expect(txnErr([putOp('a'), putOp('a')])).toBe(dup);
    expect(txnErr([putOp('a'), delOp('a')])).toBe(dup);
    expect(txnErr([delOp('a', 'c'), putOp('b')])).toBe(dup);
    // etcd 3.4 takes range_end "\0" literally in this check: an empty interval, no conflict (verified against etcd).
    expect(txnErr([delOp('a', ALL), putOp('z')])).toBe('ok');
    expect(txnErr([delOp('a', 'b'), putOp('b')])).toBe('ok');
    expect(txnErr([delOp('a'), delOp('a')])).toBe('ok');
    expect(txnErr([delOp('a', 'z'), delOp('b')])).toBe('ok');
    // The two branches are separate.
    expect(txnErr([putOp('a')], [putOp('a')])).toBe('ok');
    expect(txnErr([putOp('a'), rangeOp('a')])).toBe('ok');
  });

  it('looks into nested txns', () => {
    const nested = (success: RequestOp[], failure: RequestOp[] = []): RequestOp => ({
      requestTxn: { success, failure },
    });
    expect(txnErr([putOp('a'), nested([putOp('a')])])).toBe(dup);
    expect(txnErr([delOp('a'), nested([putOp('a')])])).toBe(dup);
    expect(txnErr([putOp('a'), nested([delOp('a')])])).toBe(dup);
    expect(txnErr([nested([putOp('a')]), nested([putOp('a')])])).toBe(dup);
    expect(txnErr([nested([putOp('a')], [putOp('a')])])).toBe('ok');
    expect(txnErr([nested([putOp('a')], [putOp('b')]), nested([], [putOp('b')])])).toBe(dup);
    expect(txnErr([nested([nested([putOp('deep')])]), putOp('deep')])).toBe(dup);
    expect(txnErr([nested([delOp('a', 'c')]), nested([putOp('b')])])).toBe(dup);
  });

  it('limits ops to maxTxnOps: the largest of compares, success and failure', () => {
    const many = (n: number) => Array.from({ length: n }, (_, i) => putOp(`k${i}`));
    const compares = (n: number): Compare[] =>
      Array.from({ length: n }, () => ({ key: b('never-written'), target: 'VERSION', result: 'EQUAL' }));
    const tooMany = 'etcdserver: too many operations in txn request';
    expect(txnErr(many(128))).toBe('ok');
    expect(txnErr(many(129))).toBe(tooMany);
    expect(txnErr([], many(129))).toBe(tooMany);
    expect(thrownMessage(() => s.txn({ compare: compares(129) }))).toBe(tooMany);
    expect(s.txn({ compare: compares(128) }).response.succeeded).toBe(true);
    const small = newStore({ maxTxnOps: 2 });
    expect(thrownMessage(() => small.txn({ success: many(3) }))).toBe(tooMany);
    // A nested txn gets what its parent left: 2 - 1 = 1.
    expect(thrownMessage(() => small.txn({ success: [{ requestTxn: { success: many(2) } }] }))).toBe(tooMany);
  });

  it('rejects empty keys and empty ops', () => {
    expect(txnErr([{ requestPut: { key: new Uint8Array(0) } }])).toBe('etcdserver: key is not provided');
    expect(txnErr([{}])).toBe('etcdserver: key not found');
    expect(
      thrownMessage(() =>
        s.txn({ compare: [{ key: new Uint8Array(0), target: 'VERSION', result: 'EQUAL' }] }),
      ),
    ).toBe('etcdserver: key is not provided');
    expect(txnErr([{ requestPut: { key: b('a'), value: b('v'), ignoreValue: true } }])).toBe(
      'etcdserver: value is provided',
    );
  });
});
