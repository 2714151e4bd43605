// HPACK (RFC 7541) as edgecd's own HTTP/2 server needs it. Decoding is whole: the static and dynamic tables,
// integers, literals with and without indexing, Huffman-coded strings, table size updates. Encoding is the part a
// gRPC server sends — a few fields, as literals never added to the client's table (§6.2.2), so the encoder keeps no
// state; `:status: 200` is the static table's entry 8.

import { huffmanDecode } from '../hpack-huffman.ts';

/** RFC 7541 Appendix A. Index 1 is the first entry. */
const STATIC: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/** Request headers as handlers read them: a name seen more than once has its values in an array. */
export type HeaderMap = Record<string, string | string[]>;

export class HpackError extends Error {}

export interface HpackDecoderOptions {
  /** Our SETTINGS_HEADER_TABLE_SIZE: the largest table size the client may ask for. */
  readonly maxTableSize: number;
  /** A header list decoding to more than this (names, values and 32 per field, §4.1) is refused. */
  readonly maxListSize: number;
}

/** One connection's decoder: its dynamic table lives as long as the connection. */
export class HpackDecoder {
  private readonly options: HpackDecoderOptions;
  /** Newest first. */
  private table: [string, string][] = [];
  private tableSize = 0;
  private maxSize: number;
  private at = 0;

  constructor(options: HpackDecoderOptions) {
    this.options = options;
    this.maxSize = options.maxTableSize;
  }

  /** Decodes one whole header block. Throws HpackError (a connection error: COMPRESSION_ERROR). */
  decode(block: Uint8Array): HeaderMap {
    const headers: HeaderMap = {};
    let listSize = 0;
    let sawField = false;
    this.at = 0;
    while (this.at < block.length) {
      const first = block[this.at] as number;
      let name: string;
      let value: string;
      if (first & 0x80) {
        [name, value] = this.entry(this.int(block, 7));
      } else if (first & 0x40) {
        [name, value] = this.literal(block, 6);
        this.add(name, value);
      } else if (first & 0x20) {
        if (sawField) throw new HpackError('table size update after a header field');
        const size = this.int(block, 5);
        if (size > this.options.maxTableSize) throw new HpackError('table size over the limit');
        this.maxSize = size;
        this.evict();
        continue;
      } else {
        [name, value] = this.literal(block, 4); // without indexing (0000) or never indexed (0001)
      }
      sawField = true;
      listSize += name.length + value.length + 32;
      if (listSize > this.options.maxListSize) throw new HpackError('header list too large');
      const had = headers[name];
      if (had === undefined) headers[name] = value;
      else if (typeof had === 'string') headers[name] = [had, value];
      else had.push(value);
    }
    return headers;
  }

  private entry(index: number): readonly [string, string] {
    if (index === 0) throw new HpackError('index 0');
    if (index <= STATIC.length) return STATIC[index - 1] as readonly [string, string];
    const e = this.table[index - STATIC.length - 1];
    if (!e) throw new HpackError(`index ${index} out of the table`);
    return e;
  }

  private literal(block: Uint8Array, prefix: number): [string, string] {
    const index = this.int(block, prefix);
    const name = index === 0 ? this.string(block) : (this.entry(index)[0] as string);
    return [name, this.string(block)];
  }

  private add(name: string, value: string): void {
    const size = name.length + value.length + 32;
    if (size > this.maxSize) {
      this.table = [];
      this.tableSize = 0;
      return;
    }
    this.table.unshift([name, value]);
    this.tableSize += size;
    this.evict();
  }

  private evict(): void {
    while (this.tableSize > this.maxSize) {
      const [n, v] = this.table.pop() as [string, string];
      this.tableSize -= n.length + v.length + 32;
    }
  }

  private int(block: Uint8Array, prefix: number): number {
    const mask = (1 << prefix) - 1;
    let value = (block[this.at++] as number) & mask;
    if (value < mask) return value;
    for (let shift = 0; ; shift += 7) {
      if (this.at >= block.length || shift > 28) throw new HpackError('bad integer');
      const b = block[this.at++] as number;
      value += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return value;
    }
  }

  private string(block: Uint8Array): string {
    if (this.at >= block.length) throw new HpackError('truncated string');
    const huffman = ((block[this.at] as number) & 0x80) !== 0;
    const length = this.int(block, 7);
    const start = this.at;
    const end = start + length;
    if (end > block.length) throw new HpackError('truncated string');
    this.at = end;
    if (huffman) {
      const decoded = huffmanDecode(block, start, end);
      if (decoded === undefined) throw new HpackError('invalid Huffman code');
      return decoded;
    }
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(block[i] as number);
    return s;
  }
}

// --- encoding --------------------------------------------------------------------------------------------------

const STATUS_200 = 0x88;
const STATIC_NAMES = new Map<string, number>();
for (let i = STATIC.length - 1; i >= 0; i--)
  STATIC_NAMES.set((STATIC[i] as readonly [string, string])[0], i + 1);

function pushInt(out: number[], value: number, prefix: number, flags: number): void {
  const mask = (1 << prefix) - 1;
  if (value < mask) {
    out.push(flags | value);
    return;
  }
  out.push(flags | mask);
  let rest = value - mask;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function pushString(out: number[], s: string): void {
  const bytes = Buffer.from(s, 'latin1');
  pushInt(out, bytes.length, 7, 0);
  for (const b of bytes) out.push(b);
}

/** A header block: `:status: 200` if asked, then each field as a literal never indexed by the client. */
export function encodeHeaders(status200: boolean, fields: Readonly<Record<string, string>>): Buffer {
  const out: number[] = status200 ? [STATUS_200] : [];
  for (const [name, value] of Object.entries(fields)) {
    const index = STATIC_NAMES.get(name);
    if (index !== undefined) pushInt(out, index, 4, 0x00);
    else {
      out.push(0x00);
      pushString(out, name);
    }
    pushString(out, value);
  }
  return Buffer.from(out);
}
