// The cluster-state stream over WebSocket, for the demo and dashboards to attach to a live cluster:
//   ws://<client URL>/edgecd/v1/cluster-state
// Read-only. Each text frame is one JSON object, the same as a line of the gateway's NDJSON stream at that path
// (id, name, role, term, leader, commit, applied, lastIndex, revision, compactRevision, members; IDs as decimal
// strings): one at once, then one per change, at most 20 a second; identical states are not repeated.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { clusterStateJson } from '../../../src/api/gateway/index.ts';
import type { EdgeNode } from '../../../src/server/node.ts';

export const CLUSTER_STATE_PATH = '/edgecd/v1/cluster-state';
const MIN_INTERVAL_MS = 50;

export function clusterStateUpgrade(
  node: EdgeNode,
): (req: IncomingMessage, socket: Duplex, head: Buffer) => void {
  const wss = new WebSocketServer({ noServer: true });
  return (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname !== CLUSTER_STATE_PATH) {
      socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      let last = '';
      let timer: NodeJS.Timeout | undefined;
      const push = () => {
        timer = undefined;
        const state = clusterStateJson(node.nodeStatus());
        if (state !== last && ws.readyState === ws.OPEN) {
          last = state;
          ws.send(state);
        }
      };
      const unsubscribe = node.onChange(() => {
        timer ??= setTimeout(push, MIN_INTERVAL_MS);
      });
      ws.on('close', () => {
        unsubscribe();
        if (timer) clearTimeout(timer);
      });
      ws.on('error', () => ws.terminate());
      push();
    });
  };
}
