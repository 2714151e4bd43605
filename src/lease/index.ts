export { type HeapEntry, MinHeap } from './heap.ts';
export {
  DEFAULT_CHECKPOINT_INTERVAL_MS,
  DEFAULT_EXPIRED_RETRY_MS,
  DEFAULT_MIN_LEASE_TTL,
  LEASE_REVOKE_RATE,
  type Lease,
  type LeaseCheckpoint,
  type LeaseTimeToLive,
  Lessor,
  type LessorOptions,
  MAX_CHECKPOINT_BATCH,
  MAX_LEASE_TTL,
  minLeaseTtl,
  NO_LEASE,
  type RenewResult,
} from './lessor.ts';
