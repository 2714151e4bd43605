// Auth tokens (etcd auth/simple_token.go, auth/jwt.go).
//
// Simple tokens: `<16 random letters>.<raft index>`. The proposing member draws the letters; the token is assigned
// when the Authenticate entry applies, on every member, and lives only in memory with a TTL refreshed on use
// (--auth-token-ttl, default 300 s). Time comes in as arguments (the caller's Clock), never from globals.
//
// JWT tokens: signed by the member that serves Authenticate with the host's private key, claims
// {username, revision, exp}; any member holding the public key verifies them. WebCrypto through jose.

import { importPKCS8, importSPKI, jwtVerify, SignJWT } from 'jose';
import type { Random } from '../env.ts';
import { toPkcs8Pem, toSpkiPem } from './pem.ts';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const PREFIX_LENGTH = 16;
/** etcd's simpleTokenTTLDefault. */
export const DEFAULT_SIMPLE_TOKEN_TTL_SECONDS = 300;

/** The random part of a simple token (etcd's genTokenPrefix). */
export function simpleTokenPrefix(random: Random): string {
  let s = '';
  for (let i = 0; i < PREFIX_LENGTH; i++) s += LETTERS[Math.floor(random.next() * LETTERS.length)];
  return s;
}

/** The raft index a simple token names, or undefined when the token is not `<letters>.<index>`. */
export function simpleTokenIndex(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 2 || !/^\d+$/.test(parts[1])) return undefined;
  const n = Number(parts[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** etcd's tokenSimple with its TTL keeper: token → user, each with a deadline refreshed on use. */
export class SimpleTokens {
  ttlMs = DEFAULT_SIMPLE_TOKEN_TTL_SECONDS * 1000;
  private enabled = false;
  private readonly tokens = new Map<string, { user: string; deadline: number }>();
  private lastSweep = 0;

  enable(): void {
    this.enabled = true;
  }

  /** Invalidates every token (auth disable). */
  disable(): void {
    this.enabled = false;
    this.tokens.clear();
  }

  assign(token: string, user: string, now: number): void {
    if (!this.enabled) return;
    this.sweep(now);
    this.tokens.set(token, { user, deadline: now + this.ttlMs });
  }

  /** The token's user (its TTL refreshed), or undefined when unknown or expired. */
  user(token: string, now: number): string | undefined {
    const t = this.tokens.get(token);
    if (!t) return undefined;
    if (now > t.deadline) {
      this.tokens.delete(token);
      return undefined;
    }
    t.deadline = now + this.ttlMs;
    return t.user;
  }

  invalidateUser(user: string): void {
    for (const [token, t] of this.tokens) if (t.user === user) this.tokens.delete(token);
  }

  get size(): number {
    return this.tokens.size;
  }

  /** Drops expired tokens, at most once a second (etcd's keeper runs every second). */
  private sweep(now: number): void {
    if (now - this.lastSweep < 1000) return;
    this.lastSweep = now;
    for (const [token, t] of this.tokens) if (now > t.deadline) this.tokens.delete(token);
  }
}

/** JWT options as etcd's --auth-token jwt,pub-key=…,priv-key=…,sign-method=…,ttl=… (keys as PEM text). */
export interface JwtOptions {
  /** RS256/384/512, PS256/384/512, ES256/384/512 (HS* too: the private key text is the shared secret). */
  readonly signMethod: string;
  /** Without it the member only verifies (etcd: verify-only). */
  readonly privateKeyPem?: string;
  readonly publicKeyPem: string;
  /** Token lifetime; default 300 s (etcd's 5m). */
  readonly ttlSeconds?: number;
}

export interface JwtClaims {
  readonly username: string;
  readonly revision: number;
}

type Key = Awaited<ReturnType<typeof importSPKI>> | Uint8Array;

/** etcd's tokenJWT over WebCrypto (jose). */
export class JwtTokens {
  private readonly ttlSeconds: number;
  private keys?: Promise<{ sign?: Key; verify: Key }>;

  private readonly options: JwtOptions;

  constructor(options: JwtOptions) {
    this.options = options;
    this.ttlSeconds = options.ttlSeconds && options.ttlSeconds > 0 ? options.ttlSeconds : 300;
  }

  private load(): Promise<{ sign?: Key; verify: Key }> {
    if (!this.keys) {
      const alg = this.options.signMethod;
      this.keys = (async () => {
        if (alg.startsWith('HS')) {
          const secret = new TextEncoder().encode(this.options.privateKeyPem ?? this.options.publicKeyPem);
          return { sign: secret, verify: secret };
        }
        const verify = await importSPKI(toSpkiPem(this.options.publicKeyPem), alg);
        const sign = this.options.privateKeyPem
          ? await importPKCS8(toPkcs8Pem(this.options.privateKeyPem), alg)
          : undefined;
        return { sign, verify };
      })();
    }
    return this.keys;
  }

  /** Checks the keys (call at startup to fail early on a bad PEM or sign method). */
  async ready(): Promise<void> {
    await this.load();
  }

  /** `nowMs`: the caller's clock. */
  async sign(claims: JwtClaims, nowMs: number): Promise<string> {
    const { sign } = await this.load();
    if (!sign) throw new Error('auth: token signing attempted with verify-only key');
    const now = Math.floor(nowMs / 1000);
    return new SignJWT({ username: claims.username, revision: claims.revision })
      .setProtectedHeader({ alg: this.options.signMethod })
      .setExpirationTime(now + this.ttlSeconds)
      .sign(sign);
  }

  /** The claims of a valid token (signature, algorithm, expiry), or undefined. */
  async verify(token: string, nowMs: number): Promise<JwtClaims | undefined> {
    try {
      const { verify } = await this.load();
      const { payload } = await jwtVerify(token, verify, {
        algorithms: [this.options.signMethod],
        currentDate: new Date(nowMs),
      });
      if (typeof payload.username !== 'string' || typeof payload.revision !== 'number') return undefined;
      return { username: payload.username, revision: payload.revision };
    } catch {
      return undefined;
    }
  }
}
