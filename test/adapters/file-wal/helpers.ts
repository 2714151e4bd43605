// Helpers shared by the file WAL tests.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LogFields, Logger, Random } from '../../../src/env.ts';

/** mulberry32: a tiny seeded PRNG, so every failing run is reproduced from its seed. */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export interface LogEvent {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: LogFields;
}

/** A Logger that keeps what it is told, for asserting on warnings. */
export class RecordingLogger implements Logger {
  readonly events: LogEvent[] = [];
  debug(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'debug', message, fields });
  }
  info(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'info', message, fields });
  }
  warn(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'warn', message, fields });
  }
  error(message: string, fields: LogFields = {}): void {
    this.events.push({ level: 'error', message, fields });
  }
  warnings(): LogEvent[] {
    return this.events.filter((e) => e.level === 'warn');
  }
}

export async function tempDir(prefix = 'edgecd-wal-'): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}
