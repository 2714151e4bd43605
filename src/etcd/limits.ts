// etcd's request limits (embed/config.go, v3.4): what one request may carry before it is proposed.

/** --max-request-bytes default: a larger proposal is "etcdserver: request is too large". */
export const DEFAULT_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** --max-txn-ops default: more compares, or ops in a branch, is "etcdserver: too many operations in txn request". */
export const DEFAULT_MAX_TXN_OPS = 128;

/**
 * --max-concurrent-streams default (math.MaxUint32): streams one client connection may have open at once. grpc-go
 * reads 0 as this default too.
 */
export const DEFAULT_MAX_CONCURRENT_STREAMS = 2 ** 32 - 1;

export interface RequestLimits {
  /** etcd --max-request-bytes. */
  readonly maxRequestBytes: number;
  /** etcd --max-txn-ops. */
  readonly maxTxnOps: number;
}
