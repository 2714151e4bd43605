// PEM key formats for JWT keys. WebCrypto imports only PKCS#8 (private) and SPKI (public), but etcd users often
// hold PKCS#1 RSA keys ("BEGIN RSA PRIVATE KEY" / "BEGIN RSA PUBLIC KEY") and SEC1 EC keys ("BEGIN EC PRIVATE
// KEY"), which Go's jwt library reads. These wrap such keys into PKCS#8 / SPKI (a few DER bytes around them).

const RSA_ALGORITHM = [
  0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const EC_PUBLIC_KEY_OID = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

function base64Decode(s: string): Uint8Array {
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const out: number[] = [];
  let buf = 0;
  let bits = 0;
  for (const ch of clean) {
    buf = (buf << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((buf >> bits) & 0xff);
    }
  }
  return Uint8Array.from(out);
}

function base64Encode(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    s += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    s += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    s += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return s;
}

function pem(label: string, der: Uint8Array): string {
  const b64 = base64Encode(der).replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}-----END ${label}-----\n`;
}

function block(text: string, label: string): Uint8Array | undefined {
  const m = new RegExp(`-----BEGIN ${label}-----([\\s\\S]*?)-----END ${label}-----`).exec(text);
  return m ? base64Decode(m[1]) : undefined;
}

function tlv(tag: number, content: readonly number[] | Uint8Array): number[] {
  const len = content.length;
  const lenBytes: number[] = [];
  if (len < 0x80) lenBytes.push(len);
  else {
    const bytes: number[] = [];
    for (let n = len; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
    lenBytes.push(0x80 | bytes.length, ...bytes);
  }
  return [tag, ...lenBytes, ...content];
}

/** The children of a DER SEQUENCE as [tag, whole TLV bytes]. */
function children(der: Uint8Array): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  const header = (at: number): [number, number] => {
    let len = der[at + 1];
    let off = at + 2;
    if (len & 0x80) {
      const n = len & 0x7f;
      len = 0;
      for (let i = 0; i < n; i++) len = len * 256 + der[off + i];
      off += n;
    }
    return [off, len];
  };
  const [start, total] = header(0);
  for (let at = start; at < start + total; ) {
    const [off, len] = header(at);
    out.push([der[at], der.subarray(at, off + len)]);
    at = off + len;
  }
  return out;
}

/** A private key as PKCS#8 PEM (PKCS#1 RSA and SEC1 EC keys are wrapped; PKCS#8 passes through). */
export function toPkcs8Pem(text: string): string {
  const rsa = block(text, 'RSA PRIVATE KEY');
  if (rsa)
    return pem(
      'PRIVATE KEY',
      Uint8Array.from(tlv(0x30, [0x02, 0x01, 0x00, ...RSA_ALGORITHM, ...tlv(0x04, rsa)])),
    );
  const ec = block(text, 'EC PRIVATE KEY');
  if (ec) {
    // The curve is the [0] parameters field of ECPrivateKey.
    const params = children(ec).find(([tag]) => tag === 0xa0)?.[1];
    if (!params) return text;
    const curveOid = params.subarray(2);
    const algorithm = tlv(0x30, [...EC_PUBLIC_KEY_OID, ...curveOid]);
    return pem('PRIVATE KEY', Uint8Array.from(tlv(0x30, [0x02, 0x01, 0x00, ...algorithm, ...tlv(0x04, ec)])));
  }
  return text;
}

/** A public key as SPKI PEM (PKCS#1 RSA public keys are wrapped; SPKI passes through). */
export function toSpkiPem(text: string): string {
  const rsa = block(text, 'RSA PUBLIC KEY');
  if (rsa)
    return pem('PUBLIC KEY', Uint8Array.from(tlv(0x30, [...RSA_ALGORITHM, ...tlv(0x03, [0x00, ...rsa])])));
  return text;
}
