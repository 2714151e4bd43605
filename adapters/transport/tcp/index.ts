// Raft messages between Node members over TCP (node:net), TLS for https:// peers: the peer protocol
// (../peer/README.md) with TCP dialers (./dial.ts). The transport itself, its peer port and its links are the
// protocol's (../peer/node/transport.ts); this medium only says how a connection to a peer is opened.

import type { PeerTransportOptions } from '../peer/node/options.ts';
import { PeerTransport } from '../peer/node/transport.ts';
import { defaultDialer } from './dial.ts';

export type { BackoffOptions } from '../peer/backoff.ts';
export { DEFAULT_BACKOFF } from '../peer/backoff.ts';
export {
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_QUEUED_MESSAGES,
  type PeerStats,
} from '../peer/node/options.ts';
export { BROWSER_ADDRESS_PREFIX, isHttpBatchAddress, parsePeerAddress } from '../peer/routes.ts';
export type { PeerAddress, PeerDialer, PeerStream } from '../peer/stream.ts';
export { DEFAULT_MAX_FRAME_BYTES, MAGIC, PROTOCOL_VERSION } from '../peer/wire.ts';
export { tlsDialer } from './dial.ts';

export type TcpTransportOptions = PeerTransportOptions;

export class TcpTransport extends PeerTransport {
  /** Dials TCP, or TLS with `options.tls.client` for https:// peers, unless `options.dial` says otherwise. */
  constructor(options: TcpTransportOptions) {
    super(options, defaultDialer(options.tls?.client));
  }
}
