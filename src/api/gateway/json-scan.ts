// A JSON reader that behaves like Go's encoding/json Decoder, as etcd 3.4's grpc-gateway uses it:
// - it reads one value at a time from a byte buffer, so a streaming body may hold several concatenated values;
// - its syntax errors carry Go's exact texts (`invalid character 'o' in literal null (expecting 'u')`,
//   `unexpected EOF`), because clients and tests see them in the 400 body;
// - numbers keep their literal text, so int64/uint64 fields (lease and member IDs) lose no precision.

/** A JSON number, kept as its literal text. */
export class JsonNumber {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export type JsonValue = null | boolean | string | JsonNumber | JsonValue[] | JsonObject;
/** Objects are Maps: keys like `__proto__` stay data, and a repeated key keeps its last value (as in Go). */
export type JsonObject = Map<string, JsonValue>;

/** Go's json.SyntaxError (or io.ErrUnexpectedEOF): the message is what the gateway reports. */
export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
}

/** The buffer ends inside a value: with more input the value may still complete. */
class NeedMore extends Error {}

export type ScanResult =
  | { readonly kind: 'value'; readonly value: JsonValue; readonly end: number }
  /** Only whitespace is left (Go: io.EOF when the input is final). */
  | { readonly kind: 'empty' }
  /** The value is incomplete; read more input (never returned when `final`). */
  | { readonly kind: 'more' };

const utf8 = new TextDecoder();

/** Go's quoteChar: how a byte is shown in a syntax error. */
function quoteChar(c: number): string {
  if (c === 0x27) return `'\\''`;
  if (c === 0x22) return `'"'`;
  switch (c) {
    case 0x07:
      return `'\\a'`;
    case 0x08:
      return `'\\b'`;
    case 0x0c:
      return `'\\f'`;
    case 0x0a:
      return `'\\n'`;
    case 0x0d:
      return `'\\r'`;
    case 0x09:
      return `'\\t'`;
    case 0x0b:
      return `'\\v'`;
    case 0x5c:
      return `'\\\\'`;
  }
  if (c < 0x20 || c === 0x7f) return `'\\x${c.toString(16).padStart(2, '0')}'`;
  if (c >= 0x80 && c < 0xa0) return `'\\u${c.toString(16).padStart(4, '0')}'`;
  return `'${String.fromCharCode(c)}'`;
}

function invalid(c: number, context: string): JsonSyntaxError {
  return new JsonSyntaxError(`invalid character ${quoteChar(c)} ${context}`);
}

const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);

/** Go's encoding/json maxNestingDepth. */
const MAX_NESTING_DEPTH = 10_000;

/** A container being read: an array, or an object with the key whose value comes next. */
type OpenContainer = { readonly arr: JsonValue[] } | { readonly obj: JsonObject; key: string };

class Scanner {
  pos: number;
  private readonly buf: Uint8Array;
  private readonly final: boolean;
  constructor(buf: Uint8Array, start: number, final: boolean) {
    this.buf = buf;
    this.final = final;
    this.pos = start;
  }

  private eof(): never {
    if (this.final) throw new JsonSyntaxError('unexpected EOF');
    throw new NeedMore();
  }

  private skipSpace(): void {
    while (this.pos < this.buf.length && isSpace(this.buf[this.pos])) this.pos++;
  }

  /** The next non-space byte, not consumed. */
  private peek(): number {
    this.skipSpace();
    if (this.pos >= this.buf.length) this.eof();
    return this.buf[this.pos];
  }

  /**
   * One whole value. Iterative, with an explicit stack of open containers, so a client cannot exhaust the call
   * stack; like Go's scanner it refuses nesting deeper than 10,000 (`exceeded max depth`).
   */
  value(): JsonValue {
    const open: OpenContainer[] = [];
    let c = this.peek();
    for (;;) {
      let done: JsonValue;
      if (c === 0x7b || c === 0x5b) {
        if (open.length >= MAX_NESTING_DEPTH) throw invalid(c, 'exceeded max depth');
        this.pos++;
        const isObject = c === 0x7b;
        c = this.peek();
        if (c === (isObject ? 0x7d : 0x5d)) {
          this.pos++;
          done = isObject ? new Map() : [];
        } else {
          open.push(isObject ? { obj: new Map(), key: this.objectKey(c) } : { arr: [] });
          c = this.peek();
          continue;
        }
      } else {
        done = this.scalar(c);
      }
      // Hand the finished value to its container; close containers that end here.
      for (;;) {
        const top = open.at(-1);
        if (top === undefined) return done;
        if ('arr' in top) {
          top.arr.push(done);
          c = this.peek();
          if (c === 0x5d) {
            this.pos++;
            open.pop();
            done = top.arr;
            continue;
          }
          if (c !== 0x2c) throw invalid(c, 'after array element');
          this.pos++;
          c = this.peek();
          break;
        }
        top.obj.set(top.key, done);
        c = this.peek();
        if (c === 0x7d) {
          this.pos++;
          open.pop();
          done = top.obj;
          continue;
        }
        if (c !== 0x2c) throw invalid(c, 'after object key:value pair');
        this.pos++;
        top.key = this.objectKey(this.peek());
        c = this.peek();
        break;
      }
    }
  }

  /** A key and its colon; `c` is the key's first byte. */
  private objectKey(c: number): string {
    if (c !== 0x22) throw invalid(c, 'looking for beginning of object key string');
    const key = this.string();
    const d = this.peek();
    if (d !== 0x3a) throw invalid(d, 'after object key');
    this.pos++;
    return key;
  }

  private scalar(c: number): JsonValue {
    if (c === 0x22) return this.string();
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x74) return this.literal('true', true);
    if (c === 0x66) return this.literal('false', false);
    if (c === 0x6e) return this.literal('null', null);
    throw invalid(c, 'looking for beginning of value');
  }

  private literal<T extends JsonValue>(word: string, value: T): T {
    for (let i = 0; i < word.length; i++) {
      if (this.pos >= this.buf.length) this.eof();
      const c = this.buf[this.pos];
      if (c !== word.charCodeAt(i)) throw invalid(c, `in literal ${word} (expecting '${word[i]}')`);
      this.pos++;
    }
    return value;
  }

  private string(): string {
    this.pos++; // "
    const start = this.pos;
    let simple = true;
    // First pass: find the end and validate, as Go's scanner does byte by byte.
    for (;;) {
      if (this.pos >= this.buf.length) this.eof();
      const c = this.buf[this.pos];
      if (c === 0x22) break;
      if (c < 0x20) throw invalid(c, 'in string literal');
      if (c === 0x5c) {
        simple = false;
        this.pos++;
        if (this.pos >= this.buf.length) this.eof();
        const e = this.buf[this.pos];
        if (e === 0x75) {
          for (let i = 0; i < 4; i++) {
            this.pos++;
            if (this.pos >= this.buf.length) this.eof();
            const h = this.buf[this.pos];
            if (!isHex(h)) throw invalid(h, 'in \\u hexadecimal character escape');
          }
        } else if (!'"\\/bfnrt'.includes(String.fromCharCode(e))) {
          throw invalid(e, 'in string escape code');
        }
      }
      this.pos++;
    }
    const end = this.pos;
    this.pos++; // closing "
    const raw = utf8.decode(this.buf.subarray(start, end));
    return simple ? raw : unescapeString(raw);
  }

  private number(): JsonNumber {
    const start = this.pos;
    const at = () => {
      if (this.pos >= this.buf.length) {
        // A number at the very end may continue in the next chunk; at EOF it simply ends.
        if (!this.final) throw new NeedMore();
        return -1;
      }
      return this.buf[this.pos];
    };
    if (this.buf[this.pos] === 0x2d) {
      this.pos++;
      const c = at();
      if (c === -1) this.eof();
      if (!isDigit(c)) throw invalid(c, 'in numeric literal');
    }
    if (this.buf[this.pos] === 0x30) this.pos++;
    else while (isDigit(at())) this.pos++;
    if (at() === 0x2e) {
      this.pos++;
      const c = at();
      if (c === -1) this.eof();
      if (!isDigit(c)) throw invalid(c, 'after decimal point in numeric literal');
      while (isDigit(at())) this.pos++;
    }
    const e = at();
    if (e === 0x65 || e === 0x45) {
      this.pos++;
      let c = at();
      if (c === 0x2b || c === 0x2d) {
        this.pos++;
        c = at();
      }
      if (c === -1) this.eof();
      if (!isDigit(c)) throw invalid(c, 'in exponent of numeric literal');
      while (isDigit(at())) this.pos++;
    }
    return new JsonNumber(utf8.decode(this.buf.subarray(start, this.pos)));
  }
}

function unescapeString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const e = s[++i];
    switch (e) {
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        // Surrogate pairs combine naturally in a JS string; Go replaces lone surrogates with U+FFFD.
        const code = Number.parseInt(s.slice(i + 1, i + 5), 16);
        out += String.fromCharCode(code);
        i += 4;
        break;
      }
      default:
        out += e; // " \ /
    }
  }
  return out;
}

/**
 * Reads the next JSON value of `buf` from `start`. With `final` false, a value cut off by the end of the buffer
 * gives `{ kind: 'more' }`; with `final` true it is Go's `unexpected EOF`. Throws JsonSyntaxError.
 */
export function scanValue(buf: Uint8Array, start: number, final: boolean): ScanResult {
  const s = new Scanner(buf, start, final);
  let i = start;
  while (i < buf.length && isSpace(buf[i])) i++;
  if (i >= buf.length) return final ? { kind: 'empty' } : { kind: 'more' };
  try {
    const value = s.value();
    return { kind: 'value', value, end: s.pos };
  } catch (e) {
    if (e instanceof NeedMore) return { kind: 'more' };
    throw e;
  }
}

/** Go's json.Decoder over a growing byte stream: push chunks, pull whole values. */
export class JsonStreamDecoder {
  private buf = new Uint8Array(0);
  private start = 0;

  /** Bytes received but not yet consumed by a complete value. */
  get pending(): number {
    return this.buf.length - this.start;
  }

  push(chunk: Uint8Array): void {
    const rest = this.buf.subarray(this.start);
    const next = new Uint8Array(rest.length + chunk.length);
    next.set(rest);
    next.set(chunk, rest.length);
    this.buf = next;
    this.start = 0;
  }

  /** The next complete value; undefined when more input is needed (or, with `final`, at the end). */
  next(final: boolean): JsonValue | undefined {
    const r = scanValue(this.buf, this.start, final);
    if (r.kind !== 'value') return undefined;
    this.start = r.end;
    return r.value;
  }
}
