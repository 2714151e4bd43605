// A web-standard fetch handler (the JSON gateway) served by Node's HTTP/1.1 server: Node's request → Request,
// streamed both ways (watch over JSON), with the verified TLS client certificate's CN as the caller's identity.

import type http from 'node:http';
import tls from 'node:tls';
import { certificateCommonName } from './tls.ts';

/** A web-standard request handler, e.g. the JSON gateway's `createGateway(node)`. */
export type FetchHandler = (request: Request, identity?: ClientIdentity) => Promise<Response>;

/** Who is calling, from the transport: the verified TLS client certificate's CN (etcd's mTLS user name). */
export interface ClientIdentity {
  readonly commonName?: string;
}

/** Node's http request → Request, the handler's Response → Node's response (streamed, for watch over JSON). */
export async function serveFetch(
  handler: FetchHandler,
  req: http.IncomingMessage,
  res: http.ServerResponse,
): Promise<void> {
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i], req.rawHeaders[i + 1]);
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const body = hasBody ? new RequestBody(req) : undefined;
  const socket = req.socket;
  const secure = socket instanceof tls.TLSSocket;
  const request = new Request(
    `${secure ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`,
    {
      method: req.method,
      headers,
      body: body?.stream,
      signal: abort.signal,
      // Node's fetch needs this for a streamed request body.
      duplex: 'half',
    } as RequestInit,
  );
  const commonName = secure ? peerCommonName(socket) : undefined;
  const response = await handler(request, commonName !== undefined ? { commonName } : undefined);
  const outHeaders: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') return;
    outHeaders[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) outHeaders['set-cookie'] = cookies;
  if (body?.abandoned()) {
    // The handler answered without reading the whole body (e.g. over --max-request-bytes). Whatever of it is
    // still on the wire would be read as the next request, so close the connection once this answer is out and
    // discard the rest meanwhile (a client may not read before it has sent everything).
    outHeaders.connection = 'close';
    body.discardRest();
  }
  res.writeHead(response.status, response.statusText, outHeaders);
  if (!response.body || req.method === 'HEAD') {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  abort.signal.addEventListener('abort', () => void reader.cancel().catch(() => {}), { once: true });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await drainedOrClosed(res);
      if (abort.signal.aborted) break;
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  } finally {
    res.end();
  }
}

/**
 * Resolves on the response's next 'drain' or its 'close', and leaves no listener behind. (`Promise.race` of two
 * `events.once` left the loser's listeners on the response until it closed: one 'close' and two 'error' listeners
 * per wait, so a long stream to a slow reader — a watch, a RangeStream — piled them up.)
 */
function drainedOrClosed(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** The CN of a verified client certificate (etcd takes the first when there are several), else undefined. */
export function peerCommonName(socket: tls.TLSSocket): string | undefined {
  return socket.authorized ? certificateCommonName(socket.getPeerCertificate()) : undefined;
}

/**
 * A request body as a web stream that reads only when the handler reads (no read-ahead) and, when the handler
 * cancels it, stops without destroying the request: destroying an IncomingMessage destroys its socket, and the
 * answer still has to go out on it.
 */
class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  private reading = false;
  private canceled = false;

  private readonly req: http.IncomingMessage;

  constructor(req: http.IncomingMessage) {
    this.req = req;
    req.pause();
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          req.on('data', (chunk: Buffer) => {
            if (this.canceled) return;
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
            if ((controller.desiredSize ?? 0) <= 0) req.pause();
          });
          req.once('end', () => {
            if (!this.canceled) controller.close();
          });
          req.once('error', (err) => {
            if (!this.canceled) controller.error(err);
          });
        },
        pull: () => {
          this.reading = true;
          req.resume();
        },
        cancel: () => {
          this.canceled = true;
        },
      },
      { highWaterMark: 0 },
    );
  }

  /** True when the handler gave up on the body (canceled it, or never read it) before it all arrived. */
  abandoned(): boolean {
    return !this.req.complete && (this.canceled || !this.reading);
  }

  /** Reads and drops what is left, so a client still sending can finish and see the answer. */
  discardRest(): void {
    this.canceled = true;
    this.req.resume();
  }
}
