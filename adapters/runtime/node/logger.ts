// Structured logs for Node members: one JSON object a line on stderr (etcd's zap logger does the same).

import type { LogFields, Logger } from '../../../src/env.ts';

const LEVELS = { debug: 0, info: 1, warn: 2, error: 3 } as const;
type Level = keyof typeof LEVELS;

export function jsonLogger(
  level: string,
  fields: LogFields = {},
  out: NodeJS.WritableStream = process.stderr,
): Logger {
  const min = LEVELS[level as Level] ?? LEVELS.info;
  const write = (lvl: Level, msg: string, extra?: LogFields) => {
    if (LEVELS[lvl] < min) return;
    const line = { level: lvl, ts: new Date().toISOString(), msg, ...fields, ...extra };
    out.write(`${JSON.stringify(line, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
  };
}
