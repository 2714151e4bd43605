// The transport conformance suite's harness for TcpTransport and its subclasses (WebSocket, TLS): each member's
// transport listens on a free port, every one is a peer of every other, and the network is settled when nothing
// is queued or unreported and every message written has been delivered.
import type { TcpTransport } from '../../adapters/transport/tcp/index.ts';
import type { NodeId } from '../../src/raft/types.ts';
import type { TransportHarness } from '../conformance/transport.ts';
import { waitFor } from './memory-cluster.ts';

export function tcpHarness(
  make: (id: NodeId) => TcpTransport,
  url: (t: TcpTransport) => string,
): TransportHarness {
  const made: TcpTransport[] = [];
  return {
    async transports(ids, handlers) {
      const transports = await Promise.all(
        ids.map(async (id, i) => {
          const t = make(id);
          made.push(t);
          await t.start(handlers[i]);
          return t;
        }),
      );
      for (const t of transports) for (const p of transports) if (p !== t) t.addPeer(p.memberId, url(p));
      return transports;
    },
    async settle() {
      const quiet = () =>
        made.every(
          (s) =>
            s.closed ||
            (s.pending === 0 &&
              made.every(
                (r) => r === s || r.closed || r.stats(s.memberId).received >= s.stats(r.memberId).sent,
              )),
        );
      await waitFor('the network to settle', quiet);
      // Unreachable reports are made on the turn after they are queued.
      await new Promise<void>((resolve) => setTimeout(resolve, 1));
    },
    async cleanup() {
      await Promise.all(made.map((t) => t.close()));
    },
  };
}
