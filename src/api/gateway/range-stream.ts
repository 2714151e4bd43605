// KV.RangeStream on the JSON gateway — an edgecd extension, outside etcd's /v3/ paths: etcd v3.7 gives RangeStream
// no grpc-gateway mapping ("intentionally gRPC-only"), so there is no etcd path to match, and /v3/ keeps only
// etcd's. Runtimes without gRPC (a Worker, a page) have no other way to read a large range without building it
// whole. POST /edgecd/v1/kv/rangestream takes a RangeRequest as /v3/kv/range does and answers as grpc-gateway v1
// answers a server stream: one newline-terminated `{"result":{"range_response":{…}}}` per chunk (kvs on each,
// header, more and count on the last), read from the store only as the client takes them.
//
// Errors as grpc-gateway's: a body that does not decode is a unary error reply (400); one before the first chunk
// (admission, the request's checks, auth) is the error's HTTP status with one `{"error":{…}}` line; one after
// (a compaction past the stream's revision) is an `{"error":{…}}` line that ends the 200 reply.

import type { RangeStreamResponse } from '../../etcd/kv.ts';
import type { RequestOptions } from '../../server/node.ts';
import type { Admission, RequestPipeline } from '../pipeline.ts';
import { decodeRange, MessageReader } from './decode.ts';
import { JsonWriter, keyValue, rangeResponse } from './encode.ts';
import {
  errorLine,
  firstValue,
  gatewayError,
  gatewayStream,
  readBody,
  resultLine,
  streamRefusal,
} from './http.ts';

export const RANGE_STREAM_PATH = '/edgecd/v1/kv/rangestream';

export async function serveRangeStream(
  node: RequestPipeline,
  request: Request,
  admission: (serializable: boolean) => Admission,
  opts: RequestOptions,
): Promise<Response> {
  let chunks: AsyncIterator<RangeStreamResponse>;
  try {
    const value = firstValue(await readBody(request, node.limits.maxRequestBytes));
    const req = decodeRange(MessageReader.of(value, 'etcdserverpb.RangeRequest'));
    const refused = node.admit('RangeStream', admission(req.serializable === true));
    if (refused) return streamRefusal(refused);
    chunks = node.rangeStream(req, opts)[Symbol.asyncIterator]();
  } catch (e) {
    return gatewayError(e);
  }
  let first: IteratorResult<RangeStreamResponse>;
  try {
    first = await chunks.next();
  } catch (e) {
    return streamRefusal(e);
  }
  let pending: IteratorResult<RangeStreamResponse> | undefined = first;
  return gatewayStream(
    new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let r: IteratorResult<RangeStreamResponse>;
          try {
            r = pending ?? (await chunks.next());
          } catch (e) {
            controller.enqueue(errorLine(e));
            controller.close();
            return;
          }
          pending = undefined;
          if (r.done) return controller.close();
          controller.enqueue(resultLine(rangeStreamResponse(r.value)));
        },
        async cancel() {
          await chunks.return?.().catch(() => undefined);
        },
      },
      { highWaterMark: 0 },
    ),
  );
}

/** One chunk as jsonpb: `{"range_response":{…}}`. */
export function rangeStreamResponse(r: RangeStreamResponse): string {
  const { kvs, final } = r.rangeResponse;
  const inner = final
    ? rangeResponse({ ...final, kvs })
    : new JsonWriter().list('kvs', kvs.map(keyValue)).toString();
  return new JsonWriter().message('range_response', inner).toString();
}
