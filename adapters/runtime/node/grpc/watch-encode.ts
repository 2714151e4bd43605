// etcdserverpb.WatchResponse in protobuf wire format, by hand, for the Watch stream's fan-out: a put seen by a
// thousand watchers is a thousand responses that differ only in watch_id, so each event is encoded once (cached
// by its object, which the watch layer shares between watchers: src/watch/watchable-store.ts notify) and each
// header once per revision (the watch layer shares that object too). Fields in number order, proto3 zero values
// left out, as gogoproto and protobufjs write them; test/node/grpc-watch-encode.test.ts compares the bytes with
// proto-loader's.

import type { Event, KeyValue, ResponseHeader } from '../../../../src/etcd/kv.ts';
import type { WatchResponse } from '../../../../src/etcd/types.ts';
import { eventSize, headerSize, keyValueSize, varintSize } from '../../../../src/watch/size.ts';

/** Encoded `events` fields (tag 11, length, mvccpb.Event), by event object. */
const eventFields = new WeakMap<Event, Buffer>();
/** Encoded `header` fields (tag 1, length, ResponseHeader), by header object. */
const headerFields = new WeakMap<ResponseHeader, Buffer>();

/** Writes a varint for a safe non-negative integer; a negative one as its 64-bit two's complement (10 bytes). */
function writeVarint(buf: Buffer, pos: number, n: number): number {
  if (n < 0) return writeBigVarint(buf, pos, BigInt(n));
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
}

function writeBigVarint(buf: Buffer, pos: number, value: bigint): number {
  let v = BigInt.asUintN(64, value);
  while (v >= 0x80n) {
    buf[pos++] = Number(v & 0x7fn) | 0x80;
    v >>= 7n;
  }
  buf[pos++] = Number(v);
  return pos;
}

function intField(buf: Buffer, pos: number, field: number, n: number): number {
  if (n === 0) return pos;
  buf[pos++] = field << 3;
  return writeVarint(buf, pos, n);
}

function bigIntField(buf: Buffer, pos: number, field: number, n: bigint): number {
  if (n === 0n) return pos;
  buf[pos++] = field << 3;
  return writeBigVarint(buf, pos, n);
}

function bytesField(buf: Buffer, pos: number, field: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return pos;
  buf[pos++] = (field << 3) | 2;
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** A set message field: written even when its body is empty. */
function messageHead(buf: Buffer, pos: number, field: number, bodySize: number): number {
  buf[pos++] = (field << 3) | 2;
  return writeVarint(buf, pos, bodySize);
}

function writeKeyValue(buf: Buffer, pos: number, field: number, kv: KeyValue): number {
  pos = messageHead(buf, pos, field, keyValueSize(kv));
  pos = bytesField(buf, pos, 1, kv.key);
  pos = intField(buf, pos, 2, kv.createRevision);
  pos = intField(buf, pos, 3, kv.modRevision);
  pos = intField(buf, pos, 4, kv.version);
  pos = bytesField(buf, pos, 5, kv.value);
  return bigIntField(buf, pos, 6, kv.lease);
}

/** The `events` field (11) of one event: tag, length, mvccpb.Event {type, kv, prev_kv}. */
export function eventField(ev: Event): Buffer {
  let out = eventFields.get(ev);
  if (out !== undefined) return out;
  const body = eventSize(ev);
  out = Buffer.allocUnsafe(1 + varintSize(body) + body);
  let pos = messageHead(out, 0, 11, body);
  if (ev.type === 'DELETE') {
    out[pos++] = 1 << 3;
    out[pos++] = 1;
  }
  pos = writeKeyValue(out, pos, 2, ev.kv);
  if (ev.prevKv !== undefined) writeKeyValue(out, pos, 3, ev.prevKv);
  eventFields.set(ev, out);
  return out;
}

/** The `header` field (1): tag, length, etcdserverpb.ResponseHeader. */
export function headerField(h: ResponseHeader): Buffer {
  let out = headerFields.get(h);
  if (out !== undefined) return out;
  const body = headerSize(h);
  out = Buffer.allocUnsafe(1 + varintSize(body) + body);
  let pos = messageHead(out, 0, 1, body);
  pos = bigIntField(out, pos, 1, h.clusterId);
  pos = bigIntField(out, pos, 2, h.memberId);
  pos = intField(out, pos, 3, h.revision);
  intField(out, pos, 4, h.raftTerm);
  headerFields.set(h, out);
  return out;
}

/** One WatchResponse's bytes (without gRPC's 5-byte message prefix). */
export function encodeWatchResponse(r: WatchResponse): Buffer {
  const header = headerField(r.header);
  const reason = r.cancelReason ? Buffer.from(r.cancelReason, 'utf8') : undefined;
  const compact = r.compactRevision ?? 0;
  let size = header.length;
  if (r.watchId !== 0) size += 1 + varintSize(r.watchId);
  if (r.created) size += 2;
  if (r.canceled) size += 2;
  if (compact !== 0) size += 1 + varintSize(compact);
  if (reason) size += 1 + varintSize(reason.length) + reason.length;
  if (r.fragment) size += 2;
  const events = r.events;
  // A single event is the common case: its cached bytes are the whole tail.
  const fields = events.length === 1 ? undefined : events.map(eventField);
  const single = events.length === 1 ? eventField(events[0]) : undefined;
  if (single) size += single.length;
  else for (const f of fields as Buffer[]) size += f.length;

  const out = Buffer.allocUnsafe(size);
  out.set(header, 0);
  let pos = intField(out, header.length, 2, r.watchId);
  if (r.created) {
    out[pos++] = 3 << 3;
    out[pos++] = 1;
  }
  if (r.canceled) {
    out[pos++] = 4 << 3;
    out[pos++] = 1;
  }
  pos = intField(out, pos, 5, compact);
  if (reason) pos = bytesField(out, pos, 6, reason);
  if (r.fragment) {
    out[pos++] = 7 << 3;
    out[pos++] = 1;
  }
  if (single) out.set(single, pos);
  else
    for (const f of fields as Buffer[]) {
      out.set(f, pos);
      pos += f.length;
    }
  return out;
}
