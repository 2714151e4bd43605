// The peer port speaks more than one protocol: Node members dial it with our frames, WebSocket members (browser,
// edge, or Node via WebSocketTransport) reach it with an HTTP upgrade. The first bytes decide: our magic, or an
// HTTP method.

import type { Socket } from 'node:net';
import type { Clock, Logger } from '../../../../src/env.ts';
import { hasMagic, MAGIC } from '../wire.ts';

export interface SniffRoutes {
  /** A peer-protocol connection; `head` holds the bytes already read (at least the magic). */
  peer(socket: Socket, head: Uint8Array): void;
  /** An HTTP/1.x connection, paused, with the bytes read so far pushed back into the socket. */
  http(socket: Socket): void;
}

const HTTP_METHOD_PREFIX = /^[A-Z]{1,4}$|^[A-Z]{1,3} $/;

/** Reads the first bytes of `socket` and hands it to a route, or destroys it (logged) when neither fits. */
export function sniffConnection(
  socket: Socket,
  routes: SniffRoutes,
  logger: Logger,
  clock: Clock,
  timeoutMs: number,
): void {
  const chunks: Buffer[] = [];
  let length = 0;
  const remote = `${socket.remoteAddress}:${socket.remotePort}`;
  const timer = clock.setTimer(timeoutMs, () => {
    logger.warn('peer port: no protocol preamble in time, closing', { remote });
    done();
    socket.destroy();
  });
  const done = () => {
    timer.cancel();
    socket.off('data', onData);
    socket.off('close', done);
  };
  const onData = (chunk: Buffer) => {
    chunks.push(chunk);
    length += chunk.length;
    if (length < MAGIC.length) return;
    done();
    const head = Buffer.concat(chunks, length);
    if (hasMagic(head)) {
      routes.peer(socket, head);
    } else if (HTTP_METHOD_PREFIX.test(head.subarray(0, MAGIC.length).toString('latin1'))) {
      socket.pause();
      socket.unshift(head);
      routes.http(socket);
    } else {
      logger.warn('peer port: unknown protocol, closing', {
        remote,
        head: head.subarray(0, 8).toString('hex'),
      });
      socket.destroy();
    }
  };
  socket.on('data', onData);
  socket.on('close', done);
}
