// The peer byte stream over a WebSocket of the `ws` package: each binary message carries a run of frames of the
// peer protocol, exactly the bytes a TCP connection would carry. Text messages are a protocol error. The peer
// port accepts such streams (WebSocket upgrades); ../../websocket dials them.

import type WebSocket from 'ws';
import type { PeerStream, StreamEvents } from '../stream.ts';

/** Bytes buffered in the WebSocket beyond which write() asks the writer to wait. */
const HIGH_WATER_MARK = 1024 * 1024;

export function webSocketStream(ws: WebSocket, remote: string): PeerStream {
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  let events: StreamEvents | undefined;
  let blocked = false;
  return {
    remote,
    closed,
    write(data) {
      ws.send(data, { binary: true }, (error) => {
        if (!error && blocked && ws.bufferedAmount < HIGH_WATER_MARK) {
          blocked = false;
          events?.drain();
        }
      });
      if (ws.bufferedAmount >= HIGH_WATER_MARK) blocked = true;
      return !blocked;
    },
    end: () => ws.close(1000),
    destroy: () => ws.terminate(),
    listen(e) {
      events = e;
      let lastError: Error | undefined;
      if (e.open) ws.on('open', e.open);
      ws.on('message', (data, isBinary) => {
        if (!isBinary) {
          lastError = new Error('text message on a peer WebSocket');
          ws.terminate();
          return;
        }
        e.data(toBytes(data));
      });
      ws.on('error', (error) => (lastError = error));
      ws.on('close', (code, reason) => {
        e.close(lastError?.message ?? (code === 1000 ? undefined : `closed (${code}) ${reason.toString()}`));
      });
    },
  };
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}
