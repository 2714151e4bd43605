// etcd's range_end rules, turned into the index's form once at the edge.
//   request range_end empty/absent → the single key `key`
//   request range_end `\0`         → every key ≥ key
//   otherwise                      → the half-open range [key, range_end)

import { bytesToMapKey, compareBytes, isGteRangeEnd } from './bytes.ts';

/** The index's view of a range: `end` undefined = single key, `end` null = unbounded, else exclusive end. */
export interface KeyRange {
  readonly key: Uint8Array;
  readonly end: Uint8Array | null | undefined;
}

export function keyRange(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeyRange {
  if (rangeEnd === undefined || rangeEnd.length === 0) return { key, end: undefined };
  if (isGteRangeEnd(rangeEnd)) return { key, end: null };
  return { key, end: rangeEnd };
}

export function rangeContains(range: KeyRange, k: Uint8Array): boolean {
  const c = compareBytes(k, range.key);
  if (range.end === undefined) return c === 0;
  return c >= 0 && (range.end === null || compareBytes(k, range.end) < 0);
}

/** A KeyRange with its bounds as the index holds keys: one char per byte (bytesToMapKey). */
export interface MapKeyRange {
  readonly key: string;
  readonly end: string | null | undefined;
}

export function mapKeyRange(range: KeyRange): MapKeyRange {
  const end = range.end === undefined || range.end === null ? range.end : bytesToMapKey(range.end);
  return { key: bytesToMapKey(range.key), end };
}

/** rangeContains, for a key and range in map-key form (such strings compare as their bytes do). */
export function mapRangeContains(range: MapKeyRange, k: string): boolean {
  if (range.end === undefined) return k === range.key;
  return k >= range.key && (range.end === null || k < range.end);
}
