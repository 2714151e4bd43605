// etcdserverpb.Auth: the 16 RPCs of etcd 3.4 (plus AuthStatus, which the vendored 3.5-era proto describes).
// Field names are etcd's, inconsistencies included (ETCD-NOTES §1): UserGrantRole{user, role},
// UserRevokeRole{name, role}, RoleGet / RoleDelete {role}, RoleRevokePermission{role, key, range_end}.
// The node checks who may do what; this file only translates messages.

import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { AuthResponse, Permission, PermissionType } from '../../../../src/etcd/types.ts';
import { type CallContext, unary } from './calls.ts';
import * as wire from './wire.ts';

/** authpb.Permission.Type by number. */
const PERM_TYPES: readonly PermissionType[] = ['READ', 'WRITE', 'READWRITE'];

const EMPTY = new Uint8Array(0);

interface WirePermission {
  permType?: number | string;
  key?: Uint8Array;
  range_end?: Uint8Array;
}

function permissionIn(w: WirePermission | undefined | null): Permission {
  const t =
    typeof w?.permType === 'string'
      ? (PERM_TYPES.find((p) => p === w.permType) ?? 'READ')
      : (PERM_TYPES[w?.permType ?? 0] ?? 'READ');
  const rangeEnd = w?.range_end && w.range_end.length > 0 ? w.range_end : undefined;
  return { permType: t, key: w?.key ?? EMPTY, ...(rangeEnd ? { rangeEnd } : {}) };
}

function permissionOut(p: Permission): wire.WireMessage {
  return {
    permType: PERM_TYPES.indexOf(p.permType) || undefined,
    key: p.key.length > 0 ? p.key : undefined,
    range_end: p.rangeEnd && p.rangeEnd.length > 0 ? p.rangeEnd : undefined,
  };
}

const headerOnly = (r: AuthResponse): wire.WireMessage => ({ header: wire.header(r.header) });

const list = <T>(xs: readonly T[]): T[] | undefined => (xs.length > 0 ? [...xs] : undefined);

export function authService(ctx: CallContext): UntypedServiceImplementation {
  const { api } = ctx;
  const a = (method: string) => `Auth/${method}`;
  return {
    AuthEnable: unary<object>(ctx, a('AuthEnable'), async (_req, opts) =>
      headerOnly(await api.authEnable(opts)),
    ),
    AuthDisable: unary<object>(ctx, a('AuthDisable'), async (_req, opts) =>
      headerOnly(await api.authDisable(opts)),
    ),
    AuthStatus: unary<object>(ctx, a('AuthStatus'), async (_req, opts) => {
      const r = await api.authStatus(opts);
      return {
        header: wire.header(r.header),
        enabled: r.enabled || undefined,
        authRevision: wire.i64(r.authRevision),
      };
    }),
    Authenticate: unary<{ name?: string; password?: string }>(ctx, a('Authenticate'), async (req, opts) => {
      const r = await api.authenticate({ name: req.name ?? '', password: req.password ?? '' }, opts);
      return { header: wire.header(r.header), token: r.token || undefined };
    }),
    UserAdd: unary<{ name?: string; password?: string; options?: { no_password?: boolean } | null }>(
      ctx,
      a('UserAdd'),
      async (req, opts) =>
        headerOnly(
          await api.userAdd(
            {
              name: req.name ?? '',
              password: req.password ?? '',
              ...(req.options ? { options: { noPassword: !!req.options.no_password } } : {}),
            },
            opts,
          ),
        ),
    ),
    UserGet: unary<{ name?: string }>(ctx, a('UserGet'), async (req, opts) => {
      const r = await api.userGet({ name: req.name ?? '' }, opts);
      return { header: wire.header(r.header), roles: list(r.roles) };
    }),
    UserList: unary<object>(ctx, a('UserList'), async (_req, opts) => {
      const r = await api.userList(opts);
      return { header: wire.header(r.header), users: list(r.users) };
    }),
    UserDelete: unary<{ name?: string }>(ctx, a('UserDelete'), async (req, opts) =>
      headerOnly(await api.userDelete({ name: req.name ?? '' }, opts)),
    ),
    UserChangePassword: unary<{ name?: string; password?: string }>(
      ctx,
      a('UserChangePassword'),
      async (req, opts) =>
        headerOnly(
          await api.userChangePassword({ name: req.name ?? '', password: req.password ?? '' }, opts),
        ),
    ),
    UserGrantRole: unary<{ user?: string; role?: string }>(ctx, a('UserGrantRole'), async (req, opts) =>
      headerOnly(await api.userGrantRole({ user: req.user ?? '', role: req.role ?? '' }, opts)),
    ),
    UserRevokeRole: unary<{ name?: string; role?: string }>(ctx, a('UserRevokeRole'), async (req, opts) =>
      headerOnly(await api.userRevokeRole({ name: req.name ?? '', role: req.role ?? '' }, opts)),
    ),
    RoleAdd: unary<{ name?: string }>(ctx, a('RoleAdd'), async (req, opts) =>
      headerOnly(await api.roleAdd({ name: req.name ?? '' }, opts)),
    ),
    RoleGet: unary<{ role?: string }>(ctx, a('RoleGet'), async (req, opts) => {
      const r = await api.roleGet({ role: req.role ?? '' }, opts);
      return { header: wire.header(r.header), perm: list(r.perm.map(permissionOut)) };
    }),
    RoleList: unary<object>(ctx, a('RoleList'), async (_req, opts) => {
      const r = await api.roleList(opts);
      return { header: wire.header(r.header), roles: list(r.roles) };
    }),
    RoleDelete: unary<{ role?: string }>(ctx, a('RoleDelete'), async (req, opts) =>
      headerOnly(await api.roleDelete({ role: req.role ?? '' }, opts)),
    ),
    RoleGrantPermission: unary<{ name?: string; perm?: WirePermission | null }>(
      ctx,
      a('RoleGrantPermission'),
      async (req, opts) =>
        headerOnly(
          await api.roleGrantPermission({ name: req.name ?? '', perm: permissionIn(req.perm) }, opts),
        ),
    ),
    RoleRevokePermission: unary<{ role?: string; key?: Uint8Array; range_end?: Uint8Array }>(
      ctx,
      a('RoleRevokePermission'),
      async (req, opts) => {
        const rangeEnd = req.range_end && req.range_end.length > 0 ? req.range_end : undefined;
        return headerOnly(
          await api.roleRevokePermission(
            { role: req.role ?? '', key: req.key ?? EMPTY, ...(rangeEnd ? { rangeEnd } : {}) },
            opts,
          ),
        );
      },
    ),
  };
}
