export { decodeConfChange, encodeConfChange } from './confchange.ts';
export type { KnownBug, RaftConfig, RaftOptions } from './config.ts';
export { raftConfig } from './config.ts';
export type { ProposalRejection, ProposalResult } from './raft.ts';
export type { BasicStatus, Bootstrap, LogView, Ready, Status } from './raw-node.ts';
export { RawNode } from './raw-node.ts';
export * from './types.ts';
