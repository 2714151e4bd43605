// etcd v3.7's KV.RangeStream (etcdserver/v3_server.go RangeStream and rangeStream, at tag v3.7.1): Range's answer as
// a stream of chunks, so that a large range costs the server one chunk of memory instead of the whole result.
//   - One read barrier and one permission check, before the first chunk (etcd: LinearizableReadNotify, then
//     doSerialize with IsRangePermitted).
//   - Pinned to one revision: the first chunk reads at the request's revision, or at the current one, and every
//     later chunk reads at that same revision, from the key after the last one sent. Writes between chunks are not
//     seen; a compaction past the revision fails the next chunk with "required revision has been compacted".
//   - Only the last chunk carries header (its revision: the store's revision when the first chunk was read, as
//     Range's header), more and count. count is the keys sent plus, when the limit cut the range short, one count
//     of the rest — computed once, at the end. count_only is one chunk with the header and count.
//   - Chunk size: etcd grows or shrinks a key count between chunks to land near --max-request-bytes (starting at
//     10 keys, doubling below half, halving above twice). edgecd knows every key's encoded size as it walks the
//     index, so it fills each chunk up to --max-request-bytes exactly: a chunk is over the limit only when one key
//     alone is. The boundaries differ from etcd's; the merged result is the same (the proto's contract).
//   - Sort order NONE with a target other than KEY sorts by that target (Range's rule): etcd v3.7 accepts it and
//     sorts each chunk on its own; here the whole result is read as Range reads it and then sent in chunks, so the
//     merged chunks equal Range's answer. Other orders and revision filters are refused before this runs
//     (src/mvcc/validate.ts checkRangeStreamRequest).

import type {
  KeyValue,
  RangeRequest,
  RangeResponse,
  RangeStreamResponse,
  ResponseHeader,
} from '../../etcd/kv.ts';
import { DEFAULT_MAX_REQUEST_BYTES } from '../../etcd/limits.ts';
import type { RequestOptions } from '../node.ts';
import type { ServiceContext } from './context.ts';

/**
 * What a chunk's RangeStreamResponse adds beyond its kvs, at most: the wrapper's tag and length (6), and on the
 * last chunk a full header (45), more (2) and count (10).
 */
export const CHUNK_OVERHEAD_BYTES = 64;

/** Range's answer as RangeStream chunks; the request has passed checkRangeStreamRequest. */
export async function* rangeStream(
  ctx: ServiceContext,
  req: RangeRequest,
  opts?: RequestOptions,
): AsyncGenerator<RangeStreamResponse, void, undefined> {
  if (!req.serializable) await ctx.barrier();
  const { identity, state } = ctx;
  const auth = identity.auth;
  if (auth.enabled) await identity.checkRead(opts, (i) => auth.checkOp(i, 'READ', req.key, req.rangeEnd));
  const budget = (ctx.options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES) - CHUNK_OVERHEAD_BYTES;
  const last = (kvs: readonly KeyValue[], r: Omit<RangeResponse, 'kvs'>): RangeStreamResponse => ({
    rangeResponse: { kvs, final: ctx.withHeader(r) },
  });

  if (req.countOnly) {
    const r = state.range(req);
    yield last([], { header: r.header, more: false, count: r.count });
    return;
  }
  if ((req.sortOrder ?? 'NONE') === 'NONE' && (req.sortTarget ?? 'KEY') !== 'KEY') {
    yield* buffered(state.range(req), budget, last);
    return;
  }

  const total = req.limit !== undefined && req.limit > 0 ? req.limit : Number.POSITIVE_INFINITY;
  let revision = req.revision !== undefined && req.revision > 0 ? req.revision : 0;
  let headerRev = 0;
  let key = req.key;
  let sent = 0;
  for (;;) {
    if (opts?.signal?.aborted) return;
    const chunk = state.rangeChunk({
      key,
      rangeEnd: req.rangeEnd,
      revision,
      limit: total - sent,
      budget,
      cost: keyValueBytes,
      keysOnly: req.keysOnly,
    });
    if (headerRev === 0) {
      headerRev = chunk.rev;
      if (revision === 0) revision = headerRev;
    }
    sent += chunk.kvs.length;
    const next = chunk.more ? afterKey(chunk.kvs[chunk.kvs.length - 1]!.key) : undefined;
    if (next !== undefined && sent < total) {
      yield { rangeResponse: { kvs: chunk.kvs } };
      key = next;
      continue;
    }
    // Cut short by the limit: the keys not sent are counted once.
    const rest =
      next === undefined
        ? 0
        : state.range({ key: next, rangeEnd: req.rangeEnd, revision, countOnly: true }).count;
    yield last(chunk.kvs, { header: headerAt(headerRev), more: chunk.more, count: sent + rest });
    return;
  }
}

/** A response read whole (Range's sort by a non-KEY target), sent in chunks under the budget. */
function* buffered(
  r: RangeResponse,
  budget: number,
  last: (kvs: readonly KeyValue[], r: Omit<RangeResponse, 'kvs'>) => RangeStreamResponse,
): Generator<RangeStreamResponse, void, undefined> {
  let start = 0;
  let spent = 0;
  for (let i = 0; i < r.kvs.length; i++) {
    const cost = keyValueBytes(r.kvs[i]!);
    if (i > start && spent + cost > budget) {
      yield { rangeResponse: { kvs: r.kvs.slice(start, i) } };
      start = i;
      spent = 0;
    }
    spent += cost;
  }
  yield last(r.kvs.slice(start), { header: r.header, more: r.more, count: r.count });
}

function headerAt(revision: number): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision, raftTerm: 0 };
}

/** The smallest key after `key`: where the next chunk starts (etcd: append(key, '\x00')). */
function afterKey(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

/** Bytes of a protobuf varint holding a non-negative integer below 2^53. */
function varintBytes(n: number): number {
  let bytes = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    bytes++;
  }
  return bytes;
}

/** A KeyValue's encoded size as an element of RangeResponse.kvs (tag, length and the mvccpb.KeyValue). */
export function keyValueBytes(kv: KeyValue): number {
  let n = 0;
  if (kv.key.length > 0) n += 1 + varintBytes(kv.key.length) + kv.key.length;
  if (kv.createRevision !== 0) n += 1 + varintBytes(kv.createRevision);
  if (kv.modRevision !== 0) n += 1 + varintBytes(kv.modRevision);
  if (kv.version !== 0) n += 1 + varintBytes(kv.version);
  if (kv.value.length > 0) n += 1 + varintBytes(kv.value.length) + kv.value.length;
  // int64: a negative lease takes all ten varint bytes.
  if (kv.lease !== 0n) n += 1 + (kv.lease < 0n ? 10 : varintBytes(Number(kv.lease)));
  return 1 + varintBytes(n) + n;
}
