// `edgecd/testing`: what edgecd is tested with, for testing what you build on it — the deterministic simulator
// (whole clusters on a virtual clock from one seed), the fault model, a file system whose power can be cut
// (CrashableFs, under the file WAL's WalFs), and a Porcupine-style linearizability checker.

export { FAULT_FREE, FaultModel, type FaultRates } from '../../src/sim/fault-model.ts';
export {
  DEFAULT_KV_SIM_OPTIONS,
  type KvSimOptions,
  type KvSimResult,
  type KvSimStats,
  runKvSimulation,
} from '../../src/sim/kv-simulation.ts';
export * from '../../src/sim/linearizability/index.ts';
export { type MemberProfile, mixedGroup, type RuntimeKind } from '../../src/sim/profiles.ts';
export { Rng } from '../../src/sim/rng.ts';
export { formatSummary, type RunOptions, runSeed, runSeeds, type SeedResult } from '../../src/sim/runner.ts';
export { SafetyViolation } from '../../src/sim/safety.ts';
export {
  DEFAULT_SIM_OPTIONS,
  runSimulation,
  type SimOptions,
  type SimResult,
  type SimStats,
} from '../../src/sim/simulation.ts';
export { CrashableFs, type PowerCutOptions } from '../storage/file-wal/crashable-fs.ts';
