// A node:http2 server stream as a call's CallStream (./call.ts): HEADERS with waitForTrailers, so that the
// trailers follow the last DATA once Node asks for them.

import type { ServerHttp2Stream } from 'node:http2';
import type { CallStream, PeerSocket, StreamEvents } from './call.ts';

export class NodeCallStream implements CallStream {
  private readonly stream: ServerHttp2Stream;
  private trailers: Readonly<Record<string, string>> | undefined;

  constructor(stream: ServerHttp2Stream) {
    this.stream = stream;
  }

  get gone(): boolean {
    return this.stream.closed || this.stream.destroyed;
  }

  get needDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  get socket(): PeerSocket | undefined {
    return this.stream.session?.socket as PeerSocket | undefined;
  }

  listen(events: StreamEvents): void {
    this.stream.on('data', events.data);
    this.stream.on('end', events.end);
    this.stream.on('close', events.close);
    this.stream.on('drain', events.drain);
  }

  sendHeaders(contentType: string): void {
    this.stream.respond({ ':status': 200, 'content-type': contentType }, { waitForTrailers: true });
    this.stream.once('wantTrailers', () => {
      if (this.trailers) this.stream.sendTrailers(this.trailers);
    });
  }

  sendData(bytes: Buffer): boolean {
    return this.stream.write(bytes);
  }

  sendTrailers(fields: Readonly<Record<string, string>>): void {
    this.trailers = fields;
    this.stream.end();
  }

  sendTrailersOnly(contentType: string, fields: Readonly<Record<string, string>>): void {
    this.stream.respond({ ':status': 200, 'content-type': contentType, ...fields }, { endStream: true });
  }

  reset(code: number): void {
    this.stream.close(code);
  }
}
