// etcd v3 request/response shapes, named after etcd's protos (api/etcdserverpb/rpc.proto) with camelCase fields:
// Watch, Lease, Cluster, Maintenance and Auth here, KV and mvccpb in ./kv.ts (re-exported, so this file is the
// whole vocabulary). Every surface (gRPC, JSON gateway, in-page) maps these.

import type { Event, KeyValue, ResponseHeader } from './kv.ts';

export type * from './kv.ts';

// Watch.

export type WatchFilter = 'NOPUT' | 'NODELETE';

export interface WatchCreateRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** 0 = from the next revision. */
  readonly startRevision?: number;
  readonly progressNotify?: boolean;
  readonly filters?: readonly WatchFilter[];
  readonly prevKv?: boolean;
  /** 0 = the stream assigns one. */
  readonly watchId?: number;
  readonly fragment?: boolean;
}

export type WatchRequest =
  | { readonly createRequest: WatchCreateRequest }
  | { readonly cancelRequest: { readonly watchId: number } }
  | { readonly progressRequest: Record<string, never> };

export interface WatchResponse {
  readonly header: ResponseHeader;
  readonly watchId: number;
  readonly created?: boolean;
  readonly canceled?: boolean;
  readonly compactRevision?: number;
  readonly cancelReason?: string;
  readonly fragment?: boolean;
  readonly events: readonly Event[];
}

// Lease.

export interface LeaseGrantRequest {
  /** Seconds. */
  readonly TTL: number;
  /** 0n = the server picks one. */
  readonly ID?: bigint;
}

export interface LeaseGrantResponse {
  readonly header: ResponseHeader;
  readonly ID: bigint;
  readonly TTL: number;
  readonly error?: string;
}

export interface LeaseRevokeRequest {
  readonly ID: bigint;
}

export interface LeaseRevokeResponse {
  readonly header: ResponseHeader;
}

export interface LeaseKeepAliveRequest {
  readonly ID: bigint;
}

export interface LeaseKeepAliveResponse {
  readonly header: ResponseHeader;
  readonly ID: bigint;
  /** The granted TTL after renewal; 0 when the lease does not exist. */
  readonly TTL: number;
}

export interface LeaseTimeToLiveRequest {
  readonly ID: bigint;
  readonly keys?: boolean;
}

export interface LeaseTimeToLiveResponse {
  readonly header: ResponseHeader;
  readonly ID: bigint;
  /** Remaining seconds; -1 when the lease does not exist or expired. */
  readonly TTL: number;
  readonly grantedTTL: number;
  readonly keys: readonly Uint8Array[];
}

export interface LeaseLeasesResponse {
  readonly header: ResponseHeader;
  readonly leases: readonly { readonly ID: bigint }[];
}

// Cluster.

export interface Member {
  readonly ID: bigint;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerURLs: readonly string[];
  readonly clientURLs: readonly string[];
  readonly isLearner: boolean;
}

export interface MemberListResponse {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
}

export interface MemberAddRequest {
  readonly peerURLs: readonly string[];
  readonly isLearner?: boolean;
}

export interface MemberAddResponse {
  readonly header: ResponseHeader;
  readonly member: Member;
  readonly members: readonly Member[];
}

export interface MemberRemoveRequest {
  readonly ID: bigint;
}

export interface MemberPromoteRequest {
  readonly ID: bigint;
}

export interface MemberUpdateRequest {
  readonly ID: bigint;
  readonly peerURLs: readonly string[];
}

export interface MembersResponse {
  readonly header: ResponseHeader;
  readonly members: readonly Member[];
}

// Maintenance.

export interface StatusResponse {
  readonly header: ResponseHeader;
  readonly version: string;
  readonly dbSize: number;
  readonly leader: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly errors: readonly string[];
  readonly dbSizeInUse: number;
  readonly isLearner: boolean;
}

export type AlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT';

export interface AlarmMember {
  readonly memberID: bigint;
  readonly alarm: AlarmType;
}

export interface AlarmRequest {
  readonly action: 'GET' | 'ACTIVATE' | 'DEACTIVATE';
  /** 0: every member (DEACTIVATE; edgecd's extension). */
  readonly memberID?: bigint;
  /** NONE: every type (GET, DEACTIVATE). */
  readonly alarm?: AlarmType;
}

export interface AlarmResponse {
  readonly header: ResponseHeader;
  readonly alarms: readonly AlarmMember[];
}

// Auth (etcdserverpb.Auth; field names as in etcd's proto, including its inconsistencies: UserGrantRole has
// `user`, UserRevokeRole has `name`; RoleGet / RoleDelete / RoleRevokePermission have `role`).

export type PermissionType = 'READ' | 'WRITE' | 'READWRITE';

/** authpb.Permission: a key, or a range [key, rangeEnd) with Range's rules (rangeEnd "\0" = from key on). */
export interface Permission {
  readonly permType: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
}

export interface AuthResponse {
  readonly header: ResponseHeader;
}

export interface AuthStatusResponse {
  readonly header: ResponseHeader;
  readonly enabled: boolean;
  readonly authRevision: number;
}

export interface AuthenticateRequest {
  readonly name: string;
  readonly password: string;
}

export interface AuthenticateResponse {
  readonly header: ResponseHeader;
  readonly token: string;
}

export interface AuthUserAddRequest {
  readonly name: string;
  readonly password?: string;
  readonly options?: { readonly noPassword?: boolean };
}

export interface AuthUserGetResponse {
  readonly header: ResponseHeader;
  readonly roles: readonly string[];
}

export interface AuthUserListResponse {
  readonly header: ResponseHeader;
  readonly users: readonly string[];
}

export interface AuthRoleGetResponse {
  readonly header: ResponseHeader;
  readonly perm: readonly Permission[];
}

export interface AuthRoleListResponse {
  readonly header: ResponseHeader;
  readonly roles: readonly string[];
}

export type { Event, KeyValue, ResponseHeader };
