// Bidirectional streams (Watch, LeaseKeepAlive): the call's requests go to a session, the session writes its
// responses to the call with back-pressure and may end it; the stream also ends when the client cancels or when
// the server ends it (close, lost leader: server.ts). No promise or iterator per message: a watch stream writes
// a batch of responses at once, a keep-alive answers from a callback.

import type { handleBidiStreamingCall, ServerDuplexStream } from '@grpc/grpc-js';
import { EtcdError } from '../../../../src/etcd/errors.ts';
import type { RequestOptions } from '../../../../src/server/node.ts';
import {
  admit,
  type CallContext,
  type GrpcStatus,
  type LiveStream,
  requestOptions,
  requiresLeader,
  toStatus,
} from './calls.ts';
import { MalformedRequest } from './strict.ts';
import type { WireMessage } from './wire.ts';

/** Where a session's responses go. */
export interface BidiOutput {
  /** Sends one response: a message for the codec, or its encoded bytes. False: call `drained()` before more. */
  write(response: WireMessage | Buffer): boolean;
  /** Resolves once the client has taken what was written, or the call has ended. */
  drained(): Promise<void>;
  /** Ends the call: status OK, or the error's (an EtcdError or a gRPC status; anything else is Unknown). */
  end(err?: unknown): void;
  readonly ended: boolean;
}

export interface BidiSession<Req> {
  send(request: Req): void;
  /** The client half-closed. Absent: the stream stays open until cancelled (etcd's Watch). */
  end?(): void;
  /** The call ended, by either side. */
  close(): void;
}

function asEnd(err: unknown): EtcdError | GrpcStatus {
  if (err instanceof EtcdError) return err;
  if (err && typeof err === 'object' && 'code' in err && 'details' in err) return toStatus(err);
  return EtcdError.unknown(String(err));
}

/** Responses written and not yet taken by the HTTP/2 stream, in bytes, before a session is told to wait. */
const HIGH_WATER_BYTES = 1024 * 1024;

/** grpc-js's call under a ServerDuplexStream: the method that frames and writes one message. */
type SendMessage = (message: unknown, callback: () => void) => void;

/**
 * The sendMessage of the grpc-js call below `call` (ServerDuplexStreamImpl's `call`, @grpc/grpc-js 1.14), or
 * undefined. Writing there instead of through the Duplex lets many messages be handed to the HTTP/2 stream
 * before the first has gone out: the Duplex writes one message at a time and waits for each (a native write, a
 * completion and two stream callbacks per message), while the HTTP/2 stream coalesces what it was handed meanwhile
 * into one writev. grpc-js's own framing, size limit and status handling stay in force.
 */
export function directSend(call: object): SendMessage | undefined {
  const inner = (call as { call?: { sendMessage?: unknown } }).call;
  if (!inner || typeof inner.sendMessage !== 'function') return undefined;
  const send = inner.sendMessage as SendMessage;
  return (message, callback) => send.call(inner, message, callback);
}

/** A grpc-js handler for a bidirectional stream served by `open`'s session. */
export function bidi<Req>(
  ctx: CallContext,
  method: string,
  open: (opts: RequestOptions, out: BidiOutput) => BidiSession<Req>,
): handleBidiStreamingCall<Req, WireMessage | Buffer> {
  return (call: ServerDuplexStream<Req, WireMessage | Buffer>) => {
    const refused = admit(ctx, call, method);
    if (refused) {
      call.emit('error', toStatus(refused));
      return;
    }
    let ended = false;
    let session: BidiSession<Req> | undefined;
    let wakeDrain: (() => void) | undefined;
    const wake = () => {
      const w = wakeDrain;
      wakeDrain = undefined;
      w?.();
    };
    const finish = (err?: EtcdError | GrpcStatus) => {
      if (ended) return;
      ended = true;
      ctx.streams.delete(live);
      session?.close();
      wake();
      if (call.cancelled) return;
      if (err) call.emit('error', toStatus(err));
      else call.end();
    };
    const live: LiveStream = { requireLeader: requiresLeader(call.metadata), end: finish };

    // Messages handed to grpc-js's call directly (see directSend), counted until their write completes; the
    // completions come in order, so their sizes wait in a queue.
    const send = directSend(call);
    let sizes: number[] = [];
    let sizesHead = 0;
    let pendingBytes = 0;
    const sent = () => {
      pendingBytes -= sizes[sizesHead++] as number;
      if (sizesHead === sizes.length) {
        sizes = [];
        sizesHead = 0;
      }
      if (wakeDrain && pendingBytes <= HIGH_WATER_BYTES / 2) wake();
    };
    const write = send
      ? (response: WireMessage | Buffer): boolean => {
          const size = Buffer.isBuffer(response) ? response.length : 64;
          sizes.push(size);
          pendingBytes += size;
          send(response, sent);
          return pendingBytes < HIGH_WATER_BYTES;
        }
      : (response: WireMessage | Buffer): boolean => call.write(response);
    const waiting = send ? () => pendingBytes > HIGH_WATER_BYTES / 2 : () => call.writableNeedDrain;

    const out: BidiOutput = {
      write: (response) => !ended && write(response),
      drained: () =>
        ended || !waiting()
          ? Promise.resolve()
          : new Promise<void>((resolve) => {
              const before = wakeDrain;
              wakeDrain = () => {
                before?.();
                resolve();
              };
            }),
      end: (err) => finish(err === undefined ? undefined : asEnd(err)),
      get ended() {
        return ended;
      },
    };
    ctx.streams.add(live);
    session = open(requestOptions(call), out);
    call.on('data', (request: Req) => {
      if (ended) return;
      // grpc-go ends the stream when a message does not decode (strict.ts).
      if (request instanceof MalformedRequest) return finish(request.status);
      try {
        session.send(request);
      } catch (err) {
        finish(asEnd(err));
      }
    });
    // Watch: etcd keeps sending after the client half-closes, until the client cancels. LeaseKeepAlive: etcd's
    // handler returns (status OK) on io.EOF, once its answers are out; the session ends the call then.
    call.on('end', () => {
      if (!ended) session.end?.();
    });
    call.on('cancelled', () => finish());
    call.on('error', () => finish());
    if (!send) call.on('drain', wake);
  };
}
