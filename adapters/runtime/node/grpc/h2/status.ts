// The header side of a gRPC call as grpc-go 1.26 (etcd 3.4.23's) reads and writes it: which content types are
// gRPC, grpc-timeout, request metadata, the status trailers with grpc-message percent-encoded, and grpc-go's texts
// for calls that reach no handler. Each text below was checked against a real etcd 3.4.23.

/** grpc-go's validContentType: `application/grpc`, optionally followed by `+subtype` or `;params`. */
export function isGrpcContentType(value: string | undefined): value is string {
  if (value === undefined || !value.startsWith('application/grpc')) return false;
  const next = value.charCodeAt(16);
  return value.length === 16 || next === 0x2b /* + */ || next === 0x3b /* ; */;
}

/** The content type grpc-go answers with: the request's subtype kept (`application/grpc+proto`), else the base. */
export function responseContentType(requested: string): string {
  return requested.charCodeAt(16) === 0x2b ? requested : 'application/grpc';
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 1e-3, n: 1e-6 };

/**
 * grpc-timeout (`1-8 digits` then a unit: Hours, Minutes, Seconds, milli, micro, nano) in milliseconds; undefined
 * when absent, NaN when malformed (grpc-go then resets the stream).
 */
export function timeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const unit = TIMEOUT_UNIT_MS[value.charAt(value.length - 1)];
  const digits = value.slice(0, -1);
  if (unit === undefined || !/^\d{1,8}$/.test(digits)) return Number.NaN;
  return Number(digits) * unit;
}

/**
 * gRPC's percent-encoding of grpc-message: bytes outside printable ASCII, and `%`, as %XX of their UTF-8 bytes.
 * Spaces and `:` stay as they are (grpc-go's encodeGrpcMessage; clients map etcd errors by their text).
 */
export function encodeGrpcMessage(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length; i++) {
    const c = message.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return message;
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
        : String.fromCharCode(byte);
  }
  return out;
}

/** A status as it leaves in trailers (or in a trailers-only HEADERS frame). */
export function statusFields(code: number, details: string): Record<string, string> {
  return { 'grpc-status': String(code), 'grpc-message': encodeGrpcMessage(details) };
}

/** What grpc-go answers for a path that names no method it serves (code and message). */
export function unknownPath(path: string, isService: (name: string) => boolean): [number, string] {
  const sm = path.startsWith('/') ? path.slice(1) : path;
  const slash = sm.lastIndexOf('/');
  if (slash === -1) return [8, `malformed method name: ${JSON.stringify(path)}`];
  const service = sm.slice(0, slash);
  if (!isService(service)) return [12, `unknown service ${service}`];
  return [12, `unknown method ${sm.slice(slash + 1)} for service ${service}`];
}

/** Request metadata as handlers read it (grpc-js's Metadata.get): `-bin` values base64-decoded. */
export class RequestMetadata {
  private readonly headers: Readonly<Record<string, string | string[] | undefined>>;

  constructor(headers: Readonly<Record<string, string | string[] | undefined>>) {
    this.headers = headers;
  }

  get(key: string): (string | Buffer)[] {
    const v = this.headers[key.toLowerCase()];
    if (v === undefined) return [];
    const values = Array.isArray(v) ? v : [v];
    return key.endsWith('-bin') ? values.map((s) => Buffer.from(s, 'base64')) : values;
  }
}
