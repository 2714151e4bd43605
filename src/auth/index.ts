// Authentication and RBAC (etcd 3.4's auth package): the replicated auth store, range permissions, password
// hashing and tokens.

export {
  ANONYMOUS,
  type AuthInfo,
  type AuthState,
  AuthStore,
  type LeaseKeys,
  ROOT_ROLE,
  ROOT_USER,
} from './auth-store.ts';
export { DEFAULT_BCRYPT_COST, DummyHash, hashPassword, validBcryptCost, verifyPassword } from './password.ts';
export { toPkcs8Pem, toSpkiPem } from './pem.ts';
export {
  IntervalSet,
  isRangePermitted,
  type KeyInterval,
  keyInterval,
  type UnifiedPermissions,
  unifyPermissions,
} from './permissions.ts';
export {
  DEFAULT_SIMPLE_TOKEN_TTL_SECONDS,
  type JwtClaims,
  type JwtOptions,
  JwtTokens,
  SimpleTokens,
  simpleTokenIndex,
  simpleTokenPrefix,
} from './tokens.ts';
