// The thin layer every handler goes through: the request pipeline's admission (src/api/pipeline.ts: learner and
// "require leader" checks, the max-request-bytes check on proposals), as etcd's v3rpc interceptors, and
// EtcdError → gRPC status with etcd's exact message.

import {
  type handleUnaryCall,
  type Metadata,
  type ServerUnaryCall,
  type StatusObject,
  status,
} from '@grpc/grpc-js';
import type { RequestPipeline } from '../../../../src/api/pipeline.ts';
import type { Logger } from '../../../../src/env.ts';
import { EtcdError } from '../../../../src/etcd/errors.ts';
import type { RequestOptions } from '../../../../src/server/node.ts';
import { certificateCommonName } from '../tls.ts';
import type { WireMessage } from './wire.ts';

export type GrpcStatus = Pick<StatusObject, 'code' | 'details'>;

/** What every kind of server call has (grpc-js does not export its ServerSurfaceCall type). */
export interface AnyServerCall {
  readonly metadata: Metadata;
  emit(event: 'error', status: GrpcStatus): boolean;
  /** grpc-js ≥ 1.12: the connection's TLS peer (absent on plaintext connections). */
  getAuthContext?(): {
    readonly sslPeerCertificate?: { readonly subject?: { readonly CN?: unknown } };
  } | null;
}

function metadataText(metadata: Metadata, key: string): string | undefined {
  const v = metadata.get(key)[0];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.toString('utf8');
}

/** The verified client certificate's CN (mTLS), if any: grpc-js gives the certificate only when TLS verified it. */
function commonNameOf(call: AnyServerCall): string | undefined {
  try {
    return certificateCommonName(call.getAuthContext?.()?.sslPeerCertificate);
  } catch {
    return undefined; // no auth context on this call
  }
}

/**
 * Who is calling, as etcd's AuthInfoFromCtx sees it: the token from metadata `token` (native clients) or else
 * `authorization` (what grpc-gateway forwards), and the verified client certificate's CN (mTLS) when there is
 * one. With the call's abort signal, this is what every handler hands the node. The CN is looked up when first
 * read (only auth reads it, and only without a token): the lookup was ~2.5 us of every call in plaintext, and
 * parses the peer certificate with TLS.
 */
export function requestOptions(call: AnyServerCall, signal?: AbortSignal): RequestOptions {
  const token = metadataText(call.metadata, 'token') ?? metadataText(call.metadata, 'authorization');
  const opts: { signal?: AbortSignal; token?: string } = {};
  if (signal) opts.signal = signal;
  if (token !== undefined) opts.token = token;
  let commonName: string | undefined | null = null;
  Object.defineProperty(opts, 'commonName', {
    enumerable: true,
    get: () => (commonName === null ? (commonName = commonNameOf(call)) : commonName),
  });
  return opts;
}

/** What a handler's failure becomes on the wire: etcd errors keep their code and text; anything else is Unknown. */
export function toStatus(err: unknown): GrpcStatus {
  if (err instanceof EtcdError) return { code: err.code, details: err.message };
  if (err && typeof err === 'object' && 'code' in err && 'details' in err) {
    const { code, details } = err as { code: unknown; details: unknown };
    if (typeof code === 'number' && typeof details === 'string') return { code, details };
  }
  return { code: status.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

/** etcd's `hasleader` metadata (clientv3.WithRequireLeader): fail rather than wait when there is no leader. */
export function requiresLeader(metadata: Metadata): boolean {
  return metadata.get('hasleader')[0] === 'true';
}

/** A live stream the server may have to end: on close, or when it lost its leader (etcd's monitorLeader). */
export interface LiveStream {
  readonly requireLeader: boolean;
  /** Ends the stream: OK without an error, else with the error's status. */
  end(err?: EtcdError | GrpcStatus): void;
}

export interface CallContext {
  /** The node behind the request pipeline every surface shares: handlers call it, never the node itself. */
  readonly api: RequestPipeline;
  readonly logger: Logger;
  /** The encoded size of a request message over --max-request-bytes (smaller ones are not recorded). */
  oversizedBytes(request: object): number | undefined;
  readonly streams: Set<LiveStream>;
}

/** The pipeline's admission, run before any handler: etcd's newUnaryInterceptor / newStreamInterceptor. */
export function admit(
  ctx: CallContext,
  call: AnyServerCall,
  method: string,
  request?: unknown,
): EtcdError | undefined {
  const message = request !== null && typeof request === 'object' ? request : undefined;
  return ctx.api.admit(method.slice(method.indexOf('/') + 1), {
    serializable: !!(message as { serializable?: boolean } | undefined)?.serializable,
    requireLeader: requiresLeader(call.metadata),
    ...(message ? { bytes: ctx.oversizedBytes(message) } : {}),
  });
}

/**
 * A unary call's RequestOptions. Its AbortSignal is made only when something asks for it (a wait that can be
 * cancelled): an AbortController per call was ~1.5% of a put's CPU, and most calls never look at it.
 */
class UnaryOptions implements RequestOptions {
  readonly token?: string;
  private readonly base: RequestOptions;
  private controller?: AbortController;
  private pending = true;
  private canceled = false;

  constructor(base: RequestOptions) {
    if (base.token !== undefined) this.token = base.token;
    this.base = base;
  }

  get commonName(): string | undefined {
    return this.base.commonName;
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.canceled) this.controller.abort();
    }
    return this.controller.signal;
  }

  /** The client went away: a call still being served is aborted. */
  cancel(): void {
    if (!this.pending || this.canceled) return;
    this.canceled = true;
    this.controller?.abort();
  }

  done(): void {
    this.pending = false;
  }

  isCanceled(): boolean {
    return this.canceled;
  }
}

/** Wraps a promise-returning handler as a grpc-js unary handler. `method` is `Service/Method` for the checks. */
export function unary<Req extends object>(
  ctx: CallContext,
  method: string,
  fn: (request: Req, opts: RequestOptions & { readonly signal: AbortSignal }) => Promise<WireMessage>,
): handleUnaryCall<Req, WireMessage> {
  return (call: ServerUnaryCall<Req, WireMessage>, callback) => {
    const refused = admit(ctx, call, method, call.request);
    if (refused) return callback(toStatus(refused));
    const opts = new UnaryOptions(requestOptions(call));
    // grpc-js reports 'cancelled' when every call's stream closes, answered or not: only a call still being
    // served is aborted (aborting builds a DOMException and dispatches an event — a few % of a put's CPU).
    call.on('cancelled', () => opts.cancel());
    let result: Promise<WireMessage>;
    try {
      result = fn(call.request, opts);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (response) => {
        opts.done();
        callback(null, response);
      },
      (err: unknown) => {
        opts.done();
        const answer = toStatus(err);
        if (answer.code === status.UNKNOWN)
          ctx.logger.warn('grpc handler failed', { method, error: answer.details });
        callback(answer);
      },
    );
  };
}

/** A status answer for every kind of RPC: unary and client-streaming via the callback, the others via 'error'. */
export function refuse(
  kind: { requestStream: boolean; responseStream: boolean },
  statusObject: GrpcStatus,
): (call: AnyServerCall, callback?: (err: GrpcStatus) => void) => void {
  return (call, callback) => {
    if (!kind.responseStream && callback) callback(statusObject);
    else call.emit('error', statusObject);
  };
}
