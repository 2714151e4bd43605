// etcd's KV operations as a sequential specification, checked key by key.
//
// Partitioning per key is sound for linearizability (it is a local property) and makes the search cheap, but
// it cannot check anything that spans keys: revisions, which are global in etcd, are accepted in outputs and
// ignored here. Revision order needs a separate, whole-history check.

import type { Model, Operation } from './types.ts';

export type KvInput =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  /** Compare-and-set by value; `expectedValue: null` means "the key is absent". */
  | {
      readonly op: 'cas';
      readonly key: string;
      readonly expectedValue: string | null;
      readonly newValue: string;
    };

/** The outcome of an operation whose effect is not known (timeout, leader change, crash). */
export interface Indeterminate {
  readonly unknown: true;
}

export type KvOutput =
  | Indeterminate
  | { readonly value: string | null; readonly revision?: number } // get
  | { readonly revision?: number } // put
  | { readonly deleted: number } // delete
  | { readonly succeeded: boolean }; // cas

/** One key's value; null when absent. */
export type KvState = string | null;

export type KvOperation = Operation<KvInput, KvOutput>;

export function isIndeterminate(output: object): output is Indeterminate {
  return 'unknown' in output && output.unknown === true;
}

export const etcdKvModel: Model<KvState, KvInput, KvOutput> = {
  init: () => null,

  step(state, input, output) {
    const unknown = isIndeterminate(output);
    switch (input.op) {
      case 'get':
        if (unknown) return { ok: true, state };
        return { ok: field(output, 'value', input) === state, state };
      case 'put':
        return { ok: true, state: input.value };
      case 'delete':
        if (unknown) return { ok: true, state: null };
        return { ok: field(output, 'deleted', input) === (state === null ? 0 : 1), state: null };
      case 'cas': {
        // An indeterminate CAS is still deterministic given the state it is applied to.
        const succeeds = state === input.expectedValue;
        const next = succeeds ? input.newValue : state;
        if (unknown) return { ok: true, state: next };
        return { ok: field(output, 'succeeded', input) === succeeds, state: next };
      }
    }
  },

  equal: (a, b) => a === b,
  hash: (s) => (s === null ? '' : `=${s}`),

  /** One partition per key, in order of first appearance. Indeterminate gets constrain nothing: dropped. */
  partition(history) {
    const byKey = new Map<string, KvOperation[]>();
    for (const op of history) {
      if (op.input.op === 'get' && isIndeterminate(op.output)) continue;
      let ops = byKey.get(op.input.key);
      if (!ops) byKey.set(op.input.key, (ops = []));
      ops.push(op);
    }
    return [...byKey.values()];
  },

  describePartition: (ops) => `key ${JSON.stringify(ops[0]?.input.key)}`,

  describeOperation(input, output) {
    const result = isIndeterminate(output) ? '?' : undefined;
    const q = (v: string | null): string => JSON.stringify(v);
    switch (input.op) {
      case 'get':
        return `get(${q(input.key)}) -> ${result ?? q(field(output, 'value', input))}`;
      case 'put':
        return `put(${q(input.key)}, ${q(input.value)}) -> ${result ?? 'ok'}`;
      case 'delete':
        return `delete(${q(input.key)}) -> ${result ?? `deleted ${field(output, 'deleted', input)}`}`;
      case 'cas':
        return `cas(${q(input.key)}, ${q(input.expectedValue)} => ${q(input.newValue)}) -> ${
          result ?? (field(output, 'succeeded', input) ? 'succeeded' : 'failed')
        }`;
    }
  },

  describeState: (s) => (s === null ? '(absent)' : JSON.stringify(s)),
};

interface Fields {
  value: string | null;
  deleted: number;
  succeeded: boolean;
}

/** Reads the field an operation's output must have; a missing one is a recording bug, not a violation. */
function field<K extends keyof Fields>(output: KvOutput, name: K, input: KvInput): Fields[K] {
  if (!(name in output)) {
    throw new TypeError(`${input.op} output ${JSON.stringify(output)} lacks "${name}"`);
  }
  return (output as unknown as Fields)[name];
}
