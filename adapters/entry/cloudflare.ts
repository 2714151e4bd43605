// `edgecd/cloudflare`: edgecd on Cloudflare Workers — the Worker (etcd's JSON gateway, peer and join routes) and
// the Durable Object class hosting one member. A Worker's module: `export { default, EdgecdMember } from
// 'edgecd/cloudflare'`, with the binding and migration of wrangler.toml.

export * from '../runtime/cloudflare/index.ts';
export { default } from '../runtime/cloudflare/index.ts';
export {
  DurableObjectStorage,
  type DurableObjectStorageApi,
  type DurableObjectStorageOptions,
} from '../storage/durable-object/index.ts';
export { FetchTransport, type FetchTransportOptions, httpDeliver } from '../transport/fetch/index.ts';
