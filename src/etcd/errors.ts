// etcd's error table (etcdserver/api/v3rpc/rpctypes, v3.4.23): one place for every error text and gRPC code.
// Clients match on the exact message text, so the strings are byte-for-byte etcd's. Every API surface (gRPC,
// JSON gateway, in-page calls) maps from this table.

/** gRPC status codes (google.golang.org/grpc/codes). */
export const GrpcCode = {
  OK: 0,
  Canceled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

export type GrpcCodeName = keyof typeof GrpcCode;
export type GrpcCodeNumber = (typeof GrpcCode)[GrpcCodeName];

/** gRPC code → HTTP status, as grpc-gateway v1 (used by etcd 3.4's gateway) maps them. */
export const HTTP_STATUS_BY_GRPC_CODE: Readonly<Record<GrpcCodeNumber, number>> = {
  0: 200,
  1: 408,
  2: 500,
  3: 400,
  4: 504,
  5: 404,
  6: 409,
  7: 403,
  8: 429,
  9: 412,
  10: 409,
  11: 400,
  12: 501,
  13: 500,
  14: 503,
  15: 500,
  16: 401,
};

export function httpStatusFromGrpcCode(code: number): number {
  return HTTP_STATUS_BY_GRPC_CODE[code as GrpcCodeNumber] ?? 500;
}

interface ErrorSpec {
  readonly code: GrpcCodeName;
  readonly message: string;
}

/** Every etcd error, named as in rpctypes (without the `ErrGRPC` infix). */
export const ETCD_ERRORS = {
  // KV requests.
  ErrEmptyKey: { code: 'InvalidArgument', message: 'etcdserver: key is not provided' },
  ErrKeyNotFound: { code: 'InvalidArgument', message: 'etcdserver: key not found' },
  ErrValueProvided: { code: 'InvalidArgument', message: 'etcdserver: value is provided' },
  ErrLeaseProvided: { code: 'InvalidArgument', message: 'etcdserver: lease is provided' },
  ErrTooManyOps: { code: 'InvalidArgument', message: 'etcdserver: too many operations in txn request' },
  ErrDuplicateKey: { code: 'InvalidArgument', message: 'etcdserver: duplicate key given in txn request' },
  ErrCompacted: { code: 'OutOfRange', message: 'etcdserver: mvcc: required revision has been compacted' },
  ErrFutureRev: { code: 'OutOfRange', message: 'etcdserver: mvcc: required revision is a future revision' },
  ErrNoSpace: { code: 'ResourceExhausted', message: 'etcdserver: mvcc: database space exceeded' },
  // KV.RangeStream (etcd v3.7): v3rpc/key.go checkRangeStreamRequest's status errors, not rpctypes values.
  ErrRangeStreamSortOrder: {
    code: 'Unimplemented',
    message: 'RangeStream does not support custom sort orders',
  },
  ErrRangeStreamRevisionFilters: {
    code: 'Unimplemented',
    message: 'RangeStream does not support revision filters',
  },

  // Leases and watches.
  ErrLeaseNotFound: { code: 'NotFound', message: 'etcdserver: requested lease not found' },
  ErrLeaseExist: { code: 'FailedPrecondition', message: 'etcdserver: lease already exists' },
  ErrLeaseTTLTooLarge: { code: 'OutOfRange', message: 'etcdserver: too large lease TTL' },
  ErrWatchCanceled: { code: 'Canceled', message: 'etcdserver: watch canceled' },

  // Membership.
  ErrMemberExist: { code: 'FailedPrecondition', message: 'etcdserver: member ID already exist' },
  ErrPeerURLExist: { code: 'FailedPrecondition', message: 'etcdserver: Peer URLs already exists' },
  // rpctypes declares FailedPrecondition, but 3.4's v3rpc maps it to the client-side value, so the wire sees Unknown.
  ErrMemberNotEnoughStarted: {
    code: 'Unknown',
    message: 'etcdserver: re-configuration failed due to not enough started members',
  },
  ErrMemberBadURLs: { code: 'InvalidArgument', message: 'etcdserver: given member URLs are invalid' },
  ErrMemberNotFound: { code: 'NotFound', message: 'etcdserver: member not found' },
  ErrMemberNotLearner: {
    code: 'FailedPrecondition',
    message: 'etcdserver: can only promote a learner member',
  },
  ErrLearnerNotReady: {
    code: 'FailedPrecondition',
    message: 'etcdserver: can only promote a learner member which is in sync with leader',
  },
  // edgecd's own: browser tabs as learners (NodeOptions.browserLearners).
  ErrBrowserMembersOff: {
    code: 'FailedPrecondition',
    message: 'edgecd: browser learners are not enabled on this cluster (--experimental-browser-learners)',
  },
  ErrBrowserMemberNotLearner: {
    code: 'InvalidArgument',
    message: 'edgecd: a browser member can only be added as a learner',
  },
  ErrTooManyLearners: {
    code: 'FailedPrecondition',
    message: 'etcdserver: too many learner members in cluster',
  },

  // Request limits.
  ErrRequestTooLarge: { code: 'InvalidArgument', message: 'etcdserver: request is too large' },
  // Declared ResourceExhausted; reaches the wire as Unknown (same mapping quirk as ErrMemberNotEnoughStarted).
  ErrTooManyRequests: { code: 'Unknown', message: 'etcdserver: too many requests' },

  // Auth.
  ErrRootUserNotExist: { code: 'FailedPrecondition', message: 'etcdserver: root user does not exist' },
  ErrRootRoleNotExist: {
    code: 'FailedPrecondition',
    message: 'etcdserver: root user does not have root role',
  },
  ErrUserAlreadyExist: { code: 'FailedPrecondition', message: 'etcdserver: user name already exists' },
  ErrUserEmpty: { code: 'InvalidArgument', message: 'etcdserver: user name is empty' },
  ErrUserNotFound: { code: 'FailedPrecondition', message: 'etcdserver: user name not found' },
  ErrRoleAlreadyExist: { code: 'FailedPrecondition', message: 'etcdserver: role name already exists' },
  ErrRoleNotFound: { code: 'FailedPrecondition', message: 'etcdserver: role name not found' },
  ErrRoleEmpty: { code: 'InvalidArgument', message: 'etcdserver: role name is empty' },
  ErrAuthFailed: {
    code: 'InvalidArgument',
    message: 'etcdserver: authentication failed, invalid user ID or password',
  },
  ErrPermissionDenied: { code: 'PermissionDenied', message: 'etcdserver: permission denied' },
  ErrRoleNotGranted: { code: 'FailedPrecondition', message: 'etcdserver: role is not granted to the user' },
  ErrPermissionNotGranted: {
    code: 'FailedPrecondition',
    message: 'etcdserver: permission is not granted to the role',
  },
  ErrAuthNotEnabled: { code: 'FailedPrecondition', message: 'etcdserver: authentication is not enabled' },
  ErrInvalidAuthToken: { code: 'Unauthenticated', message: 'etcdserver: invalid auth token' },
  ErrInvalidAuthMgmt: { code: 'InvalidArgument', message: 'etcdserver: invalid auth management' },
  ErrAuthOldRevision: { code: 'InvalidArgument', message: 'etcdserver: revision of auth store is old' },

  // Server and cluster state.
  ErrNoLeader: { code: 'Unavailable', message: 'etcdserver: no leader' },
  ErrNotLeader: { code: 'FailedPrecondition', message: 'etcdserver: not leader' },
  ErrLeaderChanged: { code: 'Unavailable', message: 'etcdserver: leader changed' },
  ErrNotCapable: { code: 'Unavailable', message: 'etcdserver: not capable' },
  ErrStopped: { code: 'Unavailable', message: 'etcdserver: server stopped' },
  ErrTimeout: { code: 'Unavailable', message: 'etcdserver: request timed out' },
  ErrTimeoutLeaderTransfer: {
    code: 'Unavailable',
    message: 'etcdserver: request timed out, leader transfer took too long',
  },
  ErrTimeoutDueToLeaderFail: {
    code: 'Unavailable',
    message: 'etcdserver: request timed out, possibly due to previous leader failure',
  },
  ErrTimeoutDueToConnectionLost: {
    code: 'Unavailable',
    message: 'etcdserver: request timed out, possibly due to connection lost',
  },
  ErrTimeoutWaitAppliedIndex: {
    code: 'Unavailable',
    message: 'etcdserver: request timed out, waiting for the applied index took too long',
  },
  ErrUnhealthy: { code: 'Unavailable', message: 'etcdserver: unhealthy cluster' },
  ErrCorrupt: { code: 'DataLoss', message: 'etcdserver: corrupt cluster' },
  ErrNotSupportedForLearner: { code: 'Unavailable', message: 'etcdserver: rpc not supported for learner' },
  ErrBadLeaderTransferee: { code: 'FailedPrecondition', message: 'etcdserver: bad leader transferee' },

  // v3election (concurrency errors reach the wire as Unknown).
  ErrElectionNotLeader: { code: 'Unknown', message: 'election: not leader' },
  ErrElectionNoLeader: { code: 'Unknown', message: 'election: no leader' },
} as const satisfies Record<string, ErrorSpec>;

export type EtcdErrorName = keyof typeof ETCD_ERRORS;

/** The JSON gateway's error body: `error` and `message` carry the same text. */
export interface GatewayErrorBody {
  readonly error: string;
  readonly message: string;
  readonly code: number;
}

/** An error as etcd reports it: a gRPC status code and an exact message. */
export class EtcdError extends Error {
  override readonly name = 'EtcdError';
  /** gRPC status code number, e.g. 11 for OutOfRange. */
  readonly code: GrpcCodeNumber;
  readonly codeName: GrpcCodeName;
  /** The table entry this error came from; undefined for ad-hoc errors (e.g. `EtcdError.unknown`). */
  readonly errorName: EtcdErrorName | undefined;

  constructor(codeName: GrpcCodeName, message: string, errorName?: EtcdErrorName) {
    super(message);
    this.codeName = codeName;
    this.code = GrpcCode[codeName];
    this.errorName = errorName;
  }

  /** The error for one table entry: `EtcdError.of('ErrCompacted')`. */
  static of(name: EtcdErrorName): EtcdError {
    const spec: ErrorSpec = ETCD_ERRORS[name];
    return new EtcdError(spec.code, spec.message, name);
  }

  /** Any error not in the table: etcd sends it as Unknown with its text. */
  static unknown(message: string): EtcdError {
    return new EtcdError('Unknown', message);
  }

  /** True when `err` is an EtcdError (optionally: from the named table entry). */
  static is(err: unknown, name?: EtcdErrorName): err is EtcdError {
    return err instanceof EtcdError && (name === undefined || err.errorName === name);
  }

  /** The table entry whose exact text is `message`, if any (for clients decoding a wire error). */
  static fromMessage(message: string): EtcdError | undefined {
    const name = NAME_BY_MESSAGE.get(message);
    return name === undefined ? undefined : EtcdError.of(name);
  }

  get httpStatus(): number {
    return httpStatusFromGrpcCode(this.code);
  }

  toGatewayBody(): GatewayErrorBody {
    return { error: this.message, message: this.message, code: this.code };
  }
}

/** The gRPC transport's own limit error (gRPC code 8, HTTP 429 through the gateway). */
export function grpcMessageTooLarge(size: number, max: number): EtcdError {
  return new EtcdError('ResourceExhausted', `grpc: received message larger than max (${size} vs. ${max})`);
}

const NAME_BY_MESSAGE = new Map<string, EtcdErrorName>(
  (Object.keys(ETCD_ERRORS) as EtcdErrorName[]).map((name) => [ETCD_ERRORS[name].message, name]),
);

type HelperName<N extends string> = N extends `Err${infer Rest}` ? Uncapitalize<Rest> : never;

/** One constructor per table entry: `errors.compacted()`, `errors.futureRev()`, `errors.emptyKey()`, … */
export type EtcdErrorHelpers = { readonly [N in EtcdErrorName as HelperName<N>]: () => EtcdError };

export const errors: EtcdErrorHelpers = Object.fromEntries(
  (Object.keys(ETCD_ERRORS) as EtcdErrorName[]).map((name) => [
    name.charAt(3).toLowerCase() + name.slice(4),
    () => EtcdError.of(name),
  ]),
) as unknown as EtcdErrorHelpers;
