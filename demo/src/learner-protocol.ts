// Messages between the page and the learner worker (this tab as a learner of a live cluster, ./join.ts).

export interface LearnerKey {
  readonly key: string;
  readonly value: string;
  readonly modRevision: number;
}

export interface LearnerState {
  readonly role: string;
  readonly term: number;
  /** Hex, as etcdctl prints member IDs. */
  readonly leader: string;
  readonly commit: number;
  readonly applied: number;
  readonly revision: number;
  readonly keys: readonly LearnerKey[];
  readonly keyCount: number;
  readonly members: readonly { readonly id: string; readonly name: string; readonly isLearner: boolean }[];
}

export type LearnerToWorker =
  | {
      kind: 'init';
      /** Decimal strings: member and cluster IDs exceed 2^53. */
      memberId: string;
      clusterId: string;
      name: string;
      dbName: string;
      peers: readonly { id: string; url: string }[];
      tickMs: number;
      electionTimeoutMs: number;
      /** With auth on: the token of the credentials the tab joined with, for its own reads. */
      token?: string;
    }
  | { kind: 'http'; reqId: number; path: string; body: string }
  | { kind: 'close' };

export type LearnerFromWorker =
  /** What IndexedDB held at start: the last log index, and the index of the snapshot it held (0: none). */
  | { kind: 'ready'; recovered: number; snapshot: number }
  | { kind: 'state'; state: LearnerState }
  | { kind: 'http'; reqId: number; status: number; text: string }
  | { kind: 'closed' }
  | { kind: 'error'; message: string };
