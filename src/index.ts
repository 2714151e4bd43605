// edgecd's portable core: import this from any runtime.
export * from './env.ts';
export * from './raft/index.ts';
export type * from './storage.ts';
export type * from './transport.ts';
