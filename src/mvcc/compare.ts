// Txn compares (etcd applyCompare / compareKV). A compare over a range holds only if it holds for every key in
// it. A missing key compares as the zero KeyValue (version, create, mod and lease 0), except that a VALUE
// compare on a missing key is always false: gRPC cannot tell an empty value from no value.

import type { Compare, KeyValue } from '../etcd/kv.ts';
import { compareBytes, EMPTY_BYTES } from './bytes.ts';
import { keyRange } from './key-range.ts';
import type { ReadView } from './kv-state.ts';

const ZERO_KV: KeyValue = {
  key: EMPTY_BYTES,
  createRevision: 0,
  modRevision: 0,
  version: 0,
  value: EMPTY_BYTES,
  lease: 0n,
};

export function applyCompares(view: ReadView, compares: readonly Compare[]): boolean {
  return compares.every((c) => applyCompare(view, c));
}

export function applyCompare(view: ReadView, c: Compare): boolean {
  let kvs: readonly KeyValue[];
  try {
    kvs = view.rangeKeys(keyRange(c.key, c.rangeEnd)).kvs;
  } catch {
    return false;
  }
  if (kvs.length === 0) return c.target === 'VALUE' ? false : compareKV(c, ZERO_KV);
  return kvs.every((kv) => compareKV(c, kv));
}

export function compareKV(c: Compare, kv: KeyValue): boolean {
  const result = targetOrder(c, kv);
  switch (c.result) {
    case 'EQUAL':
      return result === 0;
    case 'NOT_EQUAL':
      return result !== 0;
    case 'GREATER':
      return result > 0;
    case 'LESS':
      return result < 0;
  }
}

function targetOrder(c: Compare, kv: KeyValue): number {
  switch (c.target) {
    case 'VALUE':
      return compareBytes(kv.value, c.value ?? EMPTY_BYTES);
    case 'VERSION':
      return Math.sign(kv.version - (c.version ?? 0));
    case 'CREATE':
      return Math.sign(kv.createRevision - (c.createRevision ?? 0));
    case 'MOD':
      return Math.sign(kv.modRevision - (c.modRevision ?? 0));
    case 'LEASE': {
      const lease = c.lease ?? 0n;
      return kv.lease === lease ? 0 : kv.lease < lease ? -1 : 1;
    }
  }
}
