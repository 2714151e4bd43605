// A bbolt database as plain data: a bucket is a sorted list of items, each either a key/value pair or a nested
// bucket under its key (bbolt keeps both in one keyspace per bucket). The reader produces this; the writer
// consumes it. The root bucket holds only buckets.

export interface BoltBucket {
  /** bbolt's per-bucket sequence (NextSequence); etcd leaves it 0. */
  readonly sequence?: bigint;
  /** In ascending byte order of key, keys unique (the writer sorts and checks). */
  readonly items: readonly BoltItem[];
}

export type BoltItem =
  | { readonly key: Uint8Array; readonly value: Uint8Array; readonly bucket?: undefined }
  | { readonly key: Uint8Array; readonly bucket: BoltBucket; readonly value?: undefined };

/** Unsigned lexicographic order (bytes.Compare). */
export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const utf8 = new TextEncoder();

function keyBytes(key: string | Uint8Array): Uint8Array {
  return typeof key === 'string' ? utf8.encode(key) : key;
}

function find(bucket: BoltBucket, key: string | Uint8Array): BoltItem | undefined {
  const k = keyBytes(key);
  let lo = 0;
  let hi = bucket.items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(bucket.items[mid].key, k);
    if (c === 0) return bucket.items[mid];
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

/** The nested bucket under `key`, if there is one. */
export function childBucket(bucket: BoltBucket, key: string | Uint8Array): BoltBucket | undefined {
  return find(bucket, key)?.bucket;
}

/** The value under `key`, if it is a plain key/value pair. */
export function bucketValue(bucket: BoltBucket, key: string | Uint8Array): Uint8Array | undefined {
  return find(bucket, key)?.value;
}

/** A bucket's key/value pairs (nested buckets left out), in key order. */
export function* bucketEntries(bucket: BoltBucket): Generator<{ key: Uint8Array; value: Uint8Array }> {
  for (const item of bucket.items) if (item.value !== undefined) yield { key: item.key, value: item.value };
}
