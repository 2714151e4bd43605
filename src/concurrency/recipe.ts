// The building blocks etcd's clientv3/concurrency package shares between Mutex and Election (key.go, session.go),
// over an EdgeNode instead of a gRPC client: key naming, "first/last by create revision" ranges, waiting for a
// key's deletion with a watch, and cancellation as a Go context would report it.

import { EtcdError } from '../etcd/errors.ts';
import type { KeyValue, RangeRequest, ResponseHeader, WatchResponse } from '../etcd/types.ts';
import { prefixRangeEnd } from '../mvcc/bytes.ts';
import type { EdgeNode, RequestOptions } from '../server/node.ts';

/** concurrency.defaultSessionTTL: the lease a session grants when it is given none (lease 0). */
export const DEFAULT_SESSION_TTL = 60;

const utf8 = new TextEncoder();

export const EMPTY: Uint8Array = new Uint8Array(0);

/** Bytes of a name given as text or bytes. */
export function toBytes(v: string | Uint8Array): Uint8Array {
  return typeof v === 'string' ? utf8.encode(v) : v;
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** `pfx + "/"`: NewMutex and NewElection put every candidate key under the name followed by a slash. */
export function keyPrefix(name: Uint8Array): Uint8Array {
  return concat(name, utf8.encode('/'));
}

/** Go's `fmt.Sprintf("%s%x", pfx, lease)`: the lease ID in lower-case hex (a negative ID keeps its sign). */
export function candidateKey(prefix: Uint8Array, lease: bigint): Uint8Array {
  return concat(prefix, utf8.encode(lease.toString(16)));
}

/** clientv3.WithFirstCreate over a prefix: the key with the lowest create revision (the holder / leader). */
export function firstCreate(prefix: Uint8Array): RangeRequest {
  return {
    key: prefix,
    rangeEnd: prefixRangeEnd(prefix),
    sortTarget: 'CREATE',
    sortOrder: 'ASCEND',
    limit: 1,
  };
}

/** clientv3.WithLastCreate + WithMaxCreateRev: the newest key created at or before `maxCreateRev`. */
function lastCreateUpTo(prefix: Uint8Array, maxCreateRev: number): RangeRequest {
  return {
    key: prefix,
    rangeEnd: prefixRangeEnd(prefix),
    sortTarget: 'CREATE',
    sortOrder: 'DESCEND',
    limit: 1,
    maxCreateRevision: maxCreateRev,
  };
}

/** What a cancelled Go context reports (gRPC code 1). */
export function canceled(): EtcdError {
  return new EtcdError('Canceled', 'context canceled');
}

/**
 * An error as etcd's v3lock / v3election servers return it: they run the recipes through an in-process clientv3
 * client whose errors are not gRPC statuses, so every failure reaches their callers as code 2 (Unknown, HTTP 500
 * through the gateway) with etcd's text, e.g. `etcdserver: requested lease not found`. Cancellation stays code 1.
 */
export function toServiceError(e: unknown): EtcdError {
  if (e instanceof EtcdError)
    return e.codeName === 'Unknown' || e.codeName === 'Canceled' ? e : EtcdError.unknown(e.message);
  return EtcdError.unknown(e instanceof Error ? e.message : String(e));
}

/** Runs a recipe call with its errors as the lock / election services report them (toServiceError). */
export async function asService<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (e) {
    throw toServiceError(e);
  }
}

export function throwIfCanceled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw canceled();
}

/**
 * The caller's identity without its signal: what the recipes' clean-up requests carry (they must run after a
 * cancellation, but as the same user — etcd's v3lock/v3election servers pass the RPC's auth metadata on).
 */
export function identity(opts: RequestOptions): RequestOptions {
  return {
    ...(opts.token !== undefined ? { token: opts.token } : {}),
    ...(opts.commonName !== undefined ? { commonName: opts.commonName } : {}),
  };
}

/**
 * Watches from `startRevision` and yields each response until the watch ends: when `opts.signal` aborts (the
 * iteration then just stops) or the consumer stops iterating. A watch the server cancels (compaction) throws
 * etcd's error, as clientv3's `WatchResponse.Err()` reports it.
 */
export async function* watchResponses(
  node: EdgeNode,
  create: { readonly key: Uint8Array; readonly rangeEnd?: Uint8Array; readonly startRevision: number },
  opts: RequestOptions,
): AsyncGenerator<WatchResponse> {
  const { signal } = opts;
  if (signal?.aborted) return;
  const stream = node.watch(identity(opts));
  const stop = () => stream.close();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    stream.send({ createRequest: { ...create } });
    for await (const r of stream) {
      if (r.canceled) {
        if (r.compactRevision) throw EtcdError.of('ErrCompacted');
        throw EtcdError.unknown(r.cancelReason || 'lost watcher');
      }
      yield r;
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    stream.close();
  }
}

/** concurrency.waitDelete: returns once `key` is deleted at a revision after `rev`. */
async function waitDelete(node: EdgeNode, key: Uint8Array, rev: number, opts: RequestOptions): Promise<void> {
  for await (const r of watchResponses(node, { key, startRevision: rev }, opts)) {
    for (const ev of r.events) if (ev.type === 'DELETE') return;
  }
  throwIfCanceled(opts.signal);
  throw EtcdError.unknown('lost watcher waiting for delete');
}

/**
 * concurrency.waitDeletes: waits until no key under `prefix` has a create revision ≤ `maxCreateRev`, watching
 * the newest such key (the immediate predecessor) for its deletion each round, so that a release wakes only the
 * next waiter. Returns the header of the final, empty range.
 */
export async function waitDeletes(
  node: EdgeNode,
  prefix: Uint8Array,
  maxCreateRev: number,
  opts: RequestOptions,
): Promise<ResponseHeader> {
  const { signal } = opts;
  for (;;) {
    throwIfCanceled(signal);
    const resp = await node.range(lastCreateUpTo(prefix, maxCreateRev), opts);
    throwIfCanceled(signal);
    if (resp.kvs.length === 0) return resp.header;
    await waitDelete(node, resp.kvs[0].key, resp.header.revision, opts);
  }
}

/** The single KeyValue of a range response (the Else-branch `OpGet` of a key known to exist). */
export function onlyKv(kvs: readonly KeyValue[] | undefined): KeyValue {
  const kv = kvs?.[0];
  if (!kv) throw EtcdError.unknown('edgecd: expected key missing from txn response');
  return kv;
}
