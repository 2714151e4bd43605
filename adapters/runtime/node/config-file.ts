// etcd's YAML configuration file (--config-file, or ETCD_CONFIG_FILE): the keys of etcd.conf.yml.sample, read with
// the `yaml` library and turned into the flags they stand for, so one parser (./config.ts) checks both. As in etcd,
// a configuration file replaces the command line and the ETCD_* variables: those are ignored (edgecd says so).
// The transport-security sections map to etcd's flags: `client-transport-security: { cert-file }` is --cert-file,
// `peer-transport-security: { cert-file }` is --peer-cert-file. Keys etcd knows that edgecd does not (discovery,
// proxy, pprof) and keys it does not know at all are listed to warn about (etcd's YAML reading skips unknown keys).

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { FLAG_SPECS, MORE_FLAGS } from './flags.ts';

/** etcd.conf.yml keys with no edgecd flag: accepted, warned about. */
const ETCD_ONLY = new Set([
  'discovery',
  'discovery-fallback',
  'discovery-proxy',
  'discovery-srv',
  'enable-pprof',
  'proxy',
  'proxy-failure-wait',
  'proxy-refresh-interval',
  'proxy-dial-timeout',
  'proxy-write-timeout',
  'proxy-read-timeout',
  'debug',
  'self-signed-cert-validity',
]);

const SECURITY: Record<string, string> = {
  'client-transport-security': '',
  'peer-transport-security': 'peer-',
};

export interface ConfigFileFlags {
  /** `--flag=value` for each key set (null and empty values leave the default). */
  readonly args: string[];
  /** Keys accepted but not acted on. */
  readonly ignored: string[];
}

/** Reads and maps a configuration file; throws with the file and the problem. */
export function readConfigFile(path: string): ConfigFileFlags {
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`--config-file ${path}: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return { args: [], ignored: [] };
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new Error(`--config-file ${path}: not a YAML mapping`);
  const args: string[] = [];
  const ignored: string[] = [];
  const known = (flag: string) => flag in FLAG_SPECS || flag in MORE_FLAGS;
  const add = (flag: string, value: unknown) => {
    if (value === null || value === undefined || value === '') return;
    if (!known(flag)) {
      ignored.push(ETCD_ONLY.has(flag) ? flag : `${flag} (unknown key)`);
      return;
    }
    const text = Array.isArray(value) ? value.map(String).join(',') : String(value);
    args.push(`--${flag}=${text}`);
  };
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    if (key in SECURITY) {
      if (value === null || value === undefined) continue;
      if (typeof value !== 'object' || Array.isArray(value)) {
        throw new Error(`--config-file ${path}: "${key}" must be a mapping`);
      }
      for (const [inner, v] of Object.entries(value as Record<string, unknown>))
        add(`${SECURITY[key]}${inner}`, v);
    } else add(key, value);
  }
  return { args, ignored };
}
