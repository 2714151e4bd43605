// Standard base64 with padding, as Go's encoding/base64.StdEncoding reads and writes it. jsonpb carries every
// proto `bytes` field this way; a bad input fails with Go's exact text (`illegal base64 data at input byte N`).

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const DECODE = new Int16Array(256).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i;

export class Base64Error extends Error {
  override readonly name = 'Base64Error';
  readonly offset: number;
  constructor(offset: number) {
    super(`illegal base64 data at input byte ${offset}`);
    this.offset = offset;
  }
}

export function encodeBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += `${ALPHABET[n >> 18]}${ALPHABET[(n >> 12) & 63]}==`;
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += `${ALPHABET[n >> 18]}${ALPHABET[(n >> 12) & 63]}${ALPHABET[(n >> 6) & 63]}=`;
  }
  return out;
}

const isNewline = (c: number) => c === 0x0a || c === 0x0d;

/**
 * Decodes like Go's StdEncoding.DecodeString (decodeQuantum): CR and LF are skipped, padding is required, and the
 * error offset is the one Go reports. Input is a JSON string's text (only its UTF-16 code units < 256 can be valid).
 */
export function decodeBase64(text: string): Uint8Array {
  const src = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    src[i] = c < 256 ? c : 0x80; // never valid; Go would see a multi-byte UTF-8 sequence, also invalid
  }
  const out = new Uint8Array(Math.floor((src.length * 3) / 4) + 3);
  let n = 0;
  let si = 0;
  const dbuf = [0, 0, 0, 0];
  while (si < src.length) {
    let dlen = 4;
    let trailing: number | undefined;
    let j = 0;
    for (; j < 4; j++) {
      if (si === src.length) {
        if (j === 0) return out.subarray(0, n);
        throw new Base64Error(si - j); // padding is required, so a short quantum is corrupt
      }
      const c = src[si++];
      const v = DECODE[c];
      if (v >= 0) {
        dbuf[j] = v;
        continue;
      }
      if (isNewline(c)) {
        j--;
        continue;
      }
      if (c !== 0x3d) throw new Base64Error(si - 1);
      // Padding: '=' ends the input.
      if (j < 2) throw new Base64Error(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) throw new Base64Error(src.length);
        if (src[si] !== 0x3d) throw new Base64Error(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      if (si < src.length) trailing = si;
      dlen = j;
      break;
    }
    for (let k = dlen; k < 4; k++) dbuf[k] = 0;
    const val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
    const bytes = [(val >> 16) & 255, (val >> 8) & 255, val & 255];
    for (let k = 0; k < dlen - 1; k++) out[n++] = bytes[k];
    if (trailing !== undefined) throw new Base64Error(trailing);
    if (dlen < 4) break;
  }
  return out.subarray(0, n);
}
