// Time, randomness and logging come in through these interfaces, never from globals: the simulator supplies a
// virtual clock and a seeded PRNG, and every run of a seed is then the same, bit for bit.

/** Milliseconds and timers. Real runtimes wrap Date.now/setTimeout; the simulator advances virtual time. */
export interface Clock {
  now(): number;
  setTimer(delayMs: number, callback: () => void): TimerHandle;
}

export interface TimerHandle {
  cancel(): void;
}

/** A source of randomness: `next()` returns a float in [0, 1). */
export interface Random {
  next(): number;
}

/** An integer in [0, n). */
export function randomInt(random: Random, n: number): number {
  return Math.floor(random.next() * n);
}

export type LogFields = Readonly<Record<string, unknown>>;

/** Structured logging: a message and fields, one event a call. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Randomness for real runtimes, from the platform's CSPRNG (Node, browsers and workerd all have it). */
export const cryptoRandom: Random = {
  next(): number {
    const buf = new Uint32Array(1);
    crypto.getRandomValues(buf);
    return buf[0] / 4294967296;
  },
};
