// Password hashing (etcd: golang.org/x/crypto/bcrypt). bcryptjs in pure JS, portable. Hashes carry the `$2a$`
// prefix Go writes (bcryptjs writes `$2b$`; the algorithm is the same), so a bbolt snapshot restored into a real
// etcd verifies the same passwords. The salt is random: hashing happens on the proposing member, before Raft.

import bcrypt from 'bcryptjs';

/** etcd --bcrypt-cost default (bcrypt.DefaultCost). */
export const DEFAULT_BCRYPT_COST = 10;

/** etcd's NewAuthStore: a cost outside bcrypt's 4..31 falls back to the default. */
export function validBcryptCost(cost: number | undefined): number {
  return cost !== undefined && Number.isInteger(cost) && cost >= 4 && cost <= 31 ? cost : DEFAULT_BCRYPT_COST;
}

export async function hashPassword(password: string, cost: number): Promise<string> {
  const salt = bcrypt.genSaltSync(validBcryptCost(cost)).replace(/^\$2b\$/, '$2a$');
  return bcrypt.hash(password, salt);
}

/** False also for '' or malformed hashes (a noPassword user, a dummy). */
export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!hash) return false;
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
}

/**
 * A hash no password matches in practice, at the configured cost: comparing against it for an unknown user takes
 * as long as for a known one, so timing does not tell which names exist.
 */
export class DummyHash {
  private hash?: Promise<string>;
  private readonly cost: number;

  constructor(cost: number) {
    this.cost = cost;
  }

  get(): Promise<string> {
    this.hash ??= hashPassword(`edgecd-dummy-${this.cost}-${Math.PI}`, this.cost);
    return this.hash;
  }
}
