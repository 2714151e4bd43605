// `edgecd/node`: a member on Node — the file WAL, TCP (and WebSocket) peers, the client server (etcd's gRPC
// services and the JSON gateway on one port), etcd's flags, and the whole member as the CLI runs it.

export { RealClock } from '../runtime/clock.ts';
export {
  type ClientServer,
  type ClientServerOptions,
  startClientServer,
} from '../runtime/node/client-server.ts';
export { type MemberConfig, parseMemberConfig } from '../runtime/node/config.ts';
export { flagsHelp } from '../runtime/node/flags.ts';
export {
  createGrpcServer,
  type EdgeGrpcServer,
  type GrpcServerKind,
  type GrpcServerOptions,
  loadServices,
  PROTO_DIR,
} from '../runtime/node/grpc/index.ts';
export { LOCAL_MEMBERS, runLocalCluster } from '../runtime/node/local-cluster.ts';
export { jsonLogger } from '../runtime/node/logger.ts';
export { type RunningMember, startMember } from '../runtime/node/member.ts';
export {
  parseRestoreArgs,
  type RestoreOptions,
  type RestoreResult,
  restoreSnapshot,
} from '../runtime/node/restore.ts';
export {
  type FileWalOptions,
  FileWalStorage,
  nodeFs,
  type OpenMode,
  type WalFile,
  type WalFs,
} from '../storage/file-wal/index.ts';
export {
  type PeerAddress,
  type PeerDialer,
  type PeerStream,
  parsePeerAddress,
  TcpTransport,
  type TcpTransportOptions,
  tlsDialer,
} from '../transport/tcp/index.ts';
export { WebSocketTransport } from '../transport/websocket/index.ts';
