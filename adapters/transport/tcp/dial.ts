// Dialing a peer over TCP, or over TLS for an https:// peer URL: the stream a DialLink runs the peer protocol on.

import { connect } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { socketStream } from '../peer/node/socket-stream.ts';
import type { PeerDialer } from '../peer/stream.ts';

export const tcpDialer: PeerDialer = ({ host, port }) => {
  const socket = connect({ host, port, noDelay: true });
  socket.setKeepAlive(true, 10_000);
  const stream = socketStream(socket);
  return { ...stream, remote: `${host}:${port}` };
};

/**
 * Dials a peer over TLS (an https:// peer URL): `options` carries the CA to trust and the client certificate to
 * present (etcd's --peer-trusted-ca-file, --peer-cert-file, --peer-key-file). The server's certificate must name
 * the host of the URL (IP or DNS subjectAltName). A failed verification closes the stream with its reason.
 */
export function tlsDialer(options: ConnectionOptions = {}): PeerDialer {
  return ({ host, port }) => {
    const socket = tlsConnect({
      ...options,
      host,
      port,
      // SNI takes names, not IP addresses.
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const stream = socketStream(socket, 'secureConnect');
    return { ...stream, remote: `${host}:${port}` };
  };
}

/** TCP, or TLS for https:// peers. */
export function defaultDialer(client: ConnectionOptions | undefined): PeerDialer {
  const secure = tlsDialer(client);
  return (address) => (address.tls ? secure(address) : tcpDialer(address));
}
