// Which live keys are attached to which lease, so the lease layer can revoke a lease by deleting its keys
// (etcd's lessor keeps this as each lease's itemSet; here the keyspace owns it, so it survives snapshots).

import { mapKeyToBytes } from './bytes.ts';

export const NO_LEASE = 0n;

export class LeaseKeys {
  // The keys as the index holds them: one char per byte (bytesToMapKey).
  private readonly keysByLease = new Map<bigint, Set<string>>();

  attach(lease: bigint, mapKey: string): void {
    if (lease === NO_LEASE) return;
    let keys = this.keysByLease.get(lease);
    if (keys === undefined) this.keysByLease.set(lease, (keys = new Set()));
    keys.add(mapKey);
  }

  detach(lease: bigint, mapKey: string): void {
    if (lease === NO_LEASE) return;
    const keys = this.keysByLease.get(lease);
    if (keys === undefined) return;
    keys.delete(mapKey);
    if (keys.size === 0) this.keysByLease.delete(lease);
  }

  /** The live keys attached to `lease`, in key order. */
  keys(lease: bigint): Uint8Array[] {
    const keys = this.keysByLease.get(lease);
    // One char per byte, so the strings sort as their bytes do.
    return keys === undefined ? [] : [...keys].sort().map(mapKeyToBytes);
  }

  /** Every lease that has at least one key, in ascending order. */
  leases(): bigint[] {
    return [...this.keysByLease.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
}
