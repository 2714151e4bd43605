// Translation between etcd's protobuf messages as @grpc/proto-loader hands them over (snake_case proto field
// names, int64 as decimal strings, enums as numbers, bytes as Buffer, absent fields undefined) and edgecd's API
// types (camelCase, revisions as numbers, IDs as bigints, Uint8Array bytes). Outgoing messages leave zero values
// out, as proto3 does on the wire (etcdctl's `-w json` omits them either way).
//
// wire-values.ts holds the shared scalar conversions, wire-requests.ts the requests in, wire-responses.ts the
// responses out; the gRPC services use all three through this module (`import * as wire`).

export * from './wire-requests.ts';
export * from './wire-responses.ts';
export * from './wire-values.ts';
