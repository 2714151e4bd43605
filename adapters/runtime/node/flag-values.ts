// How etcd's flags read their values: Go's strconv and time.ParseDuration syntaxes, with etcd's error texts.

export const list = (v: string) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export const int = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new Error(`invalid number "${v}"`);
  return n;
};

/**
 * Go's strconv.ParseUint(v, 0, 32), as etcd's flags.Uint32Value takes --max-concurrent-streams: decimal, 0x, 0o or 0b
 * prefixed, or octal after a leading 0, with Go's digit separators; etcd's error texts.
 */
export const uint32 = (v: string) => {
  const m =
    /^0[xX](_?[0-9a-fA-F])+$/.exec(v) ??
    /^0[bB](_?[01])+$/.exec(v) ??
    /^0[oO]?(_?[0-7])+$/.exec(v) ??
    /^(0|[1-9](_?[0-9])*)$/.exec(v);
  if (!m) throw new Error(`strconv.ParseUint: parsing "${v}": invalid syntax`);
  const digits = v.replaceAll('_', '');
  const n = BigInt(/^0[0-7]/.test(digits) ? `0o${digits.slice(1)}` : digits);
  if (n > 0xffffffffn) throw new Error(`strconv.ParseUint: parsing "${v}": value out of range`);
  return Number(n);
};

/** Go's strconv.ParseBool, as etcd's boolean flags take it. */
export const bool = (v: string) => {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw new Error(`invalid boolean value "${v}"`);
};

/** A Go duration (`5m`, `1h30m`, `300ms`, `10s`) in seconds. */
export function parseGoDuration(v: string): number {
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 1e-3, us: 1e-6, µs: 1e-6, ns: 1e-9 };
  if (v === '0') return 0;
  const re = /(\d+(?:\.\d*)?|\.\d+)(h|ms|m|s|us|µs|ns)/y;
  let total = 0;
  let i = 0;
  while (i < v.length) {
    re.lastIndex = i;
    const m = re.exec(v);
    if (!m) throw new Error(`time: invalid duration "${v}"`);
    total += Number(m[1]) * units[m[2]];
    i = re.lastIndex;
  }
  if (v.length === 0) throw new Error(`time: invalid duration "${v}"`);
  return total;
}
