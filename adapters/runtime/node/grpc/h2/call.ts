// One gRPC call on a node:http2 stream, with the part of grpc-js's server call API that edgecd's handlers use:
// `request` and `metadata`; `write` (false: wait for 'drain'), `end`, `emit('error', status)`; events 'data',
// 'end', 'cancelled'; `cancelled`; `getAuthContext()`. Responses go out as grpc-go writes them: HEADERS (:status
// 200, content-type) before the first message, the status in trailers — or, when no message was sent, in one
// HEADERS frame that ends the stream (trailers-only).

import { EventEmitter } from 'node:events';
import { constants, type ServerHttp2Stream } from 'node:http2';
import type { GrpcRecorder } from '../metrics.ts';
import { frameMessage, type MessageReader } from './framing.ts';
import { RequestMetadata, statusFields } from './status.ts';

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

interface PeerSocket {
  readonly authorized?: boolean;
  getPeerCertificate?(): { readonly raw?: Buffer };
}

export class H2Call extends EventEmitter {
  request: unknown;
  /** The client went away (RST_STREAM) or the deadline passed before the call's status went out. */
  cancelled = false;
  private readonly stream: ServerHttp2Stream;
  private readonly headers: Record<string, string | string[] | undefined>;
  private readonly def: H2Method;
  private readonly contentType: string;
  private readonly recorder: GrpcRecorder | undefined;
  private meta: RequestMetadata | undefined;
  private headersSent = false;
  private done = false;
  private trailers: Record<string, string> | undefined;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    stream: ServerHttp2Stream,
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
    stream.on('close', () => this.closed());
    if (def.responseStream) stream.on('drain', () => this.emit('drain'));
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
    this.stream.on('data', (chunk: Buffer) => reader.push(chunk));
    this.stream.on('end', () => {
      if (this.done) return;
      if (reader.midMessage) this.fail({ code: 2, details: 'unexpected EOF' });
      else this.emit('end');
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
    return this.stream.write(frame, callback);
  }

  get writableNeedDrain(): boolean {
    return this.stream.writableNeedDrain;
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
    if (!this.gone()) this.stream.end(frame);
  };

  /** The connection's verified TLS client certificate, as grpc-js's getAuthContext gives it. */
  getAuthContext(): { sslPeerCertificate?: object } {
    const socket = this.stream.session?.socket as PeerSocket | undefined;
    if (!socket?.authorized || typeof socket.getPeerCertificate !== 'function') return {};
    const cert = socket.getPeerCertificate();
    return cert.raw ? { sslPeerCertificate: cert } : {};
  }

  private sendHeaders(): void {
    if (this.headersSent || this.gone()) return;
    this.headersSent = true;
    this.stream.respond({ ':status': 200, 'content-type': this.contentType }, { waitForTrailers: true });
    this.stream.once('wantTrailers', () => {
      this.stream.sendTrailers(this.trailers ?? OK_TRAILERS);
    });
  }

  /** Marks the call answered with `status`: counted, deadline cleared, trailers ready. */
  private finish(status: Status): void {
    this.done = true;
    if (this.deadline) clearTimeout(this.deadline);
    this.trailers = status === OK ? OK_TRAILERS : statusFields(status.code, status.details);
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
    if (this.headersSent) {
      this.stream.end();
      return;
    }
    this.headersSent = true;
    this.stream.respond(
      { ':status': 200, 'content-type': this.contentType, ...this.trailers },
      { endStream: true },
    );
  }

  /** Reset or closed: nothing more can be sent (its 'close' may still be on its way). */
  private gone(): boolean {
    return this.stream.closed || this.stream.destroyed;
  }

  private closed(): void {
    if (this.deadline) clearTimeout(this.deadline);
    if (this.done) return;
    this.done = true;
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }
}

/** The stream is reset with PROTOCOL_ERROR: what grpc-go does with a request that is not gRPC. */
export function resetProtocolError(stream: ServerHttp2Stream): void {
  stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
}
