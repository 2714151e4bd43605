// Raft messages to Node members over WebSocket: the peer protocol of ../tcp (same preamble, handshake and
// frames) carried in binary WebSocket messages to ws://host:port/edgecd/peer on the member's peer port, which
// takes both (it tells them apart by the first bytes). On Node this uses the `ws` package.
//
// This transport dials its peers over WebSocket and accepts both kinds on its own peer port. A member that
// cannot listen (a browser) uses BrowserWebSocketTransport (./browser.ts): its handshake says `listens: false`,
// and the Node member answers on that same connection (a reverse link, see ../tcp/reverse.ts).

import { TcpTransport, type TcpTransportOptions } from '../tcp/index.ts';
import { webSocketDialer } from './stream.ts';

export { PEER_WEBSOCKET_PATH, webSocketDialer, webSocketStream } from './stream.ts';

export class WebSocketTransport extends TcpTransport {
  constructor(options: Omit<TcpTransportOptions, 'dial'>) {
    super({ ...options, dial: webSocketDialer() });
  }
}
