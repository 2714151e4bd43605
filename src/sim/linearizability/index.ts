// Porcupine-style linearizability checking for simulator histories.

export { checkOperations, DEFAULT_BUDGET } from './check.ts';
export {
  etcdKvModel,
  type Indeterminate,
  isIndeterminate,
  type KvInput,
  type KvOperation,
  type KvOutput,
  type KvState,
} from './kv-model.ts';
export { type RegisterInput, type RegisterOutput, registerModel } from './register-model.ts';
export type {
  CheckOptions,
  CheckReport,
  CheckResult,
  Model,
  Operation,
  PartitionReport,
  StepResult,
} from './types.ts';
