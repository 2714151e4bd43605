// What a simulator run takes and gives back: the options (with their defaults), the counts of what happened, and
// the result (ok or the violated invariant, the trace's tail, the digest that identifies the run: trace.ts). One
// section for the Raft-level simulation (simulation.ts), one for the whole-member simulation (kv-simulation.ts).

import type { KnownBug } from '../raft/config.ts';
import type { MemberProfile } from './profiles.ts';

// The Raft-level simulation (simulation.ts).

export interface SimOptions {
  readonly seed: number;
  /** Voters at bootstrap (3 or 5). */
  readonly nodes: number;
  /** Length of the phase with faults, in virtual ms. */
  readonly durationMs: number;
  /** After healing, a leader must be elected and a proposal applied everywhere within this bound. */
  readonly livenessMs: number;
  readonly tickMs: number;
  /** Inject faults (crashes, partitions, message loss, membership changes, transfers). */
  readonly faults: boolean;
  /** TEST ONLY: run a Raft with the §5.4.2 bug, to prove the checker catches it. */
  readonly unsafeCommitAnyTerm?: boolean;
  /** TEST ONLY: run a Raft with a known bug compiled in. */
  readonly bug?: KnownBug;
  /** How many recent events a failure report shows. */
  readonly traceSize: number;
}

export const DEFAULT_SIM_OPTIONS: Omit<SimOptions, 'seed'> = {
  nodes: 3,
  durationMs: 6_000,
  livenessMs: 6_000,
  tickMs: 10,
  faults: true,
  traceSize: 60,
};

export interface SimStats {
  elections: number;
  crashes: number;
  /** Crashes that lost a write in flight (entirely or as a torn prefix). */
  crashesLostData: number;
  partitions: number;
  snapshotsCreated: number;
  snapshotsInstalled: number;
  snapshotChunks: number;
  membershipChanges: number;
  transfers: number;
  proposalsCommitted: number;
  messagesSent: number;
  messagesDropped: number;
  readIndexServed: number;
}

export interface SimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: { readonly invariant: string; readonly message: string };
  readonly stats: SimStats;
  /** The last events before the end (or the violation). */
  readonly trace: readonly string[];
  /** A digest of every event and message of the run (trace.ts): equal digests mean identical runs. */
  readonly digest: string;
  readonly virtualMs: number;
}

// The whole-member simulation with client workloads (kv-simulation.ts).

export interface KvSimOptions {
  readonly seed: number;
  readonly nodes: number;
  readonly durationMs: number;
  readonly livenessMs: number;
  readonly clients: number;
  readonly keys: number;
  readonly faults: boolean;
  readonly traceSize: number;
  /** Search budget of the linearizability checker; running out fails the seed. */
  readonly checkBudget: number;
  /** One runtime profile per member (./profiles.ts; overrides `nodes`). Absent: every member a Node voter. */
  readonly profiles?: readonly MemberProfile[];
  /** TEST ONLY: members run a Raft with a known bug compiled in. */
  readonly bug?: KnownBug;
}

export const DEFAULT_KV_SIM_OPTIONS: Omit<KvSimOptions, 'seed'> = {
  nodes: 3,
  durationMs: 5_000,
  livenessMs: 8_000,
  clients: 4,
  keys: 3,
  faults: true,
  traceSize: 60,
  checkBudget: 2_000_000,
};

export interface KvSimStats {
  opsOk: number;
  opsFailed: number;
  opsIndeterminate: number;
  readsOk: number;
  casSucceeded: number;
  watchEvents: number;
  watchersChecked: number;
  leaseKeepAlives: number;
  leasesExpired: number;
  crashes: number;
  partitions: number;
  elections: number;
  snapshotsInstalled: number;
  linearizabilitySteps: number;
  /** Times a member was frozen by its runtime (a background tab). */
  runtimePauses: number;
}

export interface KvSimResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: { readonly invariant: string; readonly message: string };
  readonly stats: KvSimStats;
  readonly trace: readonly string[];
  readonly digest: string;
}
