// Membership changes: their encoding in `confChange` entries, and how one change moves a configuration.
// Single-server changes only (Raft §4.1): at most one is pending at a time, so any two consecutive
// configurations share a majority and no joint consensus is needed.

import { decode, encode } from '@msgpack/msgpack';
import { compareIds } from './tracker.ts';
import type { ConfChange, ConfChangeType, ConfState } from './types.ts';

const CHANGE_TYPES: readonly ConfChangeType[] = ['addNode', 'addLearner', 'removeNode'];

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encode([CHANGE_TYPES.indexOf(cc.type), cc.nodeId, cc.context ?? new Uint8Array(0)], {
    useBigInt64: true,
  });
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  const decoded = decode(data, { useBigInt64: true });
  if (!Array.isArray(decoded) || decoded.length !== 3) throw new Error('raft: malformed conf change entry');
  const [type, nodeId, context] = decoded as [number, bigint | number, Uint8Array];
  const changeType = CHANGE_TYPES[type];
  if (changeType === undefined) throw new Error(`raft: unknown conf change type ${type}`);
  return { type: changeType, nodeId: BigInt(nodeId), context };
}

/** The configuration after applying `cc`. `addNode` promotes a learner; `addLearner` demotes a voter. */
export function applyChange(conf: ConfState, cc: ConfChange): ConfState {
  const voters = conf.voters.filter((id) => id !== cc.nodeId);
  const learners = conf.learners.filter((id) => id !== cc.nodeId);
  if (cc.type === 'addNode') voters.push(cc.nodeId);
  else if (cc.type === 'addLearner') learners.push(cc.nodeId);
  return { voters: voters.sort(compareIds), learners: learners.sort(compareIds) };
}
