// Peer batches over HTTP: a PeerDeliver that POSTs batches (for Durable Objects and Workers calling Node members or
// members behind a Worker). The route, the content type and the peer secret are the peer protocol's
// (../peer/routes.ts), re-exported here for the members that serve them.

import { decodeReply, type PeerDeliver } from '../peer/batch.ts';
import { httpBatchUrl, PEER_CONTENT_TYPE, PEER_FETCH_PATH, PEER_SECRET_HEADER } from '../peer/routes.ts';

export {
  httpBatchUrl,
  PEER_CONTENT_TYPE,
  PEER_FETCH_PATH,
  PEER_SECRET_HEADER,
  peerSecretMatches,
} from '../peer/routes.ts';

/**
 * A PeerDeliver over HTTP: POSTs the batch to a member behind a Worker at its batch URL (httpBatchUrl), and
 * otherwise (a Node member's `http://host:port`) to `${address}${PEER_FETCH_PATH}`; with the peer secret when one
 * is given.
 */
export function httpDeliver(fetchFn: typeof fetch = fetch, timeoutMs = 5000, secret?: string): PeerDeliver {
  return async (address, body) => {
    const url = httpBatchUrl(address) ?? `${address.replace(/\/+$/, '')}${PEER_FETCH_PATH}`;
    const headers: Record<string, string> = { 'content-type': PEER_CONTENT_TYPE };
    if (secret) headers[PEER_SECRET_HEADER] = secret;
    const res = await fetchFn(url, {
      method: 'POST',
      headers,
      body: body as Uint8Array<ArrayBuffer>,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const reply = new Uint8Array(await res.arrayBuffer());
    // A Node member's peer port answers an accepted batch with 204 and no body.
    if (res.status === 204) return { ok: true };
    if (!res.ok) {
      const refusal = reply.length > 0 ? decodeReply(reply) : undefined;
      if (refusal && !refusal.ok && refusal.reason !== 'undecodable reply') return refusal;
      return { ok: false, code: 'malformed', reason: `HTTP ${res.status}` };
    }
    return decodeReply(reply);
  };
}
