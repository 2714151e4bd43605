// The checker's vocabulary: a sequential specification (Model) and a recorded concurrent history (Operation).

/** One client operation as the simulator recorded it. Times are virtual milliseconds. */
export interface Operation<I, O> {
  readonly clientId: number;
  readonly input: I;
  /** When the client issued the request. Must be finite. */
  readonly call: number;
  /** What the client saw; for an indeterminate operation, the model's "unknown" output. */
  readonly output: O;
  /**
   * When the client got the answer, `>= call`. `Infinity` for an indeterminate operation (timeout, leader
   * change, crash): it may then linearize anywhere after its call, and linearizing it after everything else
   * is the same as it never having taken effect.
   */
  readonly return: number;
}

export interface StepResult<S> {
  /** Whether `output` is what the sequential specification allows for `input` in the given state. */
  readonly ok: boolean;
  readonly state: S;
}

/**
 * A sequential specification. `step` must be pure: states are kept for backtracking and caching, so it must
 * return a new state rather than mutate the one it was given.
 */
export interface Model<S, I, O> {
  init(): S;
  step(state: S, input: I, output: O): StepResult<S>;
  equal(a: S, b: S): boolean;
  /** Optional bucketing key for the search cache: equal states must have equal hashes. */
  hash?(state: S): string;
  /** Split the history into independent sub-histories (e.g. one per key), checked separately. */
  partition?(history: readonly Operation<I, O>[]): Operation<I, O>[][];
  describePartition?(operations: readonly Operation<I, O>[]): string;
  describeOperation?(input: I, output: O): string;
  describeState?(state: S): string;
}

/**
 * 'unknown' means the search budget ran out before an answer: callers must treat it as a failure (raise the
 * budget or shrink the history), never as a pass.
 */
export type CheckResult = 'ok' | 'illegal' | 'unknown';

export interface CheckOptions {
  /** Upper bound on search steps, summed over all partitions. Steps, not time, so results are reproducible. */
  readonly budget?: number;
}

export interface PartitionReport<I, O> {
  /** From `describePartition`, or "partition N". */
  readonly label: string;
  /** 'unknown' also when the budget was spent before this partition was reached. */
  readonly result: CheckResult;
  readonly steps: number;
  readonly operations: readonly Operation<I, O>[];
  /** The longest linearizable prefix found, in linearization order (the full linearization when 'ok'). */
  readonly longestPrefix: readonly Operation<I, O>[];
}

export interface CheckReport<I, O> {
  readonly result: CheckResult;
  readonly steps: number;
  readonly partitions: readonly PartitionReport<I, O>[];
  /** Human-readable account of an 'illegal' or 'unknown' result. */
  readonly explanation?: string;
}
