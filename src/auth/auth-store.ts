// The replicated auth state (etcd auth/store.go): the enabled flag, the auth revision, users and roles. Changed only
// by applying committed entries (the `apply*` methods), identically on every member; anything random (bcrypt salts,
// simple-token prefixes) was decided before proposing. Also the permission checks (isOpPermitted,
// isAdminPermitted) that apply-time (writes) and serve-time (reads) code calls.

import { errors } from '../etcd/errors.ts';
import type { Permission, PutRequest, TxnRequest } from '../etcd/types.ts';
import { bytesEqual, compareBytes } from '../mvcc/bytes.ts';
import { isRangePermitted, type UnifiedPermissions, unifyPermissions } from './permissions.ts';
import { SimpleTokens } from './tokens.ts';

export const ROOT_USER = 'root';
export const ROOT_ROLE = 'root';

/** The whole replicated auth state as plain data (snapshots, etcd's bbolt `auth*` buckets). */
export interface AuthState {
  readonly enabled: boolean;
  readonly revision: number;
  readonly users: readonly {
    readonly name: string;
    /** bcrypt hash ($2a$…); '' when noPassword. */
    readonly password: string;
    /** Sorted. */
    readonly roles: readonly string[];
    readonly noPassword: boolean;
  }[];
  readonly roles: readonly { readonly name: string; readonly permissions: readonly Permission[] }[];
}

/**
 * Who a request runs as (etcd's AuthInfo): the user name and the auth revision its credentials were checked at.
 * `user: ''` (revision 0) = no credentials.
 */
export interface AuthInfo {
  readonly user: string;
  readonly revision: number;
}

/** The keys attached to a lease (none when it does not exist): what the lease checks look at. */
export type LeaseKeys = (lease: bigint) => Iterable<Uint8Array>;

/** A request with no credentials (etcd: AuthInfo{}). */
export const ANONYMOUS: AuthInfo = { user: '', revision: 0 };

interface User {
  readonly name: string;
  password: string;
  roles: string[];
  readonly noPassword: boolean;
}

interface Role {
  readonly name: string;
  permissions: Permission[];
}

const EMPTY = new Uint8Array(0);

function normalizePermission(p: Permission): Permission {
  const rangeEnd = p.rangeEnd && p.rangeEnd.length > 0 ? p.rangeEnd : undefined;
  return rangeEnd
    ? { permType: p.permType, key: p.key ?? EMPTY, rangeEnd }
    : { permType: p.permType, key: p.key ?? EMPTY };
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export class AuthStore {
  private enabledFlag = false;
  /** etcd's NewAuthStore commits revision 1 on a fresh store. */
  private rev = 1;
  private readonly users = new Map<string, User>();
  private readonly roles = new Map<string, Role>();
  /** etcd's rangePermCache: per user, rebuilt lazily after any change. */
  private permCache = new Map<string, UnifiedPermissions>();
  /** Simple tokens live in memory beside the replicated state (etcd's tokenProvider), never in snapshots. */
  readonly simpleTokens = new SimpleTokens();

  static fromState(state: AuthState): AuthStore {
    const store = new AuthStore();
    store.restore(state);
    return store;
  }

  get enabled(): boolean {
    return this.enabledFlag;
  }

  get revision(): number {
    return this.rev;
  }

  export(): AuthState {
    return {
      enabled: this.enabledFlag,
      revision: this.rev,
      users: [...this.users.values()]
        .sort((a, b) => byName(a.name, b.name))
        .map((u) => ({ name: u.name, password: u.password, roles: [...u.roles], noPassword: u.noPassword })),
      roles: [...this.roles.values()]
        .sort((a, b) => byName(a.name, b.name))
        .map((r) => ({ name: r.name, permissions: r.permissions.map(normalizePermission) })),
    };
  }

  /** Replaces the replicated state (snapshot install); simple tokens stay (etcd's Recover keeps its provider). */
  restore(state: AuthState): void {
    this.users.clear();
    this.roles.clear();
    for (const u of state.users) {
      this.users.set(u.name, {
        name: u.name,
        password: u.password ?? '',
        roles: [...(u.roles ?? [])].sort(byName),
        noPassword: !!u.noPassword,
      });
    }
    for (const r of state.roles) {
      this.roles.set(r.name, { name: r.name, permissions: (r.permissions ?? []).map(normalizePermission) });
    }
    this.rev = Number(state.revision) || 1;
    this.enabledFlag = !!state.enabled;
    if (this.enabledFlag) this.simpleTokens.enable();
    else this.simpleTokens.disable();
    this.permCache.clear();
  }

  private commit(): void {
    this.rev++;
    this.permCache.clear();
  }

  // Apply: etcd's authStore mutations. Each throws the rpctypes error etcd's clients see.

  applyEnable(): void {
    if (this.enabledFlag) return;
    const root = this.users.get(ROOT_USER);
    if (!root) throw errors.rootUserNotExist();
    if (!root.roles.includes(ROOT_ROLE)) throw errors.rootRoleNotExist();
    this.enabledFlag = true;
    this.simpleTokens.enable();
    this.permCache.clear();
  }

  applyDisable(): void {
    if (!this.enabledFlag) return;
    this.enabledFlag = false;
    this.commit();
    this.simpleTokens.disable();
  }

  applyUserAdd(name: string, passwordHash: string, noPassword: boolean): void {
    if (name.length === 0) throw errors.userEmpty();
    if (this.users.has(name)) throw errors.userAlreadyExist();
    this.users.set(name, { name, password: noPassword ? '' : passwordHash, roles: [], noPassword });
    this.commit();
  }

  applyUserDelete(name: string): void {
    if (this.enabledFlag && name === ROOT_USER) throw errors.invalidAuthMgmt();
    if (!this.users.delete(name)) throw errors.userNotFound();
    this.commit();
    this.simpleTokens.invalidateUser(name);
  }

  applyUserChangePassword(name: string, passwordHash: string): void {
    const user = this.users.get(name);
    if (!user) throw errors.userNotFound();
    user.password = passwordHash;
    this.commit();
    this.simpleTokens.invalidateUser(name);
  }

  applyUserGrantRole(name: string, role: string): void {
    const user = this.users.get(name);
    if (!user) throw errors.userNotFound();
    // The root role need not exist as a role to be granted (etcd).
    if (role !== ROOT_ROLE && !this.roles.has(role)) throw errors.roleNotFound();
    if (user.roles.includes(role)) return; // etcd ignores a duplicate grant (no revision change)
    user.roles = [...user.roles, role].sort(byName);
    this.commit();
  }

  applyUserRevokeRole(name: string, role: string): void {
    if (this.enabledFlag && name === ROOT_USER && role === ROOT_ROLE) throw errors.invalidAuthMgmt();
    const user = this.users.get(name);
    if (!user) throw errors.userNotFound();
    if (!user.roles.includes(role)) throw errors.roleNotGranted();
    user.roles = user.roles.filter((r) => r !== role);
    this.commit();
  }

  applyRoleAdd(name: string): void {
    if (name.length === 0) throw errors.roleEmpty();
    if (this.roles.has(name)) throw errors.roleAlreadyExist();
    this.roles.set(name, { name, permissions: [] });
    this.commit();
  }

  applyRoleDelete(name: string): void {
    if (this.enabledFlag && name === ROOT_ROLE) throw errors.invalidAuthMgmt();
    if (!this.roles.delete(name)) throw errors.roleNotFound();
    for (const u of this.users.values()) {
      if (u.roles.includes(name)) u.roles = u.roles.filter((r) => r !== name);
    }
    this.commit();
  }

  applyRoleGrantPermission(name: string, perm: Permission): void {
    const role = this.roles.get(name);
    if (!role) throw errors.roleNotFound();
    const p = normalizePermission(perm);
    // etcd: the first permission with key ≥ p.key; the same key and range end → update its type.
    const idx = role.permissions.findIndex((q) => compareBytes(q.key, p.key) >= 0);
    const at = idx >= 0 ? role.permissions[idx] : undefined;
    if (at && bytesEqual(at.key, p.key) && bytesEqual(at.rangeEnd ?? EMPTY, p.rangeEnd ?? EMPTY)) {
      role.permissions[idx] = { ...at, permType: p.permType };
    } else {
      role.permissions = [...role.permissions, p].sort((a, b) => compareBytes(a.key, b.key));
    }
    this.commit();
  }

  applyRoleRevokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array | undefined): void {
    const role = this.roles.get(name);
    if (!role) throw errors.roleNotFound();
    const end = rangeEnd ?? EMPTY;
    const kept = role.permissions.filter(
      (p) => !bytesEqual(p.key, key) || !bytesEqual(p.rangeEnd ?? EMPTY, end),
    );
    if (kept.length === role.permissions.length) throw errors.permissionNotGranted();
    role.permissions = kept;
    this.commit();
  }

  // Reads.

  /** The user's roles (sorted), or ErrUserNotFound. */
  userGet(name: string): readonly string[] {
    const user = this.users.get(name);
    if (!user) throw errors.userNotFound();
    return [...user.roles];
  }

  userList(): readonly string[] {
    return [...this.users.keys()].sort(byName);
  }

  roleGet(name: string): readonly Permission[] {
    const role = this.roles.get(name);
    if (!role) throw errors.roleNotFound();
    return role.permissions.map(normalizePermission);
  }

  roleList(): readonly string[] {
    return [...this.roles.keys()].sort(byName);
  }

  /** The stored bcrypt hash and options of a user (Authenticate's password check), if the user exists. */
  credentials(name: string): { readonly password: string; readonly noPassword: boolean } | undefined {
    const u = this.users.get(name);
    return u ? { password: u.password, noPassword: u.noPassword } : undefined;
  }

  hasUser(name: string): boolean {
    return this.users.has(name);
  }

  hasRole(user: string, role: string): boolean {
    return this.users.get(user)?.roles.includes(role) ?? false;
  }

  // Checks (etcd's isOpPermitted / IsAdminPermitted). No-ops while auth is disabled.

  /** etcd's isOpPermitted: throws ErrUserEmpty, ErrAuthOldRevision or ErrPermissionDenied. */
  checkOp(info: AuthInfo, type: 'READ' | 'WRITE', key: Uint8Array, rangeEnd?: Uint8Array): void {
    if (!this.enabledFlag) return;
    if (info.revision === 0 || info.user === '') throw errors.userEmpty();
    if (info.revision < this.rev) throw errors.authOldRevision();
    const user = this.users.get(info.user);
    if (!user) throw errors.permissionDenied();
    if (user.roles.includes(ROOT_ROLE)) return;
    if (!isRangePermitted(this.permissionsOf(user), type, key, rangeEnd)) throw errors.permissionDenied();
  }

  /** etcd's IsAdminPermitted: the root role. */
  checkAdmin(info: AuthInfo): void {
    if (!this.enabledFlag) return;
    if (info.user === '') throw errors.userEmpty();
    const user = this.users.get(info.user);
    if (!user) throw errors.userNotFound();
    if (!user.roles.includes(ROOT_ROLE)) throw errors.permissionDenied();
  }

  /** IsAdminPermitted as a yes/no (auth off counts as yes): the early exit of etcd's per-key lease checks. */
  isAdmin(info: AuthInfo): boolean {
    if (!this.enabledFlag) return true;
    return info.user !== '' && (this.users.get(info.user)?.roles.includes(ROOT_ROLE) ?? false);
  }

  /**
   * etcd's checks over the keys attached to leases (checkLeasePutsKeys: WRITE; checkLeaseRenew: WRITE;
   * checkLeaseTimeToLive and checkLeaseLeases: READ): the root role passes at once, anyone else needs `type` on
   * every key (each a single key), else the first failure (ErrPermissionDenied, ErrAuthOldRevision…).
   */
  checkKeys(info: AuthInfo, type: 'READ' | 'WRITE', keys: Iterable<Uint8Array>): void {
    if (this.isAdmin(info)) return;
    for (const key of keys) this.checkOp(info, type, key);
  }

  /**
   * etcd's checkPutAuth, for a Put alone or inside a txn (GHSA-x35m-3gp4-4fh5): WRITE on the key; attaching a
   * lease needs WRITE on the lease's keys (who cannot revoke a lease may not add keys to it); prev_kv needs READ.
   */
  checkPut(info: AuthInfo, put: PutRequest, leaseKeys: LeaseKeys): void {
    this.checkOp(info, 'WRITE', put.key);
    if (put.lease !== undefined && BigInt(put.lease) !== 0n) {
      this.checkKeys(info, 'WRITE', leaseKeys(BigInt(put.lease)));
    }
    if (put.prevKv) this.checkOp(info, 'READ', put.key);
  }

  /**
   * etcd's checkTxnAuth: READ on every compare; every op of both branches, nested txns too (GHSA-rfx7-8w68-q57q),
   * puts as checkPut.
   */
  checkTxn(info: AuthInfo, txn: TxnRequest, leaseKeys: LeaseKeys): void {
    if (!this.enabledFlag) return;
    for (const c of txn.compare ?? []) this.checkOp(info, 'READ', c.key, c.rangeEnd);
    for (const branch of [txn.success ?? [], txn.failure ?? []]) {
      for (const op of branch) {
        if (op.requestRange) this.checkOp(info, 'READ', op.requestRange.key, op.requestRange.rangeEnd);
        else if (op.requestPut) this.checkPut(info, op.requestPut, leaseKeys);
        else if (op.requestDeleteRange) {
          const d = op.requestDeleteRange;
          if (d.prevKv) this.checkOp(info, 'READ', d.key, d.rangeEnd);
          this.checkOp(info, 'WRITE', d.key, d.rangeEnd);
        } else if (op.requestTxn) this.checkTxn(info, op.requestTxn, leaseKeys);
      }
    }
  }

  private permissionsOf(user: User): UnifiedPermissions {
    let perms = this.permCache.get(user.name);
    if (!perms) {
      const all: Permission[] = [];
      for (const r of user.roles) all.push(...(this.roles.get(r)?.permissions ?? []));
      perms = unifyPermissions(all);
      this.permCache.set(user.name, perms);
    }
    return perms;
  }
}
