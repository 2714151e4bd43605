// `edgecd/gateway`: etcd 3.4's HTTP/JSON gateway over an EdgeNode, as a web-standard fetch handler
// (`createGateway(node)` → `(request: Request) => Promise<Response>`). Portable: serve it from Node, a Worker,
// a Service Worker or call it in-page.

export * from '../../src/api/gateway/index.ts';
