// The gateway conformance suite against a 3-member cluster, twice: through the fetch handler called directly,
// and over real HTTP on 127.0.0.1 (served by @hono/node-server).
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { createGateway } from '../../src/api/gateway/index.ts';
import { runGatewayConformance } from '../conformance/gateway.ts';
import { startCluster } from './cluster.ts';

runGatewayConformance('in-process fetch handler', async () => {
  const cluster = await startCluster();
  const handler = createGateway(cluster.nodes[0], { clock: cluster.clock });
  return { baseUrl: 'http://gateway.test', fetch: handler, close: () => cluster.close() };
});

runGatewayConformance('HTTP on 127.0.0.1 (@hono/node-server), a follower or leader', async () => {
  const cluster = await startCluster();
  const handler = createGateway(cluster.nodes[1], { clock: cluster.clock });
  const server = serve({ fetch: (request) => handler(request), hostname: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: async () => {
      if ('closeAllConnections' in server) server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await cluster.close();
    },
  };
});
