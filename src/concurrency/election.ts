// etcd's v3election service (etcdserver/api/v3election) over an EdgeNode. etcd's electionServer runs
// concurrency.Election on an orphaned session of the caller's lease; this file is that recipe:
//
//   Campaign: key = name + "/" + hex(lease); Txn If create_revision(key) == 0 Then put(key, value, lease)
//             Else get(key) (a re-campaign on the same lease keeps its place, proclaiming a new value); then
//             wait until no key under the prefix was created before the key. Cancelled → resign.
//   Proclaim: Txn If create_revision(leader.key) == leader.rev Then put(leader.key, value, leader.lease)
//             Else `election: not leader`.
//   Resign:   Txn If create_revision(leader.key) == leader.rev Then delete(leader.key).
//
// Like etcd, every call that names a lease runs on a "session" of it, and a session of lease 0 grants a fresh 60 s
// lease: Campaign and Proclaim then attach the key to it, Resign leaves it unused (etcd does the same).
//   Leader:   the key with the lowest create revision under the prefix, else `election: no leader`.
//   Observe:  the current leader, each change of its value, and each new leader (Election.observe).

import { EtcdError, errors } from '../etcd/errors.ts';
import type { KeyValue, ResponseHeader } from '../etcd/types.ts';
import { bytesEqual, prefixRangeEnd } from '../mvcc/bytes.ts';
import type { EdgeNode, RequestOptions } from '../server/node.ts';
import {
  canceled,
  candidateKey,
  DEFAULT_SESSION_TTL,
  EMPTY,
  firstCreate,
  identity,
  keyPrefix,
  onlyKv,
  waitDeletes,
  watchResponses,
} from './recipe.ts';

/** v3electionpb.LeaderKey: what identifies one leadership (pass it to Proclaim and Resign). */
export interface LeaderKey {
  readonly name: Uint8Array;
  readonly key: Uint8Array;
  /** The key's create revision (also a fencing token for this leadership). */
  readonly rev: number;
  readonly lease: bigint;
}

export interface CampaignRequest {
  readonly name: Uint8Array;
  /** 0n = grant a fresh 60 s lease (what etcd's session does). */
  readonly lease: bigint;
  readonly value?: Uint8Array;
}

export interface CampaignResponse {
  readonly header: ResponseHeader;
  readonly leader: LeaderKey;
}

export interface ProclaimRequest {
  readonly leader?: LeaderKey;
  readonly value?: Uint8Array;
}

export interface LeaderRequest {
  readonly name: Uint8Array;
}

export interface LeaderResponse {
  readonly header: ResponseHeader;
  readonly kv: KeyValue;
}

export interface ResignRequest {
  readonly leader?: LeaderKey;
}

export interface HeaderResponse {
  readonly header: ResponseHeader;
}

/** v3election.ErrMissingLeaderKey. */
export function missingLeaderKey(): EtcdError {
  return EtcdError.unknown('"leader" field must be provided');
}

/** concurrency.NewSession(WithLease(lease)): lease 0 means "grant one" (default TTL 60 s). */
async function sessionLease(node: EdgeNode, lease: bigint, opts: RequestOptions): Promise<bigint> {
  return lease === 0n ? (await node.leaseGrant({ TTL: DEFAULT_SESSION_TTL }, opts)).ID : lease;
}

/** Election.Resign's txn: delete the key only while it is still this leadership's. */
function resignTxn(node: EdgeNode, key: Uint8Array, rev: number, opts?: RequestOptions) {
  return node.txn(
    {
      compare: [{ result: 'EQUAL', target: 'CREATE', key, createRevision: rev }],
      success: [{ requestDeleteRange: { key } }],
    },
    opts,
  );
}

async function resignQuietly(
  node: EdgeNode,
  key: Uint8Array,
  rev: number,
  opts: RequestOptions,
): Promise<void> {
  try {
    await resignTxn(node, key, rev, identity(opts));
  } catch {
    // best effort, as etcd's `e.Resign(client.Ctx())` whose error is dropped
  }
}

/**
 * v3election Campaign: blocks until the lease's candidate key is the oldest under `name/`. Cancelling through
 * `opts.signal` resigns (deletes the key) and rejects with `context canceled`.
 */
export async function campaign(
  node: EdgeNode,
  req: CampaignRequest,
  opts: RequestOptions = {},
): Promise<CampaignResponse> {
  const { signal } = opts;
  if (signal?.aborted) throw canceled();
  const lease = await sessionLease(node, req.lease, opts);
  const value = req.value ?? EMPTY;

  const prefix = keyPrefix(req.name);
  const key = candidateKey(prefix, lease);
  const resp = await node.txn(
    {
      compare: [{ result: 'EQUAL', target: 'CREATE', key, createRevision: 0 }],
      success: [{ requestPut: { key, value, lease } }],
      failure: [{ requestRange: { key } }],
    },
    opts,
  );
  let rev = resp.header.revision;
  if (!resp.succeeded) {
    const kv = onlyKv(resp.responses[0]?.responseRange?.kvs);
    rev = kv.createRevision;
    if (!bytesEqual(kv.value, value)) {
      try {
        await proclaim(node, { leader: { name: req.name, key, rev, lease }, value }, identity(opts));
      } catch (e) {
        await resignQuietly(node, key, rev, opts);
        throw e;
      }
    }
  }
  if (signal?.aborted) {
    await resignQuietly(node, key, rev, opts);
    throw canceled();
  }
  try {
    await waitDeletes(node, prefix, rev - 1, opts);
    if (signal?.aborted) throw canceled();
  } catch (e) {
    // etcd resigns only when the context was cancelled; on other errors the key stays (the lease bounds it).
    if (signal?.aborted) {
      await resignQuietly(node, key, rev, opts);
      throw canceled();
    }
    throw e;
  }
  return { header: resp.header, leader: { name: req.name, key, rev, lease } };
}

/** v3election Proclaim: a new value for the leader's key, only while the leadership `leader` still holds. */
export async function proclaim(
  node: EdgeNode,
  req: ProclaimRequest,
  opts: RequestOptions = {},
): Promise<HeaderResponse> {
  const leader = req.leader;
  if (!leader) throw missingLeaderKey();
  const lease = await sessionLease(node, leader.lease, opts);
  const resp = await node.txn(
    {
      compare: [{ result: 'EQUAL', target: 'CREATE', key: leader.key, createRevision: leader.rev }],
      success: [{ requestPut: { key: leader.key, value: req.value ?? EMPTY, lease } }],
    },
    opts,
  );
  if (!resp.succeeded) throw errors.electionNotLeader();
  return { header: resp.header };
}

/** v3election Resign: gives up the leadership `leader` (a no-op when it is no longer held). */
export async function resign(
  node: EdgeNode,
  req: ResignRequest,
  opts: RequestOptions = {},
): Promise<HeaderResponse> {
  const leader = req.leader;
  if (!leader) throw missingLeaderKey();
  await sessionLease(node, leader.lease, opts);
  const resp = await resignTxn(node, leader.key, leader.rev, opts);
  return { header: resp.header };
}

/** v3election Leader: the current leader's key-value, else `election: no leader`. */
export async function leader(
  node: EdgeNode,
  req: LeaderRequest,
  opts: RequestOptions = {},
): Promise<LeaderResponse> {
  const resp = await node.range(firstCreate(keyPrefix(req.name)), opts);
  const kv = resp.kvs[0];
  if (!kv) throw errors.electionNoLeader();
  return { header: resp.header, kv };
}

/**
 * v3election Observe (concurrency.Election.observe): yields the current leader (waiting for one if there is
 * none), then every new value it proclaims, then the next leader once its key is deleted, and so on. Ends when
 * `signal` aborts or the consumer stops iterating; a failed read or watch throws (etcd's server then ends the
 * stream without an error).
 */
export async function* observe(
  node: EdgeNode,
  req: LeaderRequest,
  opts: RequestOptions = {},
): AsyncGenerator<LeaderResponse> {
  const { signal } = opts;
  const prefix = keyPrefix(req.name);
  while (!signal?.aborted) {
    const resp = await node.range(firstCreate(prefix), opts);
    let kv: KeyValue | undefined = resp.kvs[0];
    let header: ResponseHeader = resp.header;
    if (!kv) {
      // Wait for the first put under the prefix (deletes are ignored).
      waiting: for await (const wr of watchResponses(
        node,
        { key: prefix, rangeEnd: prefixRangeEnd(prefix), startRevision: resp.header.revision },
        opts,
      )) {
        for (const ev of wr.events) {
          if (ev.type === 'PUT') {
            kv = ev.kv;
            // A batch may hold several revisions: report the one of this put.
            header = { ...wr.header, revision: ev.kv.modRevision };
            break waiting;
          }
        }
      }
      if (!kv) return;
    }
    if (signal?.aborted) return;
    yield { header, kv };

    // Follow this leader's key until it is deleted.
    let deleted = false;
    following: for await (const wr of watchResponses(
      node,
      { key: kv.key, startRevision: header.revision + 1 },
      opts,
    )) {
      for (const ev of wr.events) {
        if (ev.type === 'DELETE') {
          deleted = true;
          break following;
        }
        if (signal?.aborted) return;
        yield { header: wr.header, kv: ev.kv };
      }
    }
    if (!deleted) return;
  }
}
