// Protobuf wire sizes of etcdserverpb.WatchResponse and the mvccpb messages it carries, computed without
// encoding. The fragment limit and the size of catch-up batches are measured in wire bytes, as etcd measures
// them with gogoproto's Size(). Every field number here is < 16, so every tag is one byte.

import type { Event, KeyValue, ResponseHeader } from '../etcd/kv.ts';
import type { WatchResponse } from '../etcd/types.ts';

/** Bytes of a varint; a negative int64 takes 10 (two's complement, sign-extended). */
export function varintSize(n: number): number {
  if (n < 0) return 10;
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function bigVarintSize(n: bigint): number {
  if (n < 0n) return 10;
  let size = 1;
  while (n >= 128n) {
    n >>= 7n;
    size++;
  }
  return size;
}

/** A scalar int field: omitted when zero (proto3). */
function intField(n: number): number {
  return n === 0 ? 0 : 1 + varintSize(n);
}

function bigIntField(n: bigint): number {
  return n === 0n ? 0 : 1 + bigVarintSize(n);
}

function bytesField(length: number): number {
  return length === 0 ? 0 : 1 + varintSize(length) + length;
}

/** A set message field: present even when its body is empty. */
function messageField(bodySize: number): number {
  return 1 + varintSize(bodySize) + bodySize;
}

export function keyValueSize(kv: KeyValue): number {
  return (
    bytesField(kv.key.length) +
    intField(kv.createRevision) +
    intField(kv.modRevision) +
    intField(kv.version) +
    bytesField(kv.value.length) +
    bigIntField(kv.lease)
  );
}

export function eventSize(ev: Event): number {
  return (
    (ev.type === 'DELETE' ? 2 : 0) +
    messageField(keyValueSize(ev.kv)) +
    (ev.prevKv === undefined ? 0 : messageField(keyValueSize(ev.prevKv)))
  );
}

/** What one event adds to a WatchResponse (field 11, repeated). */
export function eventFieldSize(ev: Event): number {
  return messageField(eventSize(ev));
}

export function headerSize(h: ResponseHeader): number {
  return bigIntField(h.clusterId) + bigIntField(h.memberId) + intField(h.revision) + intField(h.raftTerm);
}

/** A WatchResponse without its events. */
export function watchResponseBaseSize(resp: Omit<WatchResponse, 'events'>): number {
  const utf8 = resp.cancelReason === undefined ? 0 : new TextEncoder().encode(resp.cancelReason).length;
  return (
    messageField(headerSize(resp.header)) +
    intField(resp.watchId) +
    (resp.created ? 2 : 0) +
    (resp.canceled ? 2 : 0) +
    intField(resp.compactRevision ?? 0) +
    bytesField(utf8) +
    (resp.fragment ? 2 : 0)
  );
}

/** The encoded size of a WatchResponse. */
export function watchResponseSize(resp: WatchResponse): number {
  let size = watchResponseBaseSize(resp);
  for (const ev of resp.events) size += eventFieldSize(ev);
  return size;
}
