// Who the caller is, and what it may do (etcd's AuthInfoFromCtx, isOpPermitted, IsAdminPermitted): every service
// asks here before it proposes or serves. The store it checks against is replicated (auth-store.ts); tokens are
// simple ones assigned through Raft or JWTs this member verifies.

import { ANONYMOUS, type AuthInfo, type AuthStore } from '../auth/auth-store.ts';
import { type JwtTokens, simpleTokenIndex } from '../auth/tokens.ts';
import type { Clock } from '../env.ts';
import { errors } from '../etcd/errors.ts';
import type { RequestOptions } from './node.ts';

export interface IdentityDeps {
  /** The replicated auth store (users, roles, the enabled flag, simple tokens). */
  readonly auth: () => AuthStore;
  readonly clock: Clock;
  readonly jwt?: JwtTokens;
  /** The index this member has applied. */
  readonly appliedIndex: () => number;
  /** Called after every Ready; returns an unsubscribe function. */
  readonly onChange: (listener: () => void) => () => void;
  readonly requestTimeoutMs: number;
}

export class Identity {
  private readonly deps: IdentityDeps;

  constructor(deps: IdentityDeps) {
    this.deps = deps;
  }

  get auth(): AuthStore {
    return this.deps.auth();
  }

  /** JWT tokens, when configured (--auth-token jwt,…); absent: simple tokens. */
  get jwt(): JwtTokens | undefined {
    return this.deps.jwt;
  }

  /**
   * The caller's identity (etcd's AuthInfoFromCtx, then AuthInfoFromTLS): a token (simple or JWT), else the client
   * certificate's CN, else none (user '', which every check refuses with "user name is empty").
   */
  async identify(opts: RequestOptions | undefined): Promise<AuthInfo> {
    const auth = this.auth;
    const token = opts?.token;
    const { clock, jwt } = this.deps;
    if (token) {
      const now = clock.now();
      if (jwt) {
        const claims = await jwt.verify(token, now);
        if (!claims) throw errors.invalidAuthToken();
        return { user: claims.username, revision: claims.revision };
      }
      // etcd's isValidSimpleToken: a token naming an index this member has not applied yet waits for it.
      const index = simpleTokenIndex(token);
      if (index === undefined) throw errors.invalidAuthToken();
      if (index > this.deps.appliedIndex() && !(await this.waitApplied(index, opts?.signal)))
        throw errors.invalidAuthToken();
      const user = auth.simpleTokens.user(token, clock.now());
      if (user === undefined) throw errors.invalidAuthToken();
      return { user, revision: auth.revision };
    }
    if (opts?.commonName) return { user: opts.commonName, revision: auth.revision };
    return ANONYMOUS;
  }

  /** Resolves true once this member has applied `index`; false after the request timeout or on abort. */
  private waitApplied(index: number, signal?: AbortSignal): Promise<boolean> {
    const { appliedIndex, onChange, clock, requestTimeoutMs } = this.deps;
    return new Promise((resolve) => {
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        unsubscribe();
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      const onAbort = () => finish(false);
      const unsubscribe = onChange(() => {
        if (appliedIndex() >= index) finish(true);
      });
      const timer = clock.setTimer(requestTimeoutMs, () => finish(false));
      signal?.addEventListener('abort', onAbort, { once: true });
      if (appliedIndex() >= index) finish(true);
    });
  }

  /** Serve-time root-role check (etcd's IsAdminPermitted). */
  async requireAdmin(opts: RequestOptions | undefined): Promise<AuthInfo> {
    const auth = this.auth;
    if (!auth.enabled) return ANONYMOUS;
    const info = await this.identify(opts);
    auth.checkAdmin(info);
    return info;
  }

  /**
   * etcd's requireAuthInfo (GHSA-q8m4-xhhv-38mg): with auth on, the caller must be someone — a valid token or a
   * client certificate CN — whatever its permissions; else `user name is empty`. Returns who it is.
   */
  async requireUser(opts: RequestOptions | undefined): Promise<AuthInfo> {
    if (!this.auth.enabled) return ANONYMOUS;
    const info = await this.identify(opts);
    if (info.user === '') throw errors.userEmpty();
    return info;
  }

  /** doSerialize's auth: READ permission on what a read serves, checked after the read barrier. */
  async checkRead(opts: RequestOptions | undefined, check: (info: AuthInfo) => void): Promise<void> {
    const auth = this.auth;
    if (!auth.enabled) return;
    check(await this.identify(opts));
  }
}
