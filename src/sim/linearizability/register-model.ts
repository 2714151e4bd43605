// A single read/write register: the smallest useful model, for tests and for single-value components.

import { type Indeterminate, isIndeterminate } from './kv-model.ts';
import type { Model } from './types.ts';

export type RegisterInput = { readonly op: 'read' } | { readonly op: 'write'; readonly value: string };

/** `{ value }` answers a read, `{ written: true }` a write; `{ unknown: true }` is indeterminate. */
export type RegisterOutput = { readonly value: string | null } | { readonly written: true } | Indeterminate;

export const registerModel: Model<string | null, RegisterInput, RegisterOutput> = {
  init: () => null,
  step(state, input, output) {
    if (input.op === 'write') return { ok: true, state: input.value };
    const ok = isIndeterminate(output) || ('value' in output && output.value === state);
    return { ok, state };
  },
  equal: (a, b) => a === b,
  hash: (s) => (s === null ? '' : `=${s}`),
  describeOperation(input, output) {
    const result = isIndeterminate(output) ? '?' : 'value' in output ? JSON.stringify(output.value) : 'ok';
    return input.op === 'read' ? `read -> ${result}` : `write(${JSON.stringify(input.value)}) -> ${result}`;
  },
  describeState: (s) => (s === null ? '(empty)' : JSON.stringify(s)),
};
