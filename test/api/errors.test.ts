import { describe, expect, it } from 'vitest';
import {
  ETCD_ERRORS,
  EtcdError,
  errors,
  GrpcCode,
  grpcMessageTooLarge,
  HTTP_STATUS_BY_GRPC_CODE,
  httpStatusFromGrpcCode,
} from '../../src/etcd/errors.ts';

describe('etcd error table', () => {
  it('carries etcd texts and gRPC codes exactly', () => {
    const cases: [EtcdError, number, string][] = [
      [errors.emptyKey(), 3, 'etcdserver: key is not provided'],
      [errors.keyNotFound(), 3, 'etcdserver: key not found'],
      [errors.valueProvided(), 3, 'etcdserver: value is provided'],
      [errors.leaseProvided(), 3, 'etcdserver: lease is provided'],
      [errors.compacted(), 11, 'etcdserver: mvcc: required revision has been compacted'],
      [errors.futureRev(), 11, 'etcdserver: mvcc: required revision is a future revision'],
      [errors.duplicateKey(), 3, 'etcdserver: duplicate key given in txn request'],
      [errors.tooManyOps(), 3, 'etcdserver: too many operations in txn request'],
      [errors.requestTooLarge(), 3, 'etcdserver: request is too large'],
      [errors.tooManyRequests(), 2, 'etcdserver: too many requests'],
      [errors.noLeader(), 14, 'etcdserver: no leader'],
      [errors.timeout(), 14, 'etcdserver: request timed out'],
      [errors.leaseNotFound(), 5, 'etcdserver: requested lease not found'],
      [errors.leaseExist(), 9, 'etcdserver: lease already exists'],
      [errors.leaseTTLTooLarge(), 11, 'etcdserver: too large lease TTL'],
      [errors.noSpace(), 8, 'etcdserver: mvcc: database space exceeded'],
      [errors.permissionDenied(), 7, 'etcdserver: permission denied'],
      [errors.invalidAuthToken(), 16, 'etcdserver: invalid auth token'],
      [errors.userEmpty(), 3, 'etcdserver: user name is empty'],
      [errors.authFailed(), 3, 'etcdserver: authentication failed, invalid user ID or password'],
      [
        errors.memberNotEnoughStarted(),
        2,
        'etcdserver: re-configuration failed due to not enough started members',
      ],
      [errors.peerURLExist(), 9, 'etcdserver: Peer URLs already exists'],
      [errors.memberNotFound(), 5, 'etcdserver: member not found'],
      [errors.corrupt(), 15, 'etcdserver: corrupt cluster'],
      [errors.watchCanceled(), 1, 'etcdserver: watch canceled'],
      [errors.electionNoLeader(), 2, 'election: no leader'],
    ];
    for (const [err, code, message] of cases) {
      expect(err).toBeInstanceOf(EtcdError);
      expect(err).toBeInstanceOf(Error);
      expect(err.message).toBe(message);
      expect(err.code).toBe(code);
    }
  });

  it('has a helper for every entry and unique messages', () => {
    const names = Object.keys(ETCD_ERRORS) as (keyof typeof ETCD_ERRORS)[];
    expect(Object.keys(errors)).toHaveLength(names.length);
    expect(new Set(names.map((n) => ETCD_ERRORS[n].message)).size).toBe(names.length);
    for (const name of names) {
      const err = EtcdError.of(name);
      expect(err.errorName).toBe(name);
      expect(err.code).toBe(GrpcCode[ETCD_ERRORS[name].code]);
      expect(EtcdError.fromMessage(err.message)?.errorName).toBe(name);
    }
  });

  it('recognises errors by name', () => {
    expect(EtcdError.is(errors.compacted(), 'ErrCompacted')).toBe(true);
    expect(EtcdError.is(errors.compacted(), 'ErrFutureRev')).toBe(false);
    expect(EtcdError.is(new Error('x'))).toBe(false);
    expect(EtcdError.fromMessage('no such text')).toBeUndefined();
    const unknown = EtcdError.unknown('boom');
    expect([unknown.code, unknown.codeName, unknown.errorName]).toEqual([2, 'Unknown', undefined]);
  });

  it('maps gRPC codes to HTTP statuses as grpc-gateway v1', () => {
    expect(HTTP_STATUS_BY_GRPC_CODE).toEqual({
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
    });
    expect(httpStatusFromGrpcCode(99)).toBe(500);
    expect(errors.compacted().httpStatus).toBe(400);
    expect(errors.noLeader().httpStatus).toBe(503);
    expect(errors.invalidAuthToken().httpStatus).toBe(401);
  });

  it('renders the gateway error body and the gRPC size error', () => {
    expect(errors.futureRev().toGatewayBody()).toEqual({
      error: 'etcdserver: mvcc: required revision is a future revision',
      message: 'etcdserver: mvcc: required revision is a future revision',
      code: 11,
    });
    const big = grpcMessageTooLarge(3000000, 2097152);
    expect(big.message).toBe('grpc: received message larger than max (3000000 vs. 2097152)');
    expect(big.httpStatus).toBe(429);
  });
});
