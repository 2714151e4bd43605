// Console logging for members in Durable Objects, with a level and the member's name on each line.

import type { LogFields, Logger } from '../../../src/env.ts';
import type { ClusterConfig } from './config.ts';

export function consoleLogger(level: ClusterConfig['logLevel'], member: string): Logger {
  const rank = { debug: 0, info: 1, warn: 2, error: 3 } as const;
  const log =
    (l: keyof typeof rank, out: (...args: unknown[]) => void) => (message: string, fields?: LogFields) => {
      if (rank[l] < rank[level]) return;
      out(`[edgecd ${member}] ${message}`, fields ? JSON.stringify(fields, bigintJson) : '');
    };
  return {
    debug: log('debug', console.debug),
    info: log('info', console.info),
    warn: log('warn', console.warn),
    error: log('error', console.error),
  };
}

function bigintJson(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
