// Test certificates made at test time with node-forge (no openssl binary needed): a CA, server certificates with
// the IP and DNS subjectAltNames Go clients such as etcdctl insist on, client certificates whose CN is a user name
// (etcd's mTLS identity), and an unrelated second CA for negative tests. RSA keys come from node:crypto (forge's
// pure-JS key generation is slow); forge only signs. Generate once per test file.

import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface CertAuthority extends Pem {
  /** A certificate for `127.0.0.1` / `localhost` (serverAuth + clientAuth), CN `cn`. */
  server(cn?: string): Pem;
  /** A client certificate (clientAuth + serverAuth, same SANs) whose CN is `user`. */
  client(user: string): Pem;
}

let serial = 1;

function rsaKeys(): {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  pem: string;
} {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  const publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  return { privateKey: key, publicKey, pem: privateKey };
}

function baseCert(publicKey: forge.pki.PublicKey, cn: string): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  cert.serialNumber = (0x1000 + serial++).toString(16);
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 60 * 60 * 1000);
  cert.validity.notAfter = new Date(now + 365 * 24 * 60 * 60 * 1000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  return cert;
}

/** A self-signed CA that issues server and client certificates. */
export function createCA(name = 'edgecd test CA'): CertAuthority {
  const keys = rsaKeys();
  const caCert = baseCert(keys.publicKey, name);
  caCert.setIssuer(caCert.subject.attributes);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  caCert.sign(keys.privateKey, forge.md.sha256.create());

  const issue = (cn: string): Pem => {
    const leaf = rsaKeys();
    const cert = baseCert(leaf.publicKey, cn);
    cert.setIssuer(caCert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    return { cert: forge.pki.certificateToPem(cert), key: leaf.pem };
  };

  return {
    cert: forge.pki.certificateToPem(caCert),
    key: keys.pem,
    server: (cn = 'edgecd') => issue(cn),
    client: (user) => issue(user),
  };
}

export interface CertFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** Writes `pem` (and the CA) under `dir` as `<name>.pem`, `<name>-key.pem`; returns the paths. */
export function writePem(dir: string, name: string, pem: Pem, ca: Pem): CertFiles {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, `${name}.pem`);
  const key = join(dir, `${name}-key.pem`);
  const caPath = join(dir, `${name}-ca.pem`);
  writeFileSync(cert, pem.cert);
  writeFileSync(key, pem.key, { mode: 0o600 });
  writeFileSync(caPath, ca.cert);
  return { ca: caPath, cert, key };
}
