// Loads etcd's service definitions for @grpc/grpc-js. The .proto files in ./proto are vendored (see their
// headers for provenance), so the server needs no client package at run time.

import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options, type PackageDefinition } from '@grpc/proto-loader';

export const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));

/**
 * How messages are decoded: proto field names as written (`range_end`, `ID`), int64 as decimal strings (no
 * precision loss for IDs), enums as numbers (mapped by number: the vendored names are etcd's, clients' protos may
 * differ), bytes as Buffer, and absent fields left undefined (proto3 omits zero values on the wire).
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: String,
  defaults: false,
  arrays: false,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};

/** The services edgecd's client port knows, by full name. */
export const SERVICE_NAMES = [
  'etcdserverpb.KV',
  'etcdserverpb.Watch',
  'etcdserverpb.Lease',
  'etcdserverpb.Cluster',
  'etcdserverpb.Maintenance',
  'etcdserverpb.Auth',
  'v3lockpb.Lock',
  'v3electionpb.Election',
  'grpc.health.v1.Health',
] as const;

export type ServiceName = (typeof SERVICE_NAMES)[number];

let cached: Record<ServiceName, ServiceDefinition> | undefined;
let cachedPackage: PackageDefinition | undefined;

/** Every service, message and enum of the vendored protos, by full name. */
export function loadPackage(): PackageDefinition {
  cachedPackage ??= loadSync(
    ['rpc.proto', 'v3lock.proto', 'v3election.proto', 'health.proto'],
    LOADER_OPTIONS,
  );
  return cachedPackage;
}

export function loadServices(): Record<ServiceName, ServiceDefinition> {
  if (cached) return cached;
  const pkg = loadPackage();
  const out = {} as Record<ServiceName, ServiceDefinition>;
  for (const name of SERVICE_NAMES) {
    const def = pkg[name];
    if (!def || 'format' in def) throw new Error(`edgecd: service ${name} missing from the protos`);
    out[name] = preEncodedResponses(def as ServiceDefinition);
  }
  cached = out;
  return out;
}

/**
 * Each method's response codec, also taking a response already encoded (a Buffer, sent as it is): the Watch
 * stream encodes its responses itself (./watch-encode.ts), sharing each event's bytes between watchers.
 */
function preEncodedResponses(definition: ServiceDefinition): ServiceDefinition {
  const out: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [method, def] of Object.entries(definition) as [string, MethodDefinition<unknown, unknown>][]) {
    const encode = def.responseSerialize;
    out[method] = {
      ...def,
      responseSerialize: (value: unknown) => (Buffer.isBuffer(value) ? value : encode(value)),
    };
  }
  return out;
}
