// Request decoding as etcd 3.4 does it, byte for byte: etcd's messages are gogo/protobuf generated code
// (`(*PutRequest).Unmarshal` in rpc.pb.go), grpc.health.v1 is golang/protobuf's table-driven decoder. Both refuse a
// known field sent with the wrong wire type (gogo) or skip it (golang), refuse tag 0 and wire types 4, 6, 7,
// truncated varints and lengths past the end, and skip unknown fields of every valid wire type (groups included).
// protobufjs, which @grpc/proto-loader uses, reads such bytes as something else, so requests are decoded here,
// in one pass driven by the loaded message descriptors, into the object shape proto-loader produces (proto field
// names, int64 as decimal strings, enums as numbers, bytes as Buffer views, fields present only when sent).
//
// gogo quirks kept on purpose so that the same bytes get the same answer: a field number is `int32(tag >> 3)`
// (2^29..2^31-1 are unknown fields and skipped; 2^31 is "illegal tag -2147483648"; 2^32+1 is field 1); a packed
// run is read up to the buffer's end, not its own; a oneof member replaces the others; a bool is any nonzero varint.
// One deliberate difference: etcd 3.4.23 panics on a length whose end overflows int64 (its generated code lacks
// the check later gogo versions add); here that is "proto: negative length found during unmarshaling", as etcd 3.5.

import { fail, hi, lo, runEnd, scalar, skip, skipGolang, value, varint } from './proto-reader.ts';
import type { MessageSchema } from './proto-schema.ts';

/**
 * Messages nested deeper than this are refused. etcd's decoder has no limit, but its Txn check allows at most
 * max-txn-ops (128) levels of nested Txn (two messages each: TxnRequest, RequestOp), refused after decoding with
 * "too many operations in txn request"; this bound leaves that answer to the same check here while a 2 MiB request
 * of nested messages cannot overflow the JavaScript stack (here or in the recursive steps after decoding).
 */
export const MAX_DEPTH = 1000;

const utf8 = new TextDecoder();

type Decoded = Record<string, unknown>;

function decodeInto(
  schema: MessageSchema,
  buf: Uint8Array,
  start: number,
  end: number,
  out: Decoded,
  depth: number,
): Decoded {
  if (depth > MAX_DEPTH) fail(`proto: ${schema.goName}: nested deeper than ${MAX_DEPTH} messages`);
  const gogo = schema.flavor === 'gogo';
  let p = start;
  while (p < end) {
    p = varint(buf, p, end);
    const wt = lo & 7;
    // gogo: fieldNum := int32(wire >> 3).
    const num = (lo >>> 3) | (hi << 29) | 0;
    if (gogo) {
      if (wt === 4) fail(`proto: ${schema.goName}: wiretype end group for non-group`);
      if (num <= 0) {
        const wire = hi === 0 ? String(lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
        fail(`proto: ${schema.goName}: illegal tag ${num} (wire type ${wire})`);
      }
    } else if (hi === 0 && lo >>> 3 === 0) {
      fail(`proto: ${schema.goName}: illegal tag 0 (wire type ${wt})`);
    }
    const field = schema.fields.get(num);
    if (field === undefined || (!gogo && (hi !== 0 || field.wireType !== wt))) {
      p = gogo ? skip(buf, p, end, wt) : skipGolang(buf, p, end, wt);
      continue;
    }
    if (field.wireType !== wt) {
      // Repeated scalars may come packed (wire type 2) or one by one.
      if (field.repeated && wt === 2 && field.wireType !== 2) {
        p = varint(buf, p, end);
        const runStop = runEnd(p, end);
        let list = out[field.name] as unknown[] | undefined;
        if (!list) out[field.name] = list = [];
        // gogo reads the run's elements with the buffer's end as the bound, not the run's.
        while (p < runStop) {
          p = scalar(field.kind, buf, p, end);
          list.push(value);
        }
        continue;
      }
      fail(`proto: wrong wireType = ${wt} for field ${field.goName}`);
    }

    let v: unknown;
    if (wt === 2) {
      p = varint(buf, p, end);
      const stop = runEnd(p, end);
      if (field.kind === 'bytes') {
        v = buf.subarray(p, stop);
      } else if (field.kind === 'string') {
        v = utf8.decode(buf.subarray(p, stop));
      } else {
        const message = field.message as MessageSchema;
        // A set message field merges a repeat of itself (gogo); a oneof member starts afresh.
        const existing =
          !field.repeated && field.oneofSiblings.length === 0
            ? (out[field.name] as Decoded | undefined)
            : undefined;
        v = decodeInto(message, buf, p, stop, existing ?? {}, depth + 1);
      }
      p = stop;
    } else {
      p = scalar(field.kind, buf, p, end);
      v = value;
    }
    if (field.repeated) {
      const list = out[field.name] as unknown[] | undefined;
      if (list) list.push(v);
      else out[field.name] = [v];
    } else {
      for (const sibling of field.oneofSiblings) delete out[sibling];
      out[field.name] = v;
    }
  }
  return out;
}

/** Decodes one message of `schema`; throws ProtoDecodeError with gogo's text for what etcd refuses. */
export function decodeMessage(schema: MessageSchema, buf: Uint8Array): Decoded {
  return decodeInto(schema, buf, 0, buf.length, {}, 0);
}
