// The gateway's v3lock and v3election RPCs (/v3/lock/*, /v3/election/*): jsonpb decoding of their requests,
// encoding of their responses, and /v3/election/observe as a server stream (grpc-gateway v1: the request body is
// one LeaderRequest, the reply newline-terminated `{"result":LeaderResponse}` objects). The recipes themselves
// are src/concurrency/.

import {
  type CampaignRequest,
  type LeaderKey,
  type LeaderRequest,
  type LeaderResponse,
  observe,
  type ProclaimRequest,
  type ResignRequest,
} from '../../concurrency/election.ts';
import type { LockRequest, LockResponse, UnlockRequest } from '../../concurrency/lock.ts';
import type { RequestOptions } from '../../server/node.ts';
import type { Admission, RequestPipeline } from '../pipeline.ts';
import { MessageReader } from './decode.ts';
import { header, JsonWriter, keyValue } from './encode.ts';
import { firstValue, gatewayError, gatewayStream, readBody, resultLine, streamRefusal } from './http.ts';

const EMPTY = new Uint8Array(0);

// Requests.

export function decodeLock(m: MessageReader): LockRequest {
  return { name: m.bytes('name') ?? EMPTY, lease: m.bigint('lease') ?? 0n };
}

export function decodeUnlock(m: MessageReader): UnlockRequest {
  return { key: m.bytes('key') ?? EMPTY };
}

function decodeLeaderKey(m: MessageReader | undefined): LeaderKey | undefined {
  if (!m) return undefined;
  return {
    name: m.bytes('name') ?? EMPTY,
    key: m.bytes('key') ?? EMPTY,
    rev: m.number('rev') ?? 0,
    lease: m.bigint('lease') ?? 0n,
  };
}

export function decodeCampaign(m: MessageReader): CampaignRequest {
  return { name: m.bytes('name') ?? EMPTY, lease: m.bigint('lease') ?? 0n, value: m.bytes('value') ?? EMPTY };
}

export function decodeProclaim(m: MessageReader): ProclaimRequest {
  return {
    leader: decodeLeaderKey(m.message('leader', 'v3electionpb.LeaderKey')),
    value: m.bytes('value') ?? EMPTY,
  };
}

export function decodeLeader(m: MessageReader): LeaderRequest {
  return { name: m.bytes('name') ?? EMPTY };
}

export function decodeResign(m: MessageReader): ResignRequest {
  return { leader: decodeLeaderKey(m.message('leader', 'v3electionpb.LeaderKey')) };
}

// Responses.

export function lockResponse(r: LockResponse): string {
  return new JsonWriter().message('header', header(r.header)).bytes('key', r.key).toString();
}

function leaderKey(l: LeaderKey): string {
  return new JsonWriter()
    .bytes('name', l.name)
    .bytes('key', l.key)
    .int64('rev', l.rev)
    .int64('lease', l.lease)
    .toString();
}

export function campaignResponse(r: { readonly header: LockResponse['header']; readonly leader: LeaderKey }) {
  return new JsonWriter()
    .message('header', header(r.header))
    .message('leader', leaderKey(r.leader))
    .toString();
}

export function leaderResponse(r: LeaderResponse): string {
  return new JsonWriter().message('header', header(r.header)).message('kv', keyValue(r.kv)).toString();
}

/**
 * POST /v3/election/observe: the leader now and at every change, one `{"result":…}` line each, until the client
 * disconnects. Like etcd's Observe, a failed read or watch ends the stream without an error line.
 */
export async function serveObserve(
  node: RequestPipeline,
  request: Request,
  admission: Admission,
  opts: RequestOptions,
): Promise<Response> {
  let req: LeaderRequest;
  try {
    req = decodeLeader(
      MessageReader.of(
        firstValue(await readBody(request, node.limits.maxRequestBytes)),
        'v3electionpb.LeaderRequest',
      ),
    );
  } catch (e) {
    return gatewayError(e);
  }
  const refused = node.admit('Observe', admission);
  if (refused) return streamRefusal(refused);
  const abort = new AbortController();
  const stop = () => abort.abort();
  if (request.signal.aborted) stop();
  else request.signal.addEventListener('abort', stop, { once: true });
  const responses = observe(node, req, { ...opts, signal: abort.signal });
  const finish = () => {
    request.signal.removeEventListener('abort', stop);
    stop();
  };
  return gatewayStream(
    new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          let r: IteratorResult<LeaderResponse>;
          try {
            r = await responses.next();
          } catch {
            r = { done: true, value: undefined };
          }
          if (r.done) {
            finish();
            controller.close();
            return;
          }
          controller.enqueue(resultLine(leaderResponse(r.value)));
        },
        async cancel() {
          finish();
          await responses.return(undefined).catch(() => undefined);
        },
      },
      { highWaterMark: 0 },
    ),
  );
}
