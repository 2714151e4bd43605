// One gRPC call on an HTTP/2 stream (a CallStream: node:http2's, ./node-stream.ts, or edgecd's own, ../http2/),
// with the part of grpc-js's server call API that edgecd's handlers use: `request` and `metadata`; `write`
// (false: wait for 'drain'), `end`, `emit('error', status)`; events 'data', 'end', 'cancelled'; `cancelled`;
// `getAuthContext()`. Responses go out as grpc-go writes them: HEADERS (:status 200, content-type) before the first
// message, the status in trailers — or, when no message was sent, in one HEADERS frame that ends the stream
// (trailers-only).

import { EventEmitter } from 'node:events';
import type { GrpcRecorder } from '../metrics.ts';
import { frameMessage, type MessageReader } from './framing.ts';
import { RequestMetadata, statusFields } from './status.ts';

/** What a call hears from its stream. */
export interface StreamEvents {
  /** Request DATA. */
  data(chunk: Buffer): void;
  /** The client ended its side (END_STREAM). */
  end(): void;
  /** The stream is closed: answered and done, or reset by the client, or its connection gone. */
  close(): void;
  /** What was written has gone out: write more. */
  drain(): void;
}

/** One HTTP/2 stream as a call uses it. */
export interface CallStream {
  /** Reset or closed: nothing more can be sent. */
  readonly gone: boolean;
  /** Writes are waiting to go out: wait for drain. */
  readonly needDrain: boolean;
  /** The connection's socket (its TLS client certificate). */
  readonly socket: PeerSocket | undefined;
  listen(events: StreamEvents): void;
  /** HEADERS with :status 200 and `content-type`. */
  sendHeaders(contentType: string): void;
  /** DATA. False: wait for drain. */
  sendData(bytes: Buffer): boolean;
  /** The trailers, ending the stream once what was written is out. */
  sendTrailers(fields: Readonly<Record<string, string>>): void;
  /** One HEADERS frame, :status 200, `content-type` and `fields`, ending the stream. */
  sendTrailersOnly(contentType: string, fields: Readonly<Record<string, string>>): void;
  /** RST_STREAM with `code` (HTTP/2 error code). */
  reset(code: number): void;
}

/** HTTP/2's PROTOCOL_ERROR. */
export const PROTOCOL_ERROR = 1;

/** A method as the server dispatches it: codecs from the service definition, labels for /metrics. */
export interface H2Method {
  readonly service: string;
  readonly method: string;
  /** unary, server_stream, client_stream or bidi_stream (go-grpc-prometheus's grpc_type). */
  readonly type: string;
  readonly requestStream: boolean;
  readonly responseStream: boolean;
  readonly deserialize: (payload: Buffer) => unknown;
  readonly serialize: (response: unknown) => Buffer;
}

export interface Status {
  readonly code: number;
  readonly details: string;
}

const OK: Status = { code: 0, details: '' };
const OK_TRAILERS = statusFields(0, '');

/** grpc-go's code names, as the grpc_code label carries them. */
const CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];

export interface PeerSocket {
  readonly authorized?: boolean;
  getPeerCertificate?(): { readonly raw?: Buffer };
}

export class H2Call extends EventEmitter {
  request: unknown;
  /** The client went away (RST_STREAM) or the deadline passed before the call's status went out. */
  cancelled = false;
  private readonly stream: CallStream;
  private readonly headers: Record<string, string | string[] | undefined>;
  private readonly def: H2Method;
  private readonly contentType: string;
  private readonly recorder: GrpcRecorder | undefined;
  private meta: RequestMetadata | undefined;
  private headersSent = false;
  private done = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    stream: CallStream,
    headers: Record<string, string | string[] | undefined>,
    def: H2Method,
    contentType: string,
    recorder: GrpcRecorder | undefined,
  ) {
    super();
    this.stream = stream;
    this.headers = headers;
    this.def = def;
    this.contentType = contentType;
    this.recorder = recorder;
    recorder?.grpcCallStarted(def.service, def.method, def.type);
    // A handler ends a call with an error as under grpc-js: call.emit('error', status).
    this.on('error', (s: Status) => this.sendStatus(s));
  }

  get metadata(): RequestMetadata {
    this.meta ??= new RequestMetadata(this.headers);
    return this.meta;
  }

  /** Ends the call with DEADLINE_EXCEEDED after `ms` unless its status went out first (grpc-timeout). */
  setDeadline(ms: number): void {
    this.deadline = setTimeout(() => {
      if (this.done) return;
      this.cancelled = true;
      this.emit('cancelled', 'deadline');
      this.sendStatus({ code: 4, details: 'context deadline exceeded' });
    }, ms);
  }

  /** Reads the request stream: unary and server-streaming calls get `onFirst` once; streaming requests get 'data'. */
  read(reader: MessageReader): void {
    this.stream.listen({
      data: (chunk) => reader.push(chunk),
      end: () => {
        if (this.done) return;
        if (reader.midMessage) this.fail({ code: 2, details: 'unexpected EOF' });
        else this.emit('end');
      },
      close: () => this.closed(),
      drain: () => {
        if (this.def.responseStream) this.emit('drain');
      },
    });
  }

  /** A request message decoded with the method's codec; a codec that throws ends the call with INTERNAL. */
  decode(payload: Buffer): { ok: true; value: unknown } | { ok: false } {
    try {
      return { ok: true, value: this.def.deserialize(payload) };
    } catch (err) {
      this.fail({ code: 13, details: err instanceof Error ? err.message : String(err) });
      return { ok: false };
    }
  }

  /** Ends the call with `status`, telling a streaming handler through 'error' (as grpc-js does). */
  fail(status: Status): void {
    if (this.def.requestStream || this.def.responseStream) this.emit('error', status);
    else this.sendStatus(status);
  }

  /** Sends one response message. False: the stream's buffer is full; wait for 'drain'. After the status: dropped. */
  write(response: unknown, callback?: () => void): boolean {
    if (this.done) return true; // dropped: nothing is buffered, so no 'drain' is owed

    const frame = frameMessage(this.def.serialize(response));
    this.sendHeaders();
    if (this.gone()) return true;
    const more = this.stream.sendData(frame);
    callback?.();
    return more;
  }

  get writableNeedDrain(): boolean {
    return this.stream.needDrain;
  }

  /** Ends a server stream with status OK once what was written is out. */
  end(): void {
    this.sendStatus(OK);
  }

  /** A unary call's answer: its response (headers, message and trailers together) or its error status. */
  callback = (err: Status | null, response?: unknown): void => {
    if (err) return this.sendStatus(err);
    if (this.done) return;
    let frame: Buffer;
    try {
      frame = frameMessage(this.def.serialize(response));
    } catch (e) {
      return this.sendStatus({ code: 13, details: e instanceof Error ? e.message : String(e) });
    }
    this.sendHeaders();
    this.finish(OK);
    if (this.gone()) return;
    this.stream.sendData(frame);
    this.stream.sendTrailers(OK_TRAILERS);
  };

  /** The connection's verified TLS client certificate, as grpc-js's getAuthContext gives it. */
  getAuthContext(): { sslPeerCertificate?: object } {
    const socket = this.stream.socket;
    if (!socket?.authorized || typeof socket.getPeerCertificate !== 'function') return {};
    const cert = socket.getPeerCertificate();
    return cert.raw ? { sslPeerCertificate: cert } : {};
  }

  private sendHeaders(): void {
    if (this.headersSent || this.gone()) return;
    this.headersSent = true;
    this.stream.sendHeaders(this.contentType);
  }

  /** Marks the call answered with `status`: counted, deadline cleared. */
  private finish(status: Status): void {
    this.done = true;
    if (this.deadline) clearTimeout(this.deadline);
    this.recorder?.grpcCallHandled(
      this.def.service,
      this.def.method,
      this.def.type,
      CODE_NAMES[status.code] ?? `Code(${status.code})`,
    );
  }

  private sendStatus(status: Status): void {
    if (this.done) return;
    this.finish(status);
    if (this.gone()) return;
    const trailers = status === OK ? OK_TRAILERS : statusFields(status.code, status.details);
    if (this.headersSent) {
      this.stream.sendTrailers(trailers);
      return;
    }
    this.headersSent = true;
    this.stream.sendTrailersOnly(this.contentType, trailers);
  }

  /** Reset or closed: nothing more can be sent (its 'close' may still be on its way). */
  private gone(): boolean {
    return this.stream.gone;
  }

  private closed(): void {
    if (this.deadline) clearTimeout(this.deadline);
    if (this.done) return;
    this.done = true;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }
}
