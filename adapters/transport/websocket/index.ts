// Raft messages to Node members over WebSocket: the peer protocol (../peer/README.md: same preamble, handshake
// and frames) carried in binary WebSocket messages to ws://host:port/edgecd/peer on the member's peer port, which
// takes both (it tells them apart by the first bytes). On Node this uses the `ws` package.
//
// This transport dials its peers over WebSocket (./dial.ts) and accepts both kinds on its own peer port. A member
// that cannot listen (a browser) uses BrowserWebSocketTransport (./browser.ts): its handshake says
// `listens: false`, and the Node member answers on that same connection (a reverse link,
// ../peer/reverse-link.ts).

import type { PeerTransportOptions } from '../peer/node/options.ts';
import { PeerTransport } from '../peer/node/transport.ts';
import { webSocketDialer } from './dial.ts';

export { webSocketStream } from '../peer/node/ws-stream.ts';
export { PEER_WEBSOCKET_PATH } from '../peer/routes.ts';
export { webSocketDialer } from './dial.ts';

export class WebSocketTransport extends PeerTransport {
  constructor(options: Omit<PeerTransportOptions, 'dial'>) {
    super({ ...options, dial: undefined }, webSocketDialer());
  }
}
