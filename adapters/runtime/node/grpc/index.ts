// etcd's gRPC API for Node (see server.ts); client-server.ts puts it on a port shared with HTTP/1.1.

export { loadServices, PROTO_DIR } from './proto.ts';
export type { EdgeGrpcServer, GrpcServerKind, GrpcServerOptions } from './server.ts';
export { createGrpcServer, DEFAULT_MAX_REQUEST_BYTES, GRPC_OVERHEAD_BYTES } from './server.ts';
