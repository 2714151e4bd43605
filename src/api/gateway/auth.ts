// The gateway's Auth RPCs (/v3/auth/*): jsonpb decoding of their requests and encoding of their responses, with
// etcd's field names, inconsistencies included (UserGrantRole{user, role}, UserRevokeRole{name, role},
// RoleGet / RoleDelete {role}, RoleRevokePermission{role, key, range_end}). Permission keys are base64 bytes and
// permType an enum name (READ, the zero value, is omitted). etcd 3.4's gateway has no /v3/auth/status.

import type { Permission, PermissionType } from '../../etcd/types.ts';
import type { EdgeNode, RequestOptions } from '../../server/node.ts';
import type { MessageReader } from './decode.ts';
import { header, headerOnly, JsonWriter } from './encode.ts';

const EMPTY = new Uint8Array(0);

/** authpb.Permission.Type in proto value order. */
export const PERMISSION_TYPES: readonly PermissionType[] = ['READ', 'WRITE', 'READWRITE'];

type Call = (body: MessageReader, opts: RequestOptions) => Promise<string>;

function decodePermission(m: MessageReader | undefined): Permission {
  if (!m) return { permType: 'READ', key: EMPTY };
  const rangeEnd = m.bytes('range_end');
  return {
    permType: m.enumValue('permType', PERMISSION_TYPES, 'authpb.Permission_Type') ?? 'READ',
    key: m.bytes('key') ?? EMPTY,
    ...(rangeEnd && rangeEnd.length > 0 ? { rangeEnd } : {}),
  };
}

export function permission(p: Permission): string {
  return new JsonWriter()
    .enumName('permType', p.permType, 'READ')
    .bytes('key', p.key)
    .bytes('range_end', p.rangeEnd)
    .toString();
}

const name = (m: MessageReader, field = 'name') => m.string(field) ?? '';

/** The /v3/auth/* routes (path under /v3 → RPC name, request Go type, call). */
export function authRoutes(
  node: EdgeNode,
): Record<string, readonly [rpc: string, goType: string, call: Call]> {
  const m = (rpc: string, goType: string, call: Call) => [rpc, `etcdserverpb.${goType}`, call] as const;
  return {
    '/auth/enable': m('AuthEnable', 'AuthEnableRequest', async (_b, o) =>
      headerOnly(await node.authEnable(o)),
    ),
    '/auth/disable': m('AuthDisable', 'AuthDisableRequest', async (_b, o) =>
      headerOnly(await node.authDisable(o)),
    ),
    '/auth/authenticate': m('Authenticate', 'AuthenticateRequest', async (b, o) => {
      const r = await node.authenticate({ name: name(b), password: b.string('password') ?? '' }, o);
      return new JsonWriter().message('header', header(r.header)).string('token', r.token).toString();
    }),
    '/auth/user/add': m('UserAdd', 'AuthUserAddRequest', async (b, o) => {
      const options = b.message('options', 'authpb.UserAddOptions');
      return headerOnly(
        await node.userAdd(
          {
            name: name(b),
            password: b.string('password') ?? '',
            ...(options ? { options: { noPassword: options.bool('no_password') ?? false } } : {}),
          },
          o,
        ),
      );
    }),
    '/auth/user/get': m('UserGet', 'AuthUserGetRequest', async (b, o) => {
      const r = await node.userGet({ name: name(b) }, o);
      return new JsonWriter().message('header', header(r.header)).strings('roles', r.roles).toString();
    }),
    '/auth/user/list': m('UserList', 'AuthUserListRequest', async (_b, o) => {
      const r = await node.userList(o);
      return new JsonWriter().message('header', header(r.header)).strings('users', r.users).toString();
    }),
    '/auth/user/delete': m('UserDelete', 'AuthUserDeleteRequest', async (b, o) =>
      headerOnly(await node.userDelete({ name: name(b) }, o)),
    ),
    '/auth/user/changepw': m('UserChangePassword', 'AuthUserChangePasswordRequest', async (b, o) =>
      headerOnly(await node.userChangePassword({ name: name(b), password: b.string('password') ?? '' }, o)),
    ),
    '/auth/user/grant': m('UserGrantRole', 'AuthUserGrantRoleRequest', async (b, o) =>
      headerOnly(await node.userGrantRole({ user: name(b, 'user'), role: name(b, 'role') }, o)),
    ),
    '/auth/user/revoke': m('UserRevokeRole', 'AuthUserRevokeRoleRequest', async (b, o) =>
      headerOnly(await node.userRevokeRole({ name: name(b), role: name(b, 'role') }, o)),
    ),
    '/auth/role/add': m('RoleAdd', 'AuthRoleAddRequest', async (b, o) =>
      headerOnly(await node.roleAdd({ name: name(b) }, o)),
    ),
    '/auth/role/get': m('RoleGet', 'AuthRoleGetRequest', async (b, o) => {
      const r = await node.roleGet({ role: name(b, 'role') }, o);
      return new JsonWriter()
        .message('header', header(r.header))
        .list('perm', r.perm.map(permission))
        .toString();
    }),
    '/auth/role/list': m('RoleList', 'AuthRoleListRequest', async (_b, o) => {
      const r = await node.roleList(o);
      return new JsonWriter().message('header', header(r.header)).strings('roles', r.roles).toString();
    }),
    '/auth/role/delete': m('RoleDelete', 'AuthRoleDeleteRequest', async (b, o) =>
      headerOnly(await node.roleDelete({ role: name(b, 'role') }, o)),
    ),
    '/auth/role/grant': m('RoleGrantPermission', 'AuthRoleGrantPermissionRequest', async (b, o) =>
      headerOnly(
        await node.roleGrantPermission(
          { name: name(b), perm: decodePermission(b.message('perm', 'authpb.Permission')) },
          o,
        ),
      ),
    ),
    '/auth/role/revoke': m('RoleRevokePermission', 'AuthRoleRevokePermissionRequest', async (b, o) => {
      const rangeEnd = b.bytes('range_end');
      return headerOnly(
        await node.roleRevokePermission(
          {
            role: name(b, 'role'),
            key: b.bytes('key') ?? EMPTY,
            ...(rangeEnd && rangeEnd.length > 0 ? { rangeEnd } : {}),
          },
          o,
        ),
      );
    }),
  };
}
