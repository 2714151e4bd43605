// TLS for the client and peer ports, from etcd's flags (--cert-file, --key-file, --trusted-ca-file,
// --client-cert-auth and their --peer-* twins), as etcd 3.4's transport.TLSInfo builds its tls.Config:
//   - an https:// listen URL needs a certificate and key (etcd's errors, word for word);
//   - the server requires and verifies client certificates when --client-cert-auth is on OR a trusted CA file is
//     given (TLSInfo.ServerConfig: `TrustedCAFile != "" || ClientCertAuth` → RequireAndVerifyClientCert);
//   - dialing a peer (TLSInfo.ClientConfig) presents the peer certificate as the client certificate and trusts
//     --peer-trusted-ca-file (the system roots without one); the server's name is checked against its URL's host.
// Not done: --auto-tls / --peer-auto-tls (self-signed certificates need an X.509 writer Node lacks; refused with
// a message), CRL files, cipher suites, etcd 3.4's check of a peer client certificate's SAN against its address.

import { readFileSync } from 'node:fs';
import type { ConnectionOptions, TlsOptions } from 'node:tls';

/** The TLS flags of one port (client or peer). */
export interface TlsFlags {
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly trustedCaFile?: string;
  readonly clientCertAuth?: boolean;
  readonly autoTls?: boolean;
}

/** What the member needs: server options per port (absent = plaintext) and how to dial https:// peers. */
export interface MemberTls {
  /** The client port serves TLS with these (its listen URL is https://). */
  readonly client?: TlsOptions;
  /** The peer port serves TLS with these (its listen URL is https://). */
  readonly peerServer?: TlsOptions;
  /** Options for dialing https:// peer URLs (raft links and the peer HTTP endpoints). */
  readonly peerClient: ConnectionOptions;
}

/** etcd's TLS flags (part of MemberConfig) and the listen URLs they apply to. */
export interface MemberTlsConfig {
  readonly listenClientUrls: readonly string[];
  readonly listenPeerUrls: readonly string[];
  /** Client TLS: etcd --cert-file, --key-file, --trusted-ca-file, --client-cert-auth, --auto-tls. */
  readonly certFile?: string;
  readonly keyFile?: string;
  readonly trustedCaFile?: string;
  readonly clientCertAuth?: boolean;
  readonly autoTls?: boolean;
  /** Peer TLS: etcd --peer-cert-file, --peer-key-file, --peer-trusted-ca-file, --peer-client-cert-auth, … */
  readonly peerCertFile?: string;
  readonly peerKeyFile?: string;
  readonly peerTrustedCaFile?: string;
  readonly peerClientCertAuth?: boolean;
  readonly peerAutoTls?: boolean;
}

const isHttps = (url: string) => /^(https|unixs):\/\//i.test(url);

/** etcd's TLSInfo.Empty(): neither a certificate nor a key given. */
function empty(flags: TlsFlags): boolean {
  return !flags.certFile && !flags.keyFile;
}

function read(path: string): string {
  return readFileSync(path, 'utf8');
}

/** etcd's TLSInfo.baseConfig: both files, readable. */
function keyPair(flags: TlsFlags): { cert: string; key: string } {
  if (!flags.certFile || !flags.keyFile) {
    throw new Error(
      `KeyFile and CertFile must both be present[key: ${flags.keyFile ?? ''}, cert: ${flags.certFile ?? ''}]`,
    );
  }
  return { cert: read(flags.certFile), key: read(flags.keyFile) };
}

/** How long a client's TLS handshake may take (etcd's tlsHandshakeTimeout). */
export const CLIENT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** etcd's TLSInfo.ServerConfig, as node:tls server options. */
export function serverTlsOptions(flags: TlsFlags): TlsOptions {
  const verify = !!flags.trustedCaFile || !!flags.clientCertAuth;
  return {
    ...keyPair(flags),
    ...(flags.trustedCaFile ? { ca: read(flags.trustedCaFile) } : {}),
    requestCert: verify,
    rejectUnauthorized: verify,
  };
}

/** etcd's TLSInfo.ClientConfig, as node:tls connect options (the certificate is sent when the server asks). */
export function clientTlsOptions(flags: TlsFlags): ConnectionOptions {
  return {
    ...(empty(flags) ? {} : keyPair(flags)),
    ...(flags.trustedCaFile ? { ca: read(flags.trustedCaFile) } : {}),
  };
}

function refuseAutoTls(flag: string): never {
  throw new Error(
    `${flag} is not supported by edgecd (it cannot generate self-signed certificates); ` +
      `give ${flag === '--auto-tls' ? '--cert-file and --key-file' : '--peer-cert-file and --peer-key-file'} instead`,
  );
}

/**
 * Checks the listen URLs against the TLS flags as etcd's configureClientListeners / configurePeerListeners do and
 * loads the PEM files. Throws etcd's error texts.
 */
export function memberTls(config: MemberTlsConfig): MemberTls {
  if (config.autoTls) refuseAutoTls('--auto-tls');
  if (config.peerAutoTls) refuseAutoTls('--peer-auto-tls');
  const clientFlags: TlsFlags = {
    certFile: config.certFile,
    keyFile: config.keyFile,
    trustedCaFile: config.trustedCaFile,
    clientCertAuth: config.clientCertAuth,
  };
  const peerFlags: TlsFlags = {
    certFile: config.peerCertFile,
    keyFile: config.peerKeyFile,
    trustedCaFile: config.peerTrustedCaFile,
    clientCertAuth: config.peerClientCertAuth,
  };
  for (const url of config.listenClientUrls) {
    if (isHttps(url) && empty(clientFlags)) {
      throw new Error(
        `TLS key/cert (--cert-file, --key-file) must be provided for client url ${url} with HTTPS scheme`,
      );
    }
  }
  for (const url of config.listenPeerUrls) {
    if (isHttps(url) && empty(peerFlags)) {
      const u = new URL(url);
      throw new Error(`cannot listen on TLS for ${u.host}: KeyFile and CertFile are not presented`);
    }
  }
  const peerUrl = config.listenPeerUrls[0];
  return {
    // For every https:// (or unixs://) client URL; the http:// ones stay plaintext, as in etcd. A handshake gets
    // 10 s, as etcd's tlsListener since GHSA-6vch-q96h-7gc3 (Node's own default: 120 s).
    ...(config.listenClientUrls.some(isHttps)
      ? { client: { ...serverTlsOptions(clientFlags), handshakeTimeout: CLIENT_TLS_HANDSHAKE_TIMEOUT_MS } }
      : {}),
    ...(peerUrl && isHttps(peerUrl) ? { peerServer: serverTlsOptions(peerFlags) } : {}),
    peerClient: clientTlsOptions(peerFlags),
  };
}

/**
 * etcd's warnings for TLS flags given with an http:// listen URL (they are ignored for that URL).
 * Returns [message, url] pairs for the caller's logger.
 */
export function ignoredTlsWarnings(config: MemberTlsConfig): { message: string; url: string }[] {
  const out: { message: string; url: string }[] = [];
  for (const url of config.listenClientUrls.filter((u) => !isHttps(u))) {
    if (config.certFile || config.keyFile) {
      out.push({
        message: 'scheme is HTTP while key and cert files are present; ignoring key and cert files',
        url,
      });
    }
    if (config.clientCertAuth) {
      out.push({
        message: 'scheme is HTTP while --client-cert-auth is enabled; ignoring client cert auth for this URL',
        url,
      });
    }
  }
  for (const url of config.listenPeerUrls.filter((u) => !isHttps(u))) {
    if (config.peerCertFile || config.peerKeyFile) {
      out.push({
        message: 'scheme is HTTP while key and cert files are present; ignoring key and cert files',
        url,
      });
    }
    if (config.peerClientCertAuth) {
      out.push({
        message:
          'scheme is HTTP while --peer-client-cert-auth is enabled; ignoring client cert auth for this URL',
        url,
      });
    }
  }
  return out;
}

/**
 * The user name a verified client certificate gives (etcd's mTLS identity): its subject CN, the first when there
 * are several (Node then gives an array); undefined without one.
 */
export function certificateCommonName(
  certificate: { readonly subject?: unknown } | undefined,
): string | undefined {
  const cn: unknown = (certificate?.subject as { CN?: unknown } | undefined)?.CN;
  const first = Array.isArray(cn) ? cn[0] : cn;
  return typeof first === 'string' && first !== '' ? first : undefined;
}
