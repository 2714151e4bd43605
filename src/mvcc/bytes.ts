// Byte-string helpers: etcd orders keys as raw bytes (Go's bytes.Compare), never as text.

export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i] - b[i];
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** One char per byte: a cheap exact Map/Set key for a byte string. */
export function bytesToMapKey(bytes: Uint8Array): string {
  // apply() takes the array as it is: ~10× faster than spreading it (no iterator) for a short key.
  if (bytes.length <= 4096) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let s = '';
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/** The byte string bytesToMapKey made `s` from. */
export function mapKeyToBytes(s: string): Uint8Array {
  const bytes = new Uint8Array(s.length);
  writeMapKey(s, bytes, 0);
  return bytes;
}

/** Writes the bytes of map key `s` into `out` at `at`. */
export function writeMapKey(s: string, out: Uint8Array, at: number): void {
  for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
}

/** etcd's prefix → range_end: drop trailing 0xff bytes, add 1 to the last byte; all-0xff or empty → `\0`. */
export function prefixRangeEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    if (prefix[i] < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i]++;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/** range_end `\0`: every key ≥ key. */
export function isGteRangeEnd(rangeEnd: Uint8Array | undefined): boolean {
  return rangeEnd !== undefined && rangeEnd.length === 1 && rangeEnd[0] === 0;
}
