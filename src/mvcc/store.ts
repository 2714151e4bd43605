// The MVCC keyspace: etcd's KV service semantics (v3.4) over an in-memory, synchronous, deterministic store.
// Every Raft member applies the same requests in the same order and ends with byte-identical state, so nothing
// here reads a clock or a random source. Errors are thrown as EtcdError with etcd's exact texts; a request that
// fails changes nothing.

import { errors } from '../etcd/errors.ts';
import type {
  CompactionResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  Event,
  HashKVResponse,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  TxnRequest,
  TxnResponse,
} from '../etcd/kv.ts';
import type { ByteReader } from './byte-reader.ts';
import { hashKV } from './hash.ts';
import { keyRange, mapKeyRange, mapRangeContains } from './key-range.ts';
import { KvState } from './kv-state.ts';
import { applyRange } from './range.ts';
import { type RangeChunk, type RangeChunkQuery, rangeChunk } from './range-chunk.ts';
import { toKeyValue } from './record.ts';
import { header } from './response.ts';
import { captureSnapshot, decodeSnapshot, encodeSnapshot } from './snapshot.ts';
import { SNAPSHOT_HEADER_BYTES } from './snapshot-binary.ts';
import { applyDeleteRange, applyPut, applyTxnOps, checkPutOp, checkTxnOps, compareToPath } from './txn.ts';
import {
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
  DEFAULT_MAX_TXN_OPS,
} from './validate.ts';
import type { ValueStore, ValueStoreOptions } from './value-store.ts';
import { WriteTxn } from './write-txn.ts';

/** A write's answer plus the events it caused, in order (all share the write's revision), for the watch layer. */
export interface WriteResult<R> {
  readonly response: R;
  readonly events: readonly Event[];
}

export interface MvccStoreOptions {
  /** etcd --max-txn-ops (128). */
  readonly maxTxnOps?: number;
  /**
   * When given, a put (alone or in a txn) naming a lease for which this returns false fails with
   * "etcdserver: requested lease not found", as etcd's apply does. Must itself be deterministic.
   */
  readonly leaseExists?: (lease: bigint) => boolean;
  /** Where values are kept: in memory unless a spill is given (./value-store.ts). */
  readonly values?: ValueStoreOptions;
}

/** Which events to list for a watcher catching up (etcd's watchable store reads them from its backend). */
export interface EventsQuery {
  readonly key: Uint8Array;
  /** etcd range_end rules: empty = the single key, `\0` = every key ≥ key, else [key, rangeEnd). */
  readonly rangeEnd?: Uint8Array;
  /** First revision to include; below the compacted revision fails as compacted. */
  readonly fromRevision: number;
  /** Last revision to include; defaults to (and is capped at) the current revision. */
  readonly toRevision?: number;
  /** Attach each key's previous KeyValue (as of revision − 1), when still readable. */
  readonly prevKv?: boolean;
}

export class MvccStore {
  readonly maxTxnOps: number;
  private readonly leaseExists: ((lease: bigint) => boolean) | undefined;
  private state: KvState;

  constructor(options: MvccStoreOptions = {}, state?: KvState) {
    this.maxTxnOps = options.maxTxnOps ?? DEFAULT_MAX_TXN_OPS;
    this.leaseExists = options.leaseExists;
    this.state = state ?? new KvState(options.values);
  }

  /**
   * Rebuilds a store from `snapshot()` bytes, in memory or read piece by piece. Without a spill the store keeps
   * the values of bytes in memory as views of them (no second copy of the keyspace): they must never change.
   */
  static restore(snapshot: Uint8Array | ByteReader, options: MvccStoreOptions = {}): MvccStore {
    return new MvccStore(options, decodeSnapshot(snapshot, options.values));
  }

  /** The current revision: 1 for a fresh store, +1 per write that changed something. */
  get revision(): number {
    return this.state.currentRev;
  }

  /** The last compaction's revision; -1 if the store was never compacted (etcd's compactMainRev). */
  get compactRevision(): number {
    return this.state.compactRev;
  }

  /** Keys the index holds (live, or deleted with history not yet compacted) and records kept. */
  get stats(): { readonly keys: number; readonly records: number } {
    return { keys: this.state.index.size, records: this.state.history.size };
  }

  /** Where the values are: bytes in memory that a spill may take, and in the spill (./value-store.ts). */
  get valueStats(): ReturnType<ValueStore['stats']> {
    return this.state.values.stats();
  }

  range(req: RangeRequest): RangeResponse {
    checkRangeRequest(req);
    return applyRange(this.state.readView(), req);
  }

  /**
   * One chunk of a streamed range (KV.RangeStream): at most `limit` keys and `budget` cost from `key` on, at
   * `revision`, building nothing beyond the chunk (./range-chunk.ts).
   */
  rangeChunk(query: RangeChunkQuery): RangeChunk {
    return rangeChunk(this.state, query);
  }

  put(req: PutRequest): WriteResult<PutResponse> {
    checkPutRequest(req);
    checkPutOp(this.state.readView(), req, { leaseExists: this.leaseExists });
    const txn = new WriteTxn(this.state);
    const response = applyPut(txn, req);
    return { response, events: txn.end() };
  }

  /** Deleting nothing leaves the revision where it is. */
  deleteRange(req: DeleteRangeRequest): WriteResult<DeleteRangeResponse> {
    checkDeleteRequest(req);
    const txn = new WriteTxn(this.state);
    const response = applyDeleteRange(txn, req);
    return { response, events: txn.end() };
  }

  /**
   * Deletes the given keys in one revision, without a txn's operation limit: how a lease revocation removes
   * every attached key at once (etcd's lessor does it in one txn of its own).
   */
  deleteKeys(keys: readonly Uint8Array[]): WriteResult<{ readonly deleted: number }> {
    const txn = new WriteTxn(this.state);
    let deleted = 0;
    for (const key of keys) deleted += txn.deleteRange(keyRange(key, undefined)).deleted;
    return { response: { deleted }, events: txn.end() };
  }

  /** One revision for all of a txn's writes; none for a txn that wrote nothing. */
  txn(req: TxnRequest): WriteResult<TxnResponse> {
    checkTxnRequest(req, this.maxTxnOps);
    const view = this.state.readView();
    const path = compareToPath(view, req);
    checkTxnOps(view, req, path, { leaseExists: this.leaseExists });
    const txn = new WriteTxn(this.state);
    const nested = applyTxnOps(txn, req, path);
    const events = txn.end();
    return { response: { ...nested, header: header(txn.rev) }, events };
  }

  /**
   * Forgets every revision ≤ rev except, per key, the newest one ≤ rev (unless that is a delete). Reads at rev
   * itself still work. Does not move the revision.
   */
  compact(rev: number): CompactionResponse {
    if (!Number.isSafeInteger(rev))
      throw new RangeError(`mvcc: compact revision ${rev} is not a safe integer`);
    const state = this.state;
    if (rev <= state.compactRev) throw errors.compacted();
    if (rev > state.currentRev) throw errors.futureRev();
    state.compactRev = rev;
    const keep = state.index.compact(rev);
    state.history.compact(rev, keep, (r) => state.values.release(r));
    state.values.relocate(state.history.entries());
    return { header: header(state.currentRev) };
  }

  /** etcd HashKV: a CRC-32C of the keyspace as of `rev` (0 = current). */
  hashKV(rev = 0): HashKVResponse {
    const result = hashKV(this.state, revisionArg(rev));
    return { header: header(result.revision), hash: result.hash, compactRevision: result.compactRevision };
  }

  /** The events in [fromRevision, toRevision] on keys in the range, in revision order (watch catch-up). */
  eventsSince(query: EventsQuery): Event[] {
    const state = this.state;
    const from = Math.max(1, revisionArg(query.fromRevision));
    if (from < state.compactRev) throw errors.compacted();
    const to = Math.min(query.toRevision ?? state.currentRev, state.currentRev);
    const range = mapKeyRange(keyRange(query.key, query.rangeEnd));
    const events: Event[] = [];
    for (const kv of state.history.between(from, to)) {
      if (!mapRangeContains(range, kv.mapKey)) continue;
      const type = kv.tombstone ? 'DELETE' : 'PUT';
      const prevKv = query.prevKv ? this.prevKvOf(kv.mapKey, kv.main) : undefined;
      events.push(prevKv === undefined ? { type, kv: toKeyValue(kv) } : { type, kv: toKeyValue(kv), prevKv });
    }
    return events;
  }

  /** The live keys attached to a lease, in key order (what revoking the lease must delete). */
  keysForLease(lease: bigint): Uint8Array[] {
    return this.state.leaseKeys.keys(lease);
  }

  /** Every lease with at least one key attached, ascending. */
  leases(): bigint[] {
    return this.state.leaseKeys.leases();
  }

  /** `snapshot().length`, kept up to date incrementally (Status' dbSize; the space quota applies to it). */
  get sizeBytes(): number {
    return SNAPSHOT_HEADER_BYTES + this.state.history.bytes;
  }

  /** snapshot(), captured now and written later in steps (while the store takes writes): see captureSnapshot. */
  captureSnapshot(): ReturnType<typeof captureSnapshot> {
    return captureSnapshot(this.state);
  }

  /** The whole keyspace (history included) as deterministic bytes; see MvccStore.restore. */
  snapshot(): Uint8Array {
    return encodeSnapshot(this.state);
  }

  private prevKvOf(mapKey: string, main: number): Event['prevKv'] {
    if (main - 1 < this.state.compactRev) return undefined;
    const prev = this.state.index.get(mapKey, main - 1);
    return prev === undefined ? undefined : toKeyValue(prev);
  }
}

function revisionArg(rev: number): number {
  if (!Number.isSafeInteger(rev)) throw new RangeError(`mvcc: revision ${rev} is not a safe integer`);
  return rev;
}
