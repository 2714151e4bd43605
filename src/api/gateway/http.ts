// HTTP plumbing shared by the gateway's handlers: the headers etcd 3.4 sends, error bodies, request bodies read
// under a size limit, and NDJSON stream framing.

import { EtcdError, errors } from '../../etcd/errors.ts';
import { invalidArgument } from './decode.ts';
import { JsonStreamDecoder, JsonSyntaxError, type JsonValue, scanValue } from './json-scan.ts';

/** etcd's accessController adds these to every reply of the client port (default `--cors` = `*`). */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'Access-Control-Allow-Methods': 'POST, GET, OPTIONS, PUT, DELETE',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'accept, content-type, authorization',
};

/** grpc-gateway's reply headers: JSON body plus the forwarded gRPC content type. */
export const GATEWAY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'application/json',
  'Grpc-Metadata-Content-Type': 'application/grpc',
};

const TEXT_PLAIN = 'text/plain; charset=utf-8';

export function gatewayJson(body: string, status = 200): Response {
  return new Response(body, { status, headers: { ...CORS_HEADERS, ...GATEWAY_HEADERS } });
}

export function gatewayStream(body: ReadableStream<Uint8Array>): Response {
  return new Response(body, { status: 200, headers: { ...CORS_HEADERS, ...GATEWAY_HEADERS } });
}

/** Go's http.Error: plain text with a trailing newline. */
export function plainText(text: string, status: number, extra?: Record<string, string>): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { ...CORS_HEADERS, 'Content-Type': TEXT_PLAIN, 'X-Content-Type-Options': 'nosniff', ...extra },
  });
}

export function jsonResponse(body: string, status: number, contentType = 'application/json'): Response {
  return new Response(body, { status, headers: { ...CORS_HEADERS, 'Content-Type': contentType } });
}

/** Any thrown value as the EtcdError the gateway reports (etcd: unknown errors are code 2 with their text). */
export function toEtcdError(e: unknown): EtcdError {
  if (e instanceof EtcdError) return e;
  if (e instanceof JsonSyntaxError) return invalidArgument(e.message);
  if (e instanceof Error) return EtcdError.unknown(e.message);
  return EtcdError.unknown(String(e));
}

/** A unary error: HTTP status from the gRPC code, body `{"error":msg,"message":msg,"code":n}`. */
export function gatewayError(e: unknown): Response {
  const err = toEtcdError(e);
  return gatewayJson(JSON.stringify(err.toGatewayBody()), err.httpStatus);
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  408: 'Request Timeout',
  409: 'Conflict',
  412: 'Precondition Failed',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

const encoder = new TextEncoder();

/** One line of a streamed reply: `{"result":{…}}\n`. */
export function resultLine(json: string): Uint8Array {
  return encoder.encode(`{"result":${json}}\n`);
}

/** A mid-stream error as grpc-gateway v1 writes it (its internal StreamError message, proto field names). */
export function errorLine(e: unknown): Uint8Array {
  const err = toEtcdError(e);
  const status = err.httpStatus;
  const body = {
    grpc_code: err.code,
    http_code: status,
    message: err.message,
    http_status: STATUS_TEXT[status] ?? '',
  };
  return encoder.encode(`{"error":${JSON.stringify(body)}}\n`);
}

/**
 * A streaming RPC refused before its first message (admission, a failed auth check): grpc-gateway answers with the
 * error's HTTP status and one `{"error":{…}}` line.
 */
export function streamRefusal(e: unknown): Response {
  const line = errorLine(e);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(line);
      controller.close();
    },
  });
  return new Response(body, {
    status: toEtcdError(e).httpStatus,
    headers: { ...CORS_HEADERS, ...GATEWAY_HEADERS },
  });
}

/** Reads a whole body; more than `limit` bytes is etcd's `request is too large`. */
export async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? Number.NaN);
  if (declared > limit) throw errors.requestTooLarge();
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    size += r.value.length;
    if (size > limit) {
      void reader.cancel().catch(() => {});
      throw errors.requestTooLarge();
    }
    chunks.push(r.value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Go's json.Decoder.Decode on a unary body: the first value only; an empty body is an empty request. */
export function firstValue(body: Uint8Array): JsonValue | undefined {
  const r = scanValue(body, 0, true);
  return r.kind === 'value' ? r.value : undefined;
}

/** The values of a streaming body, one at a time, as they arrive (grpc-gateway's per-message Decode loop). */
export class BodyValues {
  private readonly decoder = new JsonStreamDecoder();
  private readonly reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private ended = false;

  /** A single message above this many bytes is `request is too large`. */
  private readonly limit: number;

  constructor(request: Request, limit: number) {
    this.limit = limit;
    this.reader = request.body?.getReader();
    if (!this.reader) this.ended = true;
  }

  /** The next value, or undefined at the end of the body. Throws JsonSyntaxError or EtcdError. */
  async next(): Promise<JsonValue | undefined> {
    for (;;) {
      const v = this.decoder.next(this.ended);
      if (v !== undefined || this.ended) return v;
      if (this.decoder.pending > this.limit) throw errors.requestTooLarge();
      let chunk: Uint8Array | undefined;
      try {
        const r = await this.reader!.read();
        chunk = r.done ? undefined : r.value;
      } catch {
        chunk = undefined; // the client went away: treat as the end of its requests
      }
      if (chunk === undefined) this.ended = true;
      else this.decoder.push(chunk);
    }
  }

  /** Stops reading (grpc-gateway's CloseSend after a bad message). */
  close(): void {
    this.ended = true;
    void this.reader?.cancel().catch(() => {});
  }
}
