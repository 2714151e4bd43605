// HPACK's Huffman code (RFC 7541 §5.2, Appendix B): decoding a string (./http2/hpack.ts, ./authority.ts), and for
// ./authority.ts reading a string literal and turning `/` into `-` in place — in a Huffman-coded string too, where
// both have 6-bit codes. The table is the RFC's static Huffman code: for each byte value, its code and its length in
// bits.

/** Codes of bytes 0..255, right-aligned. */
export const HUFFMAN_CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8, 0xffffea,
  0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed, 0xfffffee, 0xfffffef,
  0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7,
  0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, 0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa,
  0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, 0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c,
  0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66,
  0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0,
  0x1ffc, 0x3ffc, 0x22, 0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, 0x27, 0x6, 0x74, 0x75, 0x28, 0x29,
  0x2a, 0x7, 0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd,
  0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, 0x3fffd6, 0x7fffda,
  0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, 0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0,
  0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6,
  0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea,
  0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0,
  0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5,
  0x3fffe6, 0x7ffff1, 0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3,
  0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9,
  0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7,
  0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea, 0x7ffffeb,
  0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
];

/** Their lengths in bits (5..30). */
export const HUFFMAN_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
];

const SLASH = 0x2f;
const DASH = 0x2d;

/** (length × 2^32) + code → byte value, for finding symbols with their bit offsets. */
const DECODE = new Map<number, number>(
  HUFFMAN_CODES.map((code, sym) => [HUFFMAN_LENGTHS[sym] * 2 ** 32 + code, sym]),
);

/** The code as a binary trie: node n's children at 2n and 2n + 1; a leaf holds 256 + its symbol. */
const TRIE = (() => {
  const next = new Int32Array(2 * 1024).fill(-1);
  let nodes = 1;
  for (let sym = 0; sym < 256; sym++) {
    const code = HUFFMAN_CODES[sym] as number;
    const len = HUFFMAN_LENGTHS[sym] as number;
    let n = 0;
    for (let b = len - 1; b >= 0; b--) {
      const slot = 2 * n + (Math.floor(code / 2 ** b) % 2);
      if (b === 0) next[slot] = 256 + sym;
      else {
        if (next[slot] === -1) next[slot] = nodes++;
        n = next[slot] as number;
      }
    }
  }
  return next;
})();

/** The Huffman-coded bytes [start, end) as a string (latin1); undefined when they hold an invalid code. */
export function huffmanDecode(bytes: Uint8Array, start: number, end: number): string | undefined {
  let out = '';
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = bytes[i] as number;
    for (let b = 7; b >= 0; b--) {
      const v = TRIE[2 * n + ((byte >> b) & 1)] as number;
      if (v < 0) return undefined;
      if (v >= 256) {
        out += String.fromCharCode(v - 256);
        n = 0;
      } else n = v;
    }
  }
  return out; // what is left in `n` is the padding: at most 7 bits of EOS's leading ones
}

export interface StringRef {
  readonly huffman: boolean;
  readonly start: number;
  readonly end: number;
}

export function readString(bytes: Uint8Array, at: number): [StringRef] {
  const huffman = (bytes[at] & 0x80) !== 0;
  let i = at;
  let length = bytes[i++] & 0x7f;
  if (length === 0x7f) {
    for (let shift = 0; i < bytes.length && shift < 28; shift += 7) {
      const b = bytes[i++];
      length += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) break;
    }
  }
  return [{ huffman, start: i, end: Math.min(bytes.length, i + length) }];
}

/** Each symbol of a Huffman-coded string with its bit offset (stops at the padding). */
function* huffmanSymbols(bytes: Uint8Array, s: StringRef): Generator<{ sym: number; bit: number }> {
  const bits = (s.end - s.start) * 8;
  let code = 0;
  let len = 0;
  let startBit = 0;
  for (let bit = 0; bit < bits; bit++) {
    code = code * 2 + ((bytes[s.start + (bit >> 3)] >> (7 - (bit & 7))) & 1);
    len++;
    const sym = DECODE.get(len * 2 ** 32 + code);
    if (sym !== undefined) {
      yield { sym, bit: startBit };
      code = 0;
      len = 0;
      startBit = bit + 1;
    } else if (len > 30) return;
  }
}

/** A string literal's text; a Huffman-coded one with an invalid code reads as ''. */
export function decodeString(bytes: Uint8Array, s: StringRef): string {
  if (!s.huffman) return Buffer.from(bytes.subarray(s.start, s.end)).toString('latin1');
  return huffmanDecode(bytes, s.start, s.end) ?? '';
}

export function hasSlash(bytes: Uint8Array, s: StringRef): boolean {
  if (!s.huffman) return bytes.subarray(s.start, s.end).includes(SLASH);
  for (const { sym } of huffmanSymbols(bytes, s)) if (sym === SLASH) return true;
  return false;
}

export function replaceSlashes(bytes: Uint8Array, s: StringRef): void {
  if (!s.huffman) {
    for (let i = s.start; i < s.end; i++) if (bytes[i] === SLASH) bytes[i] = DASH;
    return;
  }
  const at = [...huffmanSymbols(bytes, s)].filter((x) => x.sym === SLASH).map((x) => x.bit);
  const code = HUFFMAN_CODES[DASH];
  const len = HUFFMAN_LENGTHS[DASH]; // 6, as '/'
  for (const bit of at) {
    for (let k = 0; k < len; k++) {
      const pos = s.start * 8 + bit + k;
      const mask = 1 << (7 - (pos & 7));
      if ((code >> (len - 1 - k)) & 1) bytes[pos >> 3] |= mask;
      else bytes[pos >> 3] &= ~mask;
    }
  }
}
