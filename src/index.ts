// edgecd's portable core: import this from any runtime.

export * from './auth/index.ts';
export * from './client/index.ts';
export * from './env.ts';
export * from './etcd/errors.ts';
export * from './etcd/limits.ts';
export type * from './etcd/types.ts';
export * from './raft/index.ts';
export type { LeaseInspection, NodeInspection } from './server/inspect.ts';
export { inspectNode } from './server/inspect.ts';
export type {
  AuthNodeOptions,
  EdgeNode,
  KeepAliveStream,
  NodeOptions,
  NodeStatus,
  RequestOptions,
  WatchStream,
} from './server/node.ts';
export { createNode, ETCD_VERSION } from './server/node.ts';
export type * from './storage.ts';
export type * from './transport.ts';
