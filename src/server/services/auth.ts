// etcd's Auth service (v3rpc/auth.go over auth/store.go). Mutations go through Raft carrying the caller, whose root
// role is checked when they apply (etcd's needAdminPermission) and, to fail fast, before proposing. Reads follow a
// read barrier. Passwords are hashed here, by the proposing member, never while applying.

import { DummyHash, hashPassword, validBcryptCost, verifyPassword } from '../../auth/password.ts';
import { simpleTokenPrefix } from '../../auth/tokens.ts';
import { EtcdError, errors } from '../../etcd/errors.ts';
import type { AuthResponse } from '../../etcd/types.ts';
import type { EdgeNode, RequestOptions } from '../node.ts';
import type { OpAuth, Operation } from '../ops.ts';
import type { ServiceContext } from './context.ts';

export type AuthService = Pick<
  EdgeNode,
  | 'authorizeAdmin'
  | 'authEnable'
  | 'authDisable'
  | 'authStatus'
  | 'authenticate'
  | 'userAdd'
  | 'userGet'
  | 'userList'
  | 'userDelete'
  | 'userChangePassword'
  | 'userGrantRole'
  | 'userRevokeRole'
  | 'roleAdd'
  | 'roleGet'
  | 'roleList'
  | 'roleDelete'
  | 'roleGrantPermission'
  | 'roleRevokePermission'
>;

export function authService(ctx: ServiceContext): AuthService {
  const { identity, options } = ctx;
  const bcryptCost = validBcryptCost(options.auth?.bcryptCost);
  const dummyHash = new DummyHash(bcryptCost);

  const authMutation = async (
    op: Exclude<Operation, { auth?: undefined }>,
    opts?: RequestOptions,
  ): Promise<AuthResponse> => {
    await ctx.propose(op, opts);
    return { header: ctx.header() };
  };
  const adminOp = (opts: RequestOptions | undefined): Promise<OpAuth> => identity.requireAdmin(opts);

  return {
    async authorizeAdmin(opts) {
      await identity.requireAdmin(opts);
    },

    async authEnable(opts) {
      return authMutation({ type: 'authEnable', auth: await adminOp(opts) }, opts);
    },

    async authDisable(opts) {
      return authMutation({ type: 'authDisable', auth: await adminOp(opts) }, opts);
    },

    async authStatus() {
      await ctx.barrier();
      const auth = identity.auth;
      return { header: ctx.header(), enabled: auth.enabled, authRevision: auth.revision };
    },

    async authenticate(req, opts) {
      await ctx.barrier();
      const auth = identity.auth;
      const jwt = identity.jwt;
      for (;;) {
        // etcd's CheckPassword, then a Raft round that assigns the token (retried if auth changed meanwhile).
        if (!auth.enabled) throw errors.authNotEnabled();
        const checkedRevision = auth.revision;
        const creds = auth.credentials(req.name);
        if (!creds) {
          // The same work and the same answer as a wrong password: timing does not tell which names exist.
          await verifyPassword(req.password, await dummyHash.get());
          throw errors.authFailed();
        }
        if (creds.noPassword) {
          throw EtcdError.unknown('auth: authentication failed, password was given for no password user');
        }
        if (!(await verifyPassword(req.password, creds.password))) throw errors.authFailed();
        const simpleToken = jwt ? undefined : simpleTokenPrefix(options.random);
        const r = await ctx.propose<{ token?: string; revision: number }>(
          { type: 'authenticate', name: req.name, ...(simpleToken !== undefined ? { simpleToken } : {}) },
          opts,
        );
        if (checkedRevision !== auth.revision) continue;
        const token =
          r.token ?? (await jwt!.sign({ username: req.name, revision: r.revision }, options.clock.now()));
        return { header: ctx.header(), token };
      }
    },

    async userAdd(req, opts) {
      const auth = await adminOp(opts);
      const noPassword = !!req.options?.noPassword;
      if (req.name.length === 0) throw errors.userEmpty();
      const hash = noPassword ? '' : await hashPassword(req.password ?? '', bcryptCost);
      return authMutation({ type: 'userAdd', name: req.name, hash, noPassword, auth }, opts);
    },

    async userGet(req, opts) {
      await ctx.barrier();
      const auth = identity.auth;
      if (auth.enabled) {
        // etcd: a user may read itself without the root role.
        const info = await identity.identify(opts);
        if (info.user === '' || info.user !== req.name) auth.checkAdmin(info);
      }
      return { header: ctx.header(), roles: auth.userGet(req.name) };
    },

    async userList(opts) {
      await ctx.barrier();
      await identity.requireAdmin(opts);
      return { header: ctx.header(), users: identity.auth.userList() };
    },

    async userDelete(req, opts) {
      return authMutation({ type: 'userDelete', name: req.name, auth: await adminOp(opts) }, opts);
    },

    async userChangePassword(req, opts) {
      const auth = await adminOp(opts);
      if (!identity.auth.hasUser(req.name)) throw errors.userNotFound();
      const hash = await hashPassword(req.password, bcryptCost);
      return authMutation({ type: 'userChangePassword', name: req.name, hash, auth }, opts);
    },

    async userGrantRole(req, opts) {
      const auth = await adminOp(opts);
      return authMutation({ type: 'userGrantRole', user: req.user, role: req.role, auth }, opts);
    },

    async userRevokeRole(req, opts) {
      const auth = await adminOp(opts);
      return authMutation({ type: 'userRevokeRole', name: req.name, role: req.role, auth }, opts);
    },

    async roleAdd(req, opts) {
      return authMutation({ type: 'roleAdd', name: req.name, auth: await adminOp(opts) }, opts);
    },

    async roleGet(req, opts) {
      await ctx.barrier();
      const auth = identity.auth;
      if (auth.enabled) {
        // etcd: a user may read the roles it has without the root role.
        const info = await identity.identify(opts);
        if (info.user === '' || !auth.hasRole(info.user, req.role)) auth.checkAdmin(info);
      }
      return { header: ctx.header(), perm: auth.roleGet(req.role) };
    },

    async roleList(opts) {
      await ctx.barrier();
      await identity.requireAdmin(opts);
      return { header: ctx.header(), roles: identity.auth.roleList() };
    },

    async roleDelete(req, opts) {
      return authMutation({ type: 'roleDelete', role: req.role, auth: await adminOp(opts) }, opts);
    },

    async roleGrantPermission(req, opts) {
      const auth = await adminOp(opts);
      return authMutation({ type: 'roleGrantPermission', name: req.name, perm: req.perm, auth }, opts);
    },

    async roleRevokePermission(req, opts) {
      const auth = await adminOp(opts);
      const rangeEnd = req.rangeEnd && req.rangeEnd.length > 0 ? req.rangeEnd : undefined;
      return authMutation(
        {
          type: 'roleRevokePermission',
          role: req.role,
          key: req.key,
          ...(rangeEnd ? { rangeEnd } : {}),
          auth,
        },
        opts,
      );
    },
  };
}
