// `edgecd/memory`: members in one process — in-memory storage, an in-process network (which can inject faults
// through a FaultModel; `new FaultModel(cryptoRandom)` injects none) and a real clock. Portable.

export { FAULT_FREE, FaultModel, type FaultRates } from '../../src/sim/fault-model.ts';
export { RealClock } from '../runtime/clock.ts';
export { MemoryStorage, MemoryStorageBackend } from '../storage/memory/index.ts';
export {
  DEFAULT_MAX_IN_FLIGHT_PER_LINK,
  MemoryNetwork,
  type MemoryNetworkOptions,
} from '../transport/memory/index.ts';
