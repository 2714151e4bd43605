// Which link a peer's address calls for: `browser:…` a reverse link (the peer dials us), an HTTP batch URL an
// HTTP link, anything else (http://host:port, https://, host:port) a connection we dial.

import type { NodeId } from '../../../../src/raft/types.ts';
import { DialLink, type DialLinkSettings } from '../dial-link.ts';
import { HttpLink, type HttpLinkSettings } from '../http-link.ts';
import { ReverseLink } from '../reverse-link.ts';
import { BROWSER_ADDRESS_PREFIX, httpBatchUrl, isHttpBatchAddress, parsePeerAddress } from '../routes.ts';

export type Link = DialLink | ReverseLink | HttpLink;

export interface LinkKinds {
  readonly dial: DialLinkSettings;
  readonly http: HttpLinkSettings;
}

/**
 * A new link for `peer` at `address`, or undefined when `existing` already fits it (the caller closes `existing`
 * otherwise). Throws on an address it cannot use.
 */
export function linkFor(
  existing: Link | undefined,
  peer: NodeId,
  address: string,
  kinds: LinkKinds,
): Link | undefined {
  if (address.startsWith(BROWSER_ADDRESS_PREFIX)) {
    return existing instanceof ReverseLink ? undefined : new ReverseLink(kinds.dial, peer, address);
  }
  if (isHttpBatchAddress(address)) {
    if (existing instanceof HttpLink && existing.url === (httpBatchUrl(address) ?? address)) return undefined;
    return new HttpLink(kinds.http, peer, address);
  }
  const parsed = parsePeerAddress(address);
  // A peer that announced it cannot be dialed keeps its reverse link for the address it was added with.
  if (existing instanceof ReverseLink && existing.addressText === address) return undefined;
  if (
    existing instanceof DialLink &&
    existing.address.host === parsed.host &&
    existing.address.port === parsed.port &&
    !!existing.address.tls === !!parsed.tls
  ) {
    return undefined;
  }
  return new DialLink(kinds.dial, peer, parsed);
}
