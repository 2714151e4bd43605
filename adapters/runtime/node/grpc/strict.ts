// What grpc-go refuses before etcd's handlers see a request, refused the same way: a message frame whose
// compressed flag is set without a grpc-encoding (grpc-js would read it as uncompressed), and a message that does
// not decode as etcd's gogo/protobuf code decodes it (decode.ts). Such a request reaches no handler: the call ends
// with grpc-status 13 and grpc-go's text, and nothing is proposed.

import type {
  MethodDefinition,
  ServerUnaryCall,
  ServerWritableStream,
  ServiceDefinition,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { GrpcStatus } from './calls.ts';
import { decodeMessage } from './decode.ts';
import { loadPackage } from './proto.ts';
import { ProtoDecodeError } from './proto-reader.ts';
import { type MessageSchema, messageSchemas } from './proto-schema.ts';

/** A request grpc-go would not have handed to etcd: the deserializer's answer instead of a message. */
export class MalformedRequest {
  readonly status: GrpcStatus;
  constructor(status: GrpcStatus) {
    this.status = status;
  }
}

let schemas: Map<string, MessageSchema> | undefined;

/** The schema of every request message etcd's services take, by full name. */
export function requestSchemas(): Map<string, MessageSchema> {
  schemas ??= messageSchemas(loadPackage());
  return schemas;
}

/**
 * The gRPC frame's first byte (the compressed flag) for a message grpc-js decoded without decompressing: grpc-js
 * hands the deserializer `frame.subarray(5)`, so the 5-byte prefix sits right before it in the same memory
 * (@grpc/grpc-js 1.14: server-interceptors.js decompressMessage). Undefined when the 4 bytes before are not this
 * message's length, i.e. the buffer is not such a view (a gzip-decoded message): then there is no flag to check.
 */
export function frameFlag(buf: Uint8Array): number | undefined {
  if (buf.byteOffset < 5) return undefined;
  const prefix = new Uint8Array(buf.buffer, buf.byteOffset - 5, 5);
  const length =
    (prefix[1] as number) * 0x100_0000 +
    (((prefix[2] as number) << 16) | ((prefix[3] as number) << 8) | (prefix[4] as number));
  return length === buf.length ? prefix[0] : undefined;
}

/** grpc-go's checkRecvPayload with no grpc-encoding: 0 is the only format it accepts. */
function payloadError(flag: number | undefined): string | undefined {
  if (flag === undefined || flag === 0) return undefined;
  if (flag === 1) return 'grpc: compressed flag set with identity or empty encoding';
  return `grpc: received unexpected payload format ${flag}`;
}

/**
 * The service's methods with etcd's request decoding: a malformed request becomes a MalformedRequest carrying the
 * status grpc-go answers (unary: "grpc: error unmarshalling request: …"; streams: "grpc: failed to unmarshal the
 * received message …").
 */
export function strictRequests(serviceName: string, definition: ServiceDefinition): ServiceDefinition {
  const pkgName = serviceName.slice(0, serviceName.lastIndexOf('.'));
  const all = requestSchemas();
  const out: Record<string, MethodDefinition<object, unknown>> = {};
  for (const [method, def] of Object.entries(definition) as [string, MethodDefinition<object, unknown>][]) {
    // proto-loader's method definitions also carry the request type's descriptor (grpc-js's type omits it).
    const descriptor = (def as { requestType?: { type?: { name?: string } } }).requestType?.type;
    const typeName = `${pkgName}.${descriptor?.name}`;
    const schema = all.get(typeName);
    if (!schema) throw new Error(`edgecd: no request schema ${typeName} for ${serviceName}/${method}`);
    const prefix =
      def.requestStream || def.responseStream
        ? 'grpc: failed to unmarshal the received message '
        : 'grpc: error unmarshalling request: ';
    out[method] = {
      ...def,
      requestDeserialize: (buf: Buffer) => {
        const payload = payloadError(frameFlag(buf));
        if (payload) return new MalformedRequest({ code: status.INTERNAL, details: payload });
        try {
          return decodeMessage(schema, buf);
        } catch (err) {
          if (!(err instanceof ProtoDecodeError)) throw err;
          return new MalformedRequest({ code: status.INTERNAL, details: prefix + err.message });
        }
      },
    };
  }
  return out;
}

type UnaryHandler = (call: ServerUnaryCall<unknown, unknown>, callback: (err: GrpcStatus) => void) => void;
type StreamHandler = (call: ServerWritableStream<unknown, unknown>) => void;

/**
 * Handlers that never see a MalformedRequest: unary and server-streaming calls end with its status before the
 * handler runs. (Bidirectional streams get theirs per message: calls.ts `bidi`.)
 */
export function refuseMalformed(
  definition: ServiceDefinition,
  implementation: UntypedServiceImplementation,
): UntypedServiceImplementation {
  const out: UntypedServiceImplementation = { ...implementation };
  for (const [method, handler] of Object.entries(implementation)) {
    const def = definition[method];
    if (!def || def.requestStream) continue;
    if (def.responseStream) {
      const h = handler as unknown as StreamHandler;
      out[method] = ((call: ServerWritableStream<unknown, unknown>) => {
        if (call.request instanceof MalformedRequest) call.emit('error', call.request.status);
        else h(call);
      }) as unknown as UntypedServiceImplementation[string];
    } else {
      const h = handler as unknown as UnaryHandler;
      out[method] = ((call: ServerUnaryCall<unknown, unknown>, callback: (err: GrpcStatus) => void) => {
        if (call.request instanceof MalformedRequest) callback(call.request.status);
        else h(call, callback);
      }) as unknown as UntypedServiceImplementation[string];
    }
  }
  return out;
}
