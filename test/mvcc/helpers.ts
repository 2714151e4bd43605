// Shared test helpers: text ↔ bytes, and short ways to write and read a store.

import type { KeyValue, PutRequest, RangeRequest, RangeResponse } from '../../src/etcd/kv.ts';
import { MvccStore, type MvccStoreOptions } from '../../src/mvcc/index.ts';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const b = (s: string): Uint8Array => encoder.encode(s);
export const str = (bytes: Uint8Array): string => decoder.decode(bytes);

export function newStore(options?: MvccStoreOptions): MvccStore {
  return new MvccStore(options);
}

export function put(
  store: MvccStore,
  key: string,
  value: string,
  extra: Omit<PutRequest, 'key' | 'value'> = {},
) {
  return store.put({ key: b(key), value: b(value), ...extra });
}

export function get(
  store: MvccStore,
  key: string,
  extra: Omit<RangeRequest, 'key'> = {},
): KeyValue | undefined {
  return store.range({ key: b(key), ...extra }).kvs[0];
}

export function keysOf(resp: RangeResponse): string[] {
  return resp.kvs.map((kv) => str(kv.key));
}

export function valuesOf(resp: RangeResponse): string[] {
  return resp.kvs.map((kv) => str(kv.value));
}

/** A small seeded PRNG (mulberry32) for property tests: same seed, same run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `fn` and returns the EtcdError message it throws (fails the test if it does not throw). */
export function thrownMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}
