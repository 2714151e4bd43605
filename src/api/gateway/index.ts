// etcd 3.4's HTTP/JSON gateway for an EdgeNode, as a portable fetch handler (see ./gateway.ts).

export { clusterStateJson } from './endpoints.ts';
export type { CallerIdentity, FetchHandler, GatewayOptions } from './gateway.ts';
export { createGateway, DEFAULT_MAX_REQUEST_BYTES, requestOptions, unimplemented } from './gateway.ts';
