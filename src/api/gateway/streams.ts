// The gateway's two bidirectional-streaming RPCs, as grpc-gateway v1 bridges them onto one HTTP exchange:
// the request body is a stream of concatenated JSON request objects, the reply a chunked stream of
// newline-terminated `{"result":{…}}` objects (`{"error":{…}}` when the RPC fails mid-stream).
//
// Like grpc-gateway, the first request object is decoded before replying, so a bad first object is an ordinary
// 400; a bad later object only stops reading the body (CloseSend). /v3/watch then stays open until the client
// disconnects (request.signal); /v3/lease/keepalive answers each request in order and ends with the body. Once
// the first object has decoded, the request pipeline admits the stream (a learner refuses LeaseKeepAlive): a
// refusal is the error's HTTP status and one `{"error":{…}}` line, as a stream refused by etcd's interceptor.

import { EtcdError } from '../../etcd/errors.ts';
import type { RequestOptions } from '../../server/node.ts';
import type { Admission, RequestPipeline } from '../pipeline.ts';
import { decodeLeaseId, decodeWatch, MessageReader } from './decode.ts';
import { leaseKeepAliveResponse, watchResponse } from './encode.ts';
import { BodyValues, errorLine, gatewayError, gatewayStream, resultLine, streamRefusal } from './http.ts';
import type { JsonValue } from './json-scan.ts';

export async function serveWatch(
  node: RequestPipeline,
  request: Request,
  admission: Admission,
  opts: RequestOptions,
): Promise<Response> {
  const body = new BodyValues(request, node.limits.maxRequestBytes);
  let first: ReturnType<typeof decodeWatch>;
  try {
    first = decodeFirst(await body.next(), (m) => decodeWatch(m), 'etcdserverpb.WatchRequest');
  } catch (e) {
    body.close();
    return streamDecodeError(e);
  }
  const refused = node.admit('Watch', admission);
  if (refused) {
    body.close();
    return streamRefusal(refused);
  }
  const stream = node.watch(opts);
  if (first) stream.send(first);
  const responses = stream[Symbol.asyncIterator]();
  const signal = request.signal;
  const stop = () => {
    body.close();
    stream.close();
  };
  if (signal.aborted) stop();
  else signal.addEventListener('abort', stop, { once: true });

  // Forward the rest of the body's requests as they arrive.
  void (async () => {
    try {
      for (;;) {
        const v = await body.next();
        if (v === undefined) return;
        const req = decodeWatch(MessageReader.of(v, 'etcdserverpb.WatchRequest'));
        if (req) stream.send(req);
      }
    } catch {
      body.close(); // etcd's recvLoop sees EOF; the watch stream itself stays open
    }
  })();

  return gatewayStream(
    new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const r = await responses.next();
          if (r.done) {
            signal.removeEventListener('abort', stop);
            controller.close();
            return;
          }
          controller.enqueue(resultLine(watchResponse(r.value)));
        },
        cancel() {
          signal.removeEventListener('abort', stop);
          stop();
        },
      },
      { highWaterMark: 0 },
    ),
  );
}

export async function serveKeepAlive(
  node: RequestPipeline,
  request: Request,
  admission: Admission,
  opts: RequestOptions,
): Promise<Response> {
  const body = new BodyValues(request, node.limits.maxRequestBytes);
  let pending: { ID: bigint } | undefined;
  try {
    pending = decodeFirst(await body.next(), decodeLeaseId, 'etcdserverpb.LeaseKeepAliveRequest');
  } catch (e) {
    body.close();
    return streamDecodeError(e);
  }
  const refused = node.admit('LeaseKeepAlive', admission);
  if (refused) {
    body.close();
    return streamRefusal(refused);
  }
  const signal = request.signal;
  const next = async (): Promise<{ ID: bigint } | undefined> => {
    try {
      const v = await body.next();
      return v === undefined
        ? undefined
        : decodeLeaseId(MessageReader.of(v, 'etcdserverpb.LeaseKeepAliveRequest'));
    } catch {
      body.close(); // a bad later message ends the client's side; the server then ends the stream
      return undefined;
    }
  };
  return gatewayStream(
    new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const req = pending ?? (await next());
          pending = undefined;
          if (!req || signal.aborted) {
            controller.close();
            return;
          }
          try {
            controller.enqueue(
              resultLine(leaseKeepAliveResponse(await node.leaseKeepAliveOnce(req, { ...opts, signal }))),
            );
          } catch (e) {
            controller.enqueue(errorLine(e));
            body.close();
            controller.close();
          }
        },
        cancel() {
          body.close();
        },
      },
      { highWaterMark: 0 },
    ),
  );
}

/**
 * A first request that does not decode. grpc-gateway's generated stream handlers return the decoder's error as
 * is (unary ones wrap it as InvalidArgument), so etcd answers 500 with code 2 (Unknown) and the decoder's text.
 */
function streamDecodeError(e: unknown): Response {
  if (EtcdError.is(e, 'ErrRequestTooLarge')) return gatewayError(e);
  const message = e instanceof Error ? e.message : String(e);
  return gatewayError(new EtcdError('Unknown', message));
}

/** The first request object; undefined when the body is empty (grpc-gateway: io.EOF, no request sent). */
function decodeFirst<T>(
  value: JsonValue | undefined,
  decode: (m: MessageReader) => T,
  goType: string,
): T | undefined {
  return value === undefined ? undefined : decode(MessageReader.of(value, goType));
}
